"""Pages of the parents' mini-program that the portal hands out (paths set in settings)."""

from urllib.parse import urlencode

from django.conf import settings


def share_link_path(token: str) -> str:
    """The page that carries a share token (getBindContactPath's path, used in ``onShareAppMessage``)."""
    return f"{settings.SHARE_LINK_PAGE_PATH}?token={token}"


def admin_bind_path(user_id: str) -> str:
    """The admin-binding page of a student (printed as a QR code on its claim-code letter)."""
    return f"{settings.ADMIN_BIND_PAGE_PATH}?{urlencode({'user_id': user_id})}"
