"""Celery tasks of the calls app (found by Celery's autodiscovery); each only calls a service."""

from celery import shared_task

from calls.services.invariants import invariant_check_run


@shared_task(name="calls.tasks.check_invariants")
def check_invariants() -> int:
    """Beat, daily at 04:00: check every invariant over the whole database and store the report for
    the platform's staff (``invariant_check_run``); returns how many problems it found."""
    return invariant_check_run().problems
