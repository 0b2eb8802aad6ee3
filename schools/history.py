"""Audit rows read as Chinese sentences ("张老师 移除了 王子涵的爸爸;原因:…"), one per action
(``AUDIT_SENTENCES``); the admin shows them with the row's JSON behind a details toggle.

People are named as a school names them: a staff user by name (or username), a parent as the
student's relation ("王子涵的妈妈") from the row's data or from ``people`` (openid → that name, e.g.
the student's current contacts: ``contacts.selectors.contacts.contact_names``); never by openid.
"""

from collections.abc import Mapping

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.sentences import Sentences, with_reason
from schools.models import AuditLog

A = AuditLog.Action

AUDIT_SENTENCES = Sentences(
    {
        A.ADMIN_BOUND: gettext_lazy("%(actor)s bound %(student)s as its admin contact"),
        A.CONTACT_BOUND: gettext_lazy("%(actor)s bound %(student)s through a share link"),
        A.CONTACT_DELETED: gettext_lazy("%(actor)s deleted %(contact)s"),
        A.CONTACT_UNBOUND: gettext_lazy("%(actor)s unbound itself from %(student)s"),
        A.ADMIN_TRANSFERRED: gettext_lazy(
            "%(actor)s transferred the admin role from %(from_contact)s to %(to_contact)s"
        ),
        A.SHARE_LINK_CREATED: gettext_lazy("%(actor)s created a share link for %(student)s"),
        A.VOIP_SCOPE_CHANGED: gettext_lazy("%(actor)s: call permission (scope.voip) %(granted)s"),
        A.API_SECRET_ISSUED: gettext_lazy("%(actor)s issued a new secret for API client %(appid)s"),
        A.API_CLIENT_GRANTED: gettext_lazy("%(actor)s allowed API client %(appid)s to serve %(school)s"),
        A.API_CLIENT_UNGRANTED: gettext_lazy("%(actor)s no longer allows API client %(appid)s to serve %(school)s"),
        A.DEVICE_GROUP_CREATED: gettext_lazy("%(actor)s created device group %(group_id)s at WeChat"),
        A.DEVICE_GROUP_CHANGED: gettext_lazy("%(actor)s moved device %(sn)s from group %(from)s to group %(to)s"),
        A.DEVICE_GROUP_RECONCILED: gettext_lazy("%(actor)s aligned device group %(group_id)s with WeChat"),
        A.CALL_ORDER_SET: gettext_lazy("%(actor)s set the order in which %(student)s calls its contacts"),
        A.CLAIM_CODE_ISSUED: gettext_lazy("%(actor)s issued a claim code for %(student)s"),
        A.STAFF_CONTACT_REMOVED: gettext_lazy("%(actor)s removed %(contact)s"),
        A.STAFF_ADMIN_TRANSFERRED: gettext_lazy(
            "%(actor)s asked to make %(to_contact)s the admin contact instead of %(from_contact)s"
        ),
        A.STAFF_SHARE_LINKS_REVOKED: gettext_lazy("%(actor)s revoked %(revoked)s share links of %(student)s"),
        A.STAFF_STUDENT_DEACTIVATED: gettext_lazy("%(actor)s deactivated %(student)s"),
        A.CONTACT_REMOVAL_REPORTED: gettext_lazy("%(actor)s deleted %(contact)s at WeChat"),
        A.ADMIN_TRANSFER_REPORTED: gettext_lazy("%(actor)s handed the admin role to %(to_contact)s"),
        A.BINDING_RELEASED: gettext_lazy("%(actor)s did not complete binding %(student)s at WeChat: place released"),
        A.WECHAT_CONTACT_CONFIRMED: gettext_lazy("WeChat confirmed %(contact)s"),
        A.WECHAT_CONTACT_FOUND: gettext_lazy("WeChat lists %(contact)s: recorded here"),
        A.WECHAT_CONTACT_MISSING: gettext_lazy("WeChat no longer lists %(contact)s: no longer served"),
        A.WECHAT_CONTACT_REMOVED: gettext_lazy("WeChat completed the removal of %(contact)s"),
        A.WECHAT_ROLE_ALIGNED: gettext_lazy("The role of %(contact)s now follows WeChat"),
        A.WECHAT_OVER_LIMIT: gettext_lazy(
            "WeChat lists %(contacts)s contacts of %(student)s, more than the school's limit of %(limit)s"
        ),
        A.WEBHOOK_SECRET_ISSUED: gettext_lazy("%(actor)s issued a new signing secret for a webhook receiver"),
        A.WEBHOOK_ENDPOINT_CHANGED: gettext_lazy("%(actor)s changed a webhook receiver"),
        A.WEBHOOK_REDELIVERED: gettext_lazy("%(actor)s sent %(deliveries_count)s webhook deliveries again"),
    },
    fallback=gettext_lazy("%(actor)s: %(kind)s"),
)


def staff_name(user) -> str:
    """A staff user as people call them: the name (family name first, as in Chinese), else the username."""
    return f"{user.last_name}{user.first_name}".strip() or user.get_username()


def contact_name(student_name: str, relation: str) -> str:
    """A contact as the school calls it: 王子涵的妈妈; 王子涵的联系人 without a relation."""
    if not student_name:
        return relation or _("a parent")
    if relation:
        return _("%(student)s's %(relation)s") % {"student": student_name, "relation": relation}
    return _("a contact of %(student)s") % {"student": student_name}


def audit_sentence(row: AuditLog, *, people: Mapping[str, str] | None = None) -> str:
    """The row as a sentence in the active language, its reason appended; never raises.

    ``people``: openid → name (``contact_name``) of whoever the row's data does not name itself.
    Reads ``row.student``, ``row.school`` and ``row.actor_user`` (select them with the rows).
    """
    people = people or {}
    data = row.data if isinstance(row.data, dict) else {}
    student = row.student.name if row.student_id else ""
    relation = str(data.get("relation") or "")
    # The row's data names the contact it is about (data["openid"]), or, when it has no such openid,
    # the acting parent itself (a binding, leaving): its relation is then the actor's.
    subject = data.get("openid")
    contact = people.get(subject) if subject else None
    contact = contact or contact_name(student, relation)
    if row.actor_user_id:
        actor = staff_name(row.actor_user)
    elif row.actor_openid:
        actor = people.get(row.actor_openid) or (
            contact_name(student, relation) if not subject and relation else _("a parent")
        )
    else:
        actor = _("the system")
    values = {
        key: len(value) if isinstance(value, list) else value
        for key, value in data.items()
        if isinstance(value, str | int | float | list)
    }
    values |= {f"{key}_count": len(value) for key, value in data.items() if isinstance(value, list)}
    values |= {
        "actor": actor,
        "student": student or _("a student"),
        "school": row.school.name if row.school_id else "—",
        "contact": contact,
        "from_contact": people.get(data.get("from") or "") or (_("a contact") if data.get("from") else _("nobody")),
        "to_contact": people.get(data.get("to") or "") or _("a contact"),
        "granted": _("granted") if data.get("granted") else _("withdrawn"),
    }
    sentence = AUDIT_SENTENCES.render(row.action, values, kind_label=_action_label(row.action))
    return with_reason(sentence, row.reason)


def _action_label(action: str) -> str:
    try:
        return str(A(action).label)
    except ValueError:
        return action
