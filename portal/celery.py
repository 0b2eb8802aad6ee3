"""The Celery app: reads ``CELERY_*`` settings and autodiscovers ``tasks.py`` of every app.

Production settings unless DJANGO_SETTINGS_MODULE says otherwise (``make run`` sets the local ones).
"""

import logging
import logging.config
import os

from celery import Celery, signals
from django_structlog.celery.steps import DjangoStructLogInitStep

from core.process_lock import LockHeld, process_lock_acquire

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.production")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# A task's log lines carry task_id and the request_id of the request that sent it (django-structlog).
app.steps["worker"].add(DjangoStructLogInitStep)


@signals.setup_logging.connect
def portal_logging(**kwargs):
    """Workers and beat log through the portal's LOGGING (core.logging: structured, JSON in
    production, secrets redacted) instead of Celery's own handlers."""
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)


BEAT_LOCK = "celery-beat"


@signals.beat_init.connect
def only_one_beat(sender=None, **kwargs):
    """Exactly one beat runs (``core.process_lock``): a second one, started by mistake or by a
    second replica, exits at once (status 1) instead of scheduling every periodic task twice."""
    try:
        process_lock_acquire(BEAT_LOCK)
    except LockHeld:
        logging.getLogger(__name__).error("Another Celery beat is running (lock %r): this one exits.", BEAT_LOCK)
        raise SystemExit(1) from None
