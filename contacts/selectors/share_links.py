"""Share links as their tokens reach the portal."""

from django.db.models import QuerySet

from contacts.models import ShareLink
from core.prepared import prepared
from core.tokens import token_hash


@prepared
def _share_link(*, digest: str) -> QuerySet:
    # ``ShareLink.token_q`` by its digest: compiled once per connection (the bind path, bench/bind.py).
    return ShareLink.objects.select_related("student__school", "issued_by").filter(token_hash=digest).order_by()[:1]


def share_link_get(*, token: str) -> ShareLink | None:
    """The share link behind a raw token (whatever its state), with student, school and issuer, or None."""
    found = _share_link(digest=token_hash(token))
    return found[0] if found else None
