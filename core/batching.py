"""Changing many rows in short transactions, so that no one waits long behind the change."""

from collections.abc import Sequence
from functools import reduce
from operator import or_

from django.db import transaction
from django.db.models import Q, QuerySet


def _after(keys: Sequence[str], last: Sequence) -> Q:
    """Rows after ``last`` in ``keys`` order: ``keys > last`` compared as a tuple.

    Written as ``k1 >= v1 AND (k1 > v1 OR (k1 = v1 AND k2 > v2) OR …)`` so that an index on ``keys``
    starts its range scan at ``k1 >= v1``; the rest only drops the rows tied with ``last``.
    """
    alternatives = [
        Q(**{f"{key}__gt": value}, **dict(zip(keys[:i], last[:i], strict=True)))
        for i, (key, value) in enumerate(zip(keys, last, strict=True))
    ]
    return Q(**{f"{keys[0]}__gte": last[0]}) & reduce(or_, alternatives)


def update_in_batches(queryset: QuerySet, *, keys: Sequence[str], batch_size: int, **values) -> int:
    """``queryset.update(**values)``, in batches of at most ``batch_size`` rows, each its own transaction.

    Each batch selects the next ``batch_size`` rows of ``queryset`` in ``keys`` order (after the
    last row of the batch before: keyset pagination, so no batch reads again what an earlier one
    changed) with ``SELECT … FOR NO KEY UPDATE SKIP LOCKED``, then updates them by primary key and
    commits. A row locked by another transaction is skipped, not waited for (a later run finds it);
    ``FOR NO KEY UPDATE`` (what an ``UPDATE`` of non-key columns takes) lets rows referencing a
    locked row be inserted meanwhile. No row stays locked longer than its batch. It stops after a
    batch that found fewer than ``batch_size`` rows.

    ``keys``: field names, none nullable, whose values order the rows and whose last one is unique
    (e.g. ``("expires_at", "pk")``); an index on ``keys`` whose condition is ``queryset``'s filter
    lets each batch read only its own rows. ``values`` may take rows out of ``queryset`` (the usual
    case: a state changes) but must not change a key. Returns how many rows were updated.

    Call it outside a transaction: inside one (as in tests), each batch is a savepoint and every
    lock is held until the outer transaction ends. Without ``SELECT … FOR UPDATE`` (SQLite) rows
    are neither locked nor skipped.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, not {batch_size}")
    keys = tuple(keys)
    rows = queryset.order_by(*keys).select_for_update(skip_locked=True, no_key=True, of=("self",))
    base = queryset.model._base_manager.using(queryset.db)
    updated, last = 0, None
    while True:
        with transaction.atomic(using=queryset.db):
            batch = rows if last is None else rows.filter(_after(keys, last))
            found = list(batch.values_list("pk", *keys)[:batch_size])
            if found:
                updated += base.filter(pk__in=[row[0] for row in found]).update(**values)
        if len(found) < batch_size:
            return updated
        last = found[-1][1:]
