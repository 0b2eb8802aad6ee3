"""Invariants an operator can check over the whole database, and the schools app's own (issue 10 §4).

An ``Invariant`` is one rule of the domain that must hold whatever happened: a ``find`` function
returns what breaks it (``Breaks``: how many rows in all, and one readable line for each of the
first ``limit``). Each app keeps its invariants beside its rules (``schools.invariants``,
``contacts.invariants``, ``calls.invariants``), each in its layer and each asking the same
QuerySet methods and selectors the services and reads use, never a copied filter; the highest
layer lists them all (``calls.invariants.ALL_INVARIANTS``) for the ``check_invariants`` command and
beat task. ``invariants_check`` runs a list of them; the property tests of the binding services
(``portal/tests/test_binding_state_machine.py``) assert them after every step.

The schools app's invariant: every audit row of a contact change (``EVENT_OF_ACTION``) has its
outbox event, so that every such change reaches the school's systems.
"""

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from core.local_time import local_display
from schools.services.audit import audit_logs_with_event

logger = logging.getLogger(__name__)

LINES_MAX = 50  # problem lines kept per invariant (the count is always the whole database's)


@dataclass(frozen=True)
class Breaks:
    """What breaks one invariant: ``total`` rows in the whole database, and a readable line for each
    of the first ones (at most the ``limit`` asked)."""

    total: int
    lines: list[str]


@dataclass(frozen=True)
class Invariant:
    """A rule that must hold over the whole database: ``code`` (``"<app>.<rule>"``), ``title`` (what
    must hold, for people), ``find(limit) → Breaks``."""

    code: str
    title: str
    find: Callable[[int], Breaks]


@dataclass(frozen=True)
class InvariantResult:
    """One invariant checked: its ``code`` and ``title``, ``total`` rows breaking it, the first ``lines``;
    ``error`` when the check itself failed (then ``total`` is 1 and the line says why)."""

    code: str
    title: str
    total: int
    lines: list[str]
    error: bool = False

    def as_dict(self) -> dict:
        return {"code": self.code, "title": self.title, "total": self.total, "lines": self.lines, "error": self.error}


def breaks_in(queryset: QuerySet, line: Callable[[object], str], *, limit: int) -> Breaks:
    """``Breaks`` of the rows of ``queryset`` (each breaks the rule): their count, and ``line(row)``
    for the first ``limit`` rows. Two queries at most."""
    total = queryset.count()
    rows = list(queryset[:limit]) if total and limit > 0 else []
    return Breaks(total=total, lines=[str(line(row)) for row in rows])


def invariants_check(invariants: Iterable[Invariant], *, limit: int = LINES_MAX) -> list[InvariantResult]:
    """Run every invariant over the whole database → one ``InvariantResult`` each, in order.

    A check that raises does not stop the others: it is reported as one problem of its own
    (``error``), and logged with its traceback. Reads only.
    """
    results = []
    for invariant in invariants:
        try:
            breaks = invariant.find(limit)
        except Exception as exc:  # logged with its traceback: one broken check must not hide what the others find
            logger.exception("invariant %s could not be checked", invariant.code)
            line = _("The check itself failed: %(error)s") % {"error": f"{type(exc).__name__}: {exc}"}
            results.append(InvariantResult(invariant.code, str(invariant.title), 1, [str(line)], error=True))
            continue
        results.append(InvariantResult(invariant.code, str(invariant.title), breaks.total, breaks.lines))
    return results


# --- The schools app's invariants ---------------------------------------------------------------


def audit_logs_without_event(limit: int) -> Breaks:
    """Audit rows that must have their outbox event (``audit_logs_with_event``) and have none."""
    rows = audit_logs_with_event().filter(event__isnull=True).select_related("school", "student").order_by("id")
    return breaks_in(
        rows,
        lambda row: (
            _("Audit row %(id)d (%(action)s, %(student)s, %(time)s) has no outbox event.")
            % {
                "id": row.pk,
                "action": row.action,
                "student": row.student or row.school,
                "time": local_display(row.created_at),
            }
        ),
        limit=limit,
    )


INVARIANTS = (
    Invariant(
        "schools.audit_rows_have_events",
        _("Every audit row of a contact change has its outbox event."),
        audit_logs_without_event,
    ),
)
