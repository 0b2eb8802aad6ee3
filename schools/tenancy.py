"""Which school's rows a staff user may see and change: the one tenancy helper.

A staff user belongs to one school (``StaffMembership``) and sees only its rows; a superuser
sees every school; a staff user without a membership sees nothing. Every admin, inline, list
filter, staff service and the dashboard scope their querysets with ``scoped`` /
``staff_scoped`` (on top of ``SchoolScopedQuerySet.for_school``), and ask ``staff_may_change``
before a write. A row of another school answers "not found", never "forbidden".

Every staff-facing service checks its acting user itself (``staff_check``, ``staff_check_platform``),
so that the admin's UI is not the only gate: a viewer may only read, a school administrator acts
on its school, a platform superuser on all. ``actor_user=None`` is the system (beat tasks, the
demo loader): only code calls a service that way, never a request.
"""

from collections.abc import Iterable

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from core.errors import Forbidden, NotFound
from schools.models import StaffMembership

SYSTEM = None  # ``actor_user`` of a service run by the portal itself (a beat task, the demo)

ALL_SCHOOLS = None  # a superuser's scope
NO_SCHOOL = -1  # a staff user without a membership: no row matches


def staff_membership(user) -> StaffMembership | None:
    """The user's membership (cached on the user object), None for superusers and non-members."""
    if user is None or not user.is_authenticated or user.is_superuser:
        return None
    return getattr(user, "staff_membership", None)  # Django caches the reverse one-to-one, None included


def staff_school_id(user) -> int | None:
    """The school a staff user sees: ``ALL_SCHOOLS`` (None) for superusers, ``NO_SCHOOL`` without a membership."""
    if user is not None and user.is_authenticated and user.is_superuser:
        return ALL_SCHOOLS
    membership = staff_membership(user)
    return membership.school_id if membership else NO_SCHOOL


def scoped(queryset: QuerySet, school_id: int | None) -> QuerySet:
    """``queryset`` restricted to one school; ``ALL_SCHOOLS`` (None) leaves it whole."""
    return queryset if school_id is ALL_SCHOOLS else queryset.for_school(school_id)


def staff_scoped(queryset: QuerySet, user) -> QuerySet:
    """``queryset`` restricted to what ``user`` may see (``scoped`` at ``staff_school_id(user)``)."""
    return scoped(queryset, staff_school_id(user))


def staff_is_viewer(user) -> bool:
    """A read-only viewer: may look at its school's rows, never change them."""
    membership = staff_membership(user)
    return membership is not None and membership.role == StaffMembership.Role.VIEWER


def staff_may_change(user) -> bool:
    """Superusers and school administrators may change rows (of the school they see)."""
    if user is not None and user.is_authenticated and user.is_superuser:
        return True
    membership = staff_membership(user)
    return membership is not None and membership.role == StaffMembership.Role.ADMIN


def staff_check(user, *, school_ids: Iterable[int], change: bool = True) -> None:
    """Raise unless ``user`` may act on every school of ``school_ids`` (``SYSTEM`` may).

    ``NotFound`` (field ``school``) when one is not the user's school, or the user has none: the
    rows of another school do not exist for it. ``Forbidden`` (code ``read_only``) when ``change``
    and the user is a read-only viewer.
    """
    if user is SYSTEM:
        return
    school_id = staff_school_id(user)
    if school_id is not ALL_SCHOOLS and any(other != school_id for other in set(school_ids)):
        raise NotFound(_("No such object in your school."), field="school")
    if change and not staff_may_change(user):
        raise Forbidden(_("Read-only staff cannot change anything."), code="read_only")


def staff_check_platform(user) -> None:
    """Raise ``Forbidden`` (code ``platform_only``) unless ``user`` is a platform superuser (or ``SYSTEM``):
    for changes that reach beyond one school (a vendor client shared by several schools)."""
    if user is not SYSTEM and not (user.is_authenticated and user.is_superuser):
        raise Forbidden(_("Only the platform operator may do this."), code="platform_only")
