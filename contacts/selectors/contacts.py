"""A parent's contacts and students, and a school's contact lists for its vendor (seed 003 §2.2)."""

from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from contacts.models import Contact, Parent
from core.errors import NotFound
from core.prepared import prepared
from core.validators import is_wechat_id
from schools.history import contact_name
from schools.models import ApiClient, Student


def contact_access(*, parent: Parent, user_id: str) -> Contact:
    """The caller's own contact row for the active student ``user_id``, with student, school and parent.

    Raises ``NotFound`` (field ``user_id``) when the student is unknown, inactive, or the caller is
    not its contact (or has left it, its removal pending at WeChat): all answer alike (Zulip's
    access helpers).
    """
    contact = None
    if is_wechat_id(user_id):
        contact = (
            Contact.objects.of_active_students()
            .remaining()
            .select_related("student__school", "parent")
            .filter(parent=parent, student__user_id=user_id)
            .first()
        )
    if contact is None:
        raise NotFound(_("No such student among yours."), field="user_id")
    return contact


def contact_list_for_parent(*, parent: Parent, user_id: str) -> dict:
    """getVoipBindContactList (seed 003 §2.2) → ``{user_id, is_ad, openid_list, contacts}``.

    The admin sees every openid bound to the student, its own included; an ordinary contact only
    its own. ``contacts`` adds role, relation and binding time for the same openids. Two queries.
    """
    own = contact_access(parent=parent, user_id=user_id)
    if own.is_admin:
        rows = list(Contact.objects.filter(student_id=own.student_id).select_related("parent").in_list_order())
    else:
        rows = [own]
    return {
        "user_id": own.student.user_id,
        "is_ad": int(own.is_admin),
        "openid_list": [c.parent.openid for c in rows],
        "contacts": rows,
    }


def parent_students(*, parent: Parent) -> list[Contact]:
    """The caller's contact rows of active students (not those it left), with student and school; one query."""
    return list(
        Contact.objects.of_active_students()
        .remaining()
        .select_related("student__school")
        .filter(parent=parent)
        .order_by("student__name", "student_id")
    )


@prepared
def _served_contacts(*, school_ids: list[int], user_id: str) -> QuerySet:
    """``(openid, role)`` of the served contacts of the active student ``user_id`` of ``school_ids``."""
    student = Student.objects.active().filter(school_id__in=school_ids, user_id=user_id)
    contacts = Contact.objects.served().filter(student__in=student).in_list_order()
    return contacts.values_list("parent__openid", "role")


def voip_contact_list(*, client: ApiClient, user_id: str) -> list[dict]:
    """getvoipcontactlist for a vendor's API client → ``[{open_id, role}]`` of the contacts devices
    are served (``ContactQuerySet.served``), admin first; ``[]`` when the student has none, and
    alike when it is unknown, inactive or of a school the client is not granted (REFERENCE.md §5,
    seed 003 §2.2: WeChat answers errcode 1 for both). One query.
    """
    rows = _served_contacts(school_ids=client.school_id_list(), user_id=user_id)
    return [{"open_id": openid, "role": role} for openid, role in rows]


def parent_school_ids(*, parent: Parent):
    """The schools of ``parent``: where it is a contact of an active student (a subquery of school ids).

    A parent may name only these schools' devices and groups (snTicket, authorizations).
    """
    return Contact.objects.of_active_students().filter(parent=parent).values("student__school_id")


def parent_of_school(*, openid: str, school_id: int) -> Parent | None:
    """The parent ``openid`` if it is a contact of a student of the school ``school_id``, else None:
    what a vendor of that school may name (a call's listener), never another school's parent."""
    return Parent.objects.filter(openid=openid, contacts__student__school_id=school_id).distinct().first()


def pending_actions(*, parent: Parent) -> list[dict]:
    """What the caller, as admin contact, has to carry out at WeChat with the plugin (seed 003 §2.3,
    §2.4): ``[{user_id, delete_openid_list, new_admin_openid}]`` for each active student where a
    removal (by staff, or a contact that left) or an admin transfer requested by staff waits.
    ``new_admin_openid`` is null when no transfer waits. The admin's own removal is not listed:
    WeChat lets no admin delete itself (§2.3); it stays a difference for staff. One query.
    """
    students = Contact.objects.of_active_students().filter(parent=parent, role=Contact.Role.ADMIN).values("student_id")
    waiting = (
        Contact.objects.filter(student_id__in=students)
        .filter(Q(state=Contact.State.REMOVING) | Q(admin_requested_at__isnull=False))
        .exclude(parent=parent)
        .select_related("student", "parent")
        .order_by("student__user_id", "bound_at", "id")
    )
    actions: dict[str, dict] = {}
    for contact in waiting:
        entry = actions.setdefault(
            contact.student.user_id,
            {"user_id": contact.student.user_id, "delete_openid_list": [], "new_admin_openid": None},
        )
        if contact.state == Contact.State.REMOVING:
            entry["delete_openid_list"].append(contact.parent.openid)
        elif contact.admin_requested_at is not None:
            entry["new_admin_openid"] = contact.parent.openid
    return list(actions.values())


def contact_names(*, student: Student) -> dict[str, str]:
    """openid → how the school names each of ``student``'s contacts (王子涵的妈妈:
    ``schools.history.contact_name``), to name them in its history. One query."""
    relations = Contact.objects.filter(student=student).values_list("parent__openid", "relation")
    return {openid: contact_name(student.name, relation) for openid, relation in relations}
