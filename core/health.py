"""Liveness and readiness probes (issue 11 §3), on django-health-check.

``GET /health/live``: the process answers (no dependency is touched: a load balancer or
orchestrator restarts a web process only when it no longer answers at all).
``GET /health/ready``: PostgreSQL (``SELECT 1``), the cache (a set and a get) and the Celery broker
(a connection) each answer within ``timeout`` (5 s); 200 when all do, 500 naming the failing check
otherwise (HTML, or JSON with ``Accept: application/json`` / ``?format=json``). A web process that
is not ready is taken out of the load balancer, not restarted.
"""

import dataclasses
import datetime

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from health_check.base import HealthCheck
from health_check.checks import Cache, Database
from health_check.exceptions import ServiceUnavailable
from kombu import Connection


@dataclasses.dataclass
class Broker(HealthCheck):
    """The Celery broker (``CELERY_BROKER_URL``, any kombu transport) accepts a connection.

    Raises ``ServiceUnavailable("Broker unreachable")`` when it does not within ``timeout``; the
    URL (which may carry a password) is never part of the report.
    """

    timeout: datetime.timedelta = dataclasses.field(default=datetime.timedelta(seconds=3), repr=False)

    def run(self) -> None:
        seconds = self.timeout.total_seconds()
        try:
            with Connection(settings.CELERY_BROKER_URL, connect_timeout=seconds) as connection:
                connection.ensure_connection(max_retries=1, timeout=seconds)
        except Exception as exc:  # kombu raises its own and socket errors alike
            raise ServiceUnavailable("Broker unreachable") from exc


READINESS_CHECKS = (Database, Cache, Broker)


@never_cache
def live(request: HttpRequest) -> JsonResponse:
    """Liveness: ``{"status": "ok"}`` with 200 whenever the process can answer at all."""
    return JsonResponse({"status": "ok"})
