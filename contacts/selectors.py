"""Reads of the contacts app. Each takes the acting parent or API client and sees only what it may."""

from django.db.models import Prefetch
from django.utils.translation import gettext_lazy as _

from portal.errors import NotFound
from schools.models import Student
from schools.validators import is_wechat_id

from .models import Contact, Parent


def contact_access(*, parent: Parent, user_id: str) -> Contact:
    """The caller's own contact row for the active student ``user_id``.

    Raises ``NotFound`` (field ``user_id``) when the student is unknown, inactive, or the caller is
    not its contact: all three answer alike (Zulip's access helpers).
    """
    contact = (
        Contact.objects.select_related("student__school", "parent")
        .filter(parent=parent, student__user_id=user_id, student__is_active=True, student__school__is_active=True)
        .first()
        if is_wechat_id(user_id)
        else None
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
        rows = list(
            Contact.objects.filter(student_id=own.student_id)
            .select_related("parent")
            .order_by("-role", "bound_at", "id")
        )
    else:
        rows = [own]
    return {
        "user_id": own.student.user_id,
        "is_ad": int(own.is_admin),
        "openid_list": [c.parent.openid for c in rows],
        "contacts": rows,
    }


def parent_students(*, parent: Parent) -> list[Contact]:
    """The caller's contact rows of active students, with student and school; one query."""
    return list(
        Contact.objects.select_related("student__school")
        .filter(parent=parent, student__is_active=True, student__school__is_active=True)
        .order_by("student__name", "student_id")
    )


def voip_contact_list(*, school_id: int, user_id: str) -> list[dict] | None:
    """getvoipcontactlist for one school's API client → ``[{open_id, role}]``, None for an unknown student.

    A student of another school is unknown to the client (REFERENCE.md §5, seed 003 §2.2). Two queries.
    """
    student = (
        Student.objects.filter(user_id=user_id, school_id=school_id, is_active=True)
        .prefetch_related(
            Prefetch("contacts", queryset=Contact.objects.select_related("parent").order_by("-role", "bound_at", "id"))
        )
        .first()
    )
    if student is None:
        return None
    return [{"open_id": c.parent.openid, "role": c.role} for c in student.contacts.all()]
