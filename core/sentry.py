"""Optional error reporting to Sentry (issue 11 §3): on only when ``SENTRY_DSN`` is set (production).

What leaves the portal is the exception, its stack (without local variables) and the request's
method and path with credentials redacted (core.logging.redact); never cookies, headers, bodies,
query values, the environment or a user's address.
"""

import sentry_sdk
import structlog
from sentry_sdk.integrations.celery import CeleryIntegration
from sentry_sdk.integrations.django import DjangoIntegration

from core.logging import redact


def before_send(event: dict, hint: dict) -> dict:
    """Sentry's ``before_send``: the event stripped of what could carry a secret or a parent's data,
    tagged with the request's ``request_id`` (the same as in the logs and ``X-Request-ID``)."""
    request = event.get("request")
    if request:
        event["request"] = {
            key: redact(value) if isinstance(value, str) else value
            for key, value in request.items()
            if key in ("method", "url")
        }
    event.pop("user", None)
    request_id = structlog.contextvars.get_contextvars().get("request_id")
    if request_id:
        event.setdefault("tags", {})["request_id"] = request_id
    return event


def sentry_init(*, dsn: str, environment: str, traces_sample_rate: float = 0.0) -> None:
    """Start the Sentry client for Django and Celery with ``before_send`` and no personal data."""
    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        send_default_pii=False,
        include_local_variables=False,
        traces_sample_rate=traces_sample_rate,
        before_send=before_send,
    )
