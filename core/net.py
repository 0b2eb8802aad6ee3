"""The client's address, the same way for every limit (DRF's throttles, django-axes).

``TRUSTED_PROXY_COUNT`` proxies in front of the portal each append the address they saw to
``X-Forwarded-For``: the client is the one that many from the right. With none (the default),
``REMOTE_ADDR``: whatever a client writes in ``X-Forwarded-For`` is ignored.
"""

from django.conf import settings


def client_ip(request) -> str:
    """The address of the client of ``request`` (``django.http.HttpRequest``)."""
    proxies = settings.TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies and forwarded:
        addresses = [a.strip() for a in forwarded.split(",") if a.strip()]
        if addresses:
            return addresses[-min(proxies, len(addresses))]
    return request.META.get("REMOTE_ADDR", "")
