"""Random secrets and how they are stored: only a SHA-256 digest ever reaches the database.

Every secret here is ≥ 128 random bits (``secrets.token_urlsafe``), so a fast digest is enough;
a slow password hash would add nothing but latency. Used for API client secrets, access tokens,
parents' bearer tokens and share-link tokens.
"""

import hashlib
import secrets

TOKEN_BYTES = 32  # 256 bits


def token_new(*, nbytes: int = TOKEN_BYTES) -> str:
    """A URL-safe random token of ``nbytes`` random bytes (43 characters for 32 bytes)."""
    return secrets.token_urlsafe(nbytes)


def token_hash(raw: str) -> str:
    """The 64-character hex SHA-256 digest under which ``raw`` is stored and looked up."""
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()
