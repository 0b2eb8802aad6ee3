"""Share links: what an admin contact shares so that other parents can bind (seed 003 §2.1).

A link binds parents until it expires (school setting ``share_link_ttl``), is revoked, or its
issuer stops being the student's admin. Its token (256 random bits) is shown once and stored
as a SHA-256 digest.
"""

from collections import Counter
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from contacts.models import Parent, ShareLink
from contacts.selectors.contacts import contact_access
from core.batching import update_in_batches
from core.errors import Forbidden
from schools.models import AuditLog
from schools.services.audit import audit_log_record


@transaction.atomic
def share_link_create(
    *, parent: Parent, user_id: str, plugin_path: str = "", user_name: str = "", user_avatar: str = ""
) -> tuple[ShareLink, str]:
    """getBindContactPath (seed 003 §2.1): an admin-only link for other parents to bind.

    ``plugin_path`` is the plugin's bind page that ``getBindContactPath`` gave the admin's
    mini-program; the bind page opens it once the portal allows the binding.

    Returns ``(link, token)``; the token is shown once. The link expires after the school's
    ``share_link_ttl`` hours. Raises ``NotFound`` (field ``user_id``) when the caller is not a
    contact of the student, ``Forbidden`` (code ``not_admin``) when it is not the admin.
    """
    own = contact_access(parent=parent, user_id=user_id)
    if not own.is_admin:
        raise Forbidden(_("Only the admin contact may share a binding link."), code="not_admin")
    student = own.student
    now = timezone.now()
    link, raw = ShareLink.issue(
        student=student,
        issued_by=parent,
        plugin_path=plugin_path,
        user_name=user_name or student.name,
        user_avatar=user_avatar or student.avatar_url,
        created_at=now,
        expires_at=now + timedelta(hours=student.school.share_link_ttl),
    )
    audit_log_record(
        action=AuditLog.Action.SHARE_LINK_CREATED,
        student=student,
        actor_openid=parent.openid,
        data={"share_link": link.pk},
    )
    return link, raw


def share_links_expire(*, now: datetime | None = None, batch_size: int | None = None) -> int:
    """Mark active share links past ``expires_at`` (``ShareLink.objects.past_expiry``) as expired; returns how many.

    In batches of ``batch_size`` links (default ``settings.SHARE_LINK_EXPIRY_BATCH``), each its
    own short transaction, in ``expires_at`` order (``core.batching.update_in_batches``), so that a
    revocation or an admin transfer waits at most one batch, not the whole sweep. A link locked by
    a concurrent bind, revocation or transfer is skipped; a later run expires it. ``now`` (default:
    the time of the call) is fixed for the whole run. Batches commit without waiting for the disk
    (``synchronous_commit=False``): a crash may leave the last ones undone, and since a link past
    ``expires_at`` binds nobody whatever its state, the next run simply does them again. Idempotent
    and safe when two runs overlap: each link is counted by the run that changed it. Binding never
    depends on it (``share_link_bind`` compares ``expires_at`` itself).
    """
    return update_in_batches(
        ShareLink.objects.past_expiry(now or timezone.now()),
        keys=("expires_at", "pk"),
        batch_size=batch_size or settings.SHARE_LINK_EXPIRY_BATCH,
        synchronous_commit=False,  # a batch lost in a crash is expired by the next run
        state=ShareLink.State.EXPIRED,
    )


def share_links_revoke(*, student_ids, issued_by_id: int | None = None, now: datetime | None = None) -> Counter:
    """Revoke the active share links of ``student_ids`` (only those ``issued_by_id`` issued, when given).

    The one revocation rule: an admin handing over or losing its role, staff, deactivation.
    Call inside the change's transaction, under the students' locks. Returns how many links of
    each student were revoked (``Counter``: student id → links; ``sum(…values())`` for all).
    """
    links = ShareLink.objects.active().filter(student_id__in=list(student_ids))
    if issued_by_id is not None:
        links = links.filter(issued_by_id=issued_by_id)
    revoked = Counter(
        dict(links.order_by().values("student_id").annotate(n=Count("id")).values_list("student_id", "n"))
    )
    if revoked:
        links.update(state=ShareLink.State.REVOKED, revoked_at=now or timezone.now())
    return revoked
