"""Share links as their tokens reach the portal."""

from contacts.models import ShareLink


def share_link_get(*, token: str) -> ShareLink | None:
    """The share link behind a raw token (whatever its state), with student, school and issuer, or None."""
    return ShareLink.objects.select_related("student__school", "issued_by").filter(ShareLink.token_q(token)).first()
