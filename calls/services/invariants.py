"""Running every app's invariants over the whole database and keeping the report (issue 10 §4).

The ``check_invariants`` command prints what breaks; the beat task (daily, ``calls.tasks``) stores
each run as an ``InvariantCheckRun`` that platform staff read in the admin.
"""

import logging

from django.utils import timezone

from calls.invariants import ALL_INVARIANTS
from calls.models import InvariantCheckRun
from schools.invariants import LINES_MAX, InvariantResult, invariants_check

logger = logging.getLogger(__name__)


def invariants_check_all(*, limit: int = LINES_MAX) -> list[InvariantResult]:
    """Every invariant of ``calls.invariants.ALL_INVARIANTS``, checked now: one result each, in order,
    each with at most ``limit`` problem lines. Reads only."""
    return invariants_check(ALL_INVARIANTS, limit=limit)


def invariant_check_run(*, limit: int = LINES_MAX) -> InvariantCheckRun:
    """Check every invariant and store the report (``InvariantCheckRun``: times, problems in all, one
    entry per invariant). Logs a warning naming the invariants broken, if any. No transaction: the
    checks only read, and a run that fails half-way leaves no report."""
    started_at = timezone.now()
    results = invariants_check_all(limit=limit)
    problems = sum(result.total for result in results)
    run = InvariantCheckRun.objects.create(
        started_at=started_at,
        finished_at=timezone.now(),
        problems=problems,
        details=[result.as_dict() for result in results],
    )
    if problems:
        broken = ", ".join(f"{r.code} ({r.total})" for r in results if r.total)
        logger.warning("invariant check %s: %d problem(s): %s", run.pk, problems, broken)
    return run
