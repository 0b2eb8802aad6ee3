"""The Celery app: reads ``CELERY_*`` settings and autodiscovers ``tasks.py`` of every app.

Production settings unless DJANGO_SETTINGS_MODULE says otherwise (``make run`` sets the local ones).
"""

import logging
import os

from celery import Celery, signals

from core.logging import RedactSecretsFilter
from core.process_lock import LockHeld, process_lock_acquire

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.production")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.after_setup_logger.connect
@signals.after_setup_task_logger.connect
def redact_secrets_in_worker_logs(logger, **kwargs):
    """A worker replaces the root logger's handlers with its own (worker_hijack_root_logger): they
    redact secrets too, as LOGGING's do (core.logging)."""
    for handler in logger.handlers:
        if not any(isinstance(f, RedactSecretsFilter) for f in handler.filters):
            handler.addFilter(RedactSecretsFilter())


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
