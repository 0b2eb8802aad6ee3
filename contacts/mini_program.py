"""Pages of the parents' mini-program that the portal hands out (paths set in settings)."""

from django.conf import settings


def share_link_path(token: str) -> str:
    """The page that carries a share token (getBindContactPath's path, used in ``onShareAppMessage``)."""
    return f"{settings.SHARE_LINK_PAGE_PATH}?token={token}"


def admin_bind_page() -> str:
    """The admin-binding page as getwxacodeunlimit's ``page`` wants it: no leading ``/``, no query
    (the student travels in the code's ``scene``), e.g. ``pages/bind-admin/index``."""
    return settings.ADMIN_BIND_PAGE_PATH.split("?", 1)[0].lstrip("/")
