"""Changing many rows in short transactions, so that no one waits long behind the change."""

from collections.abc import Sequence
from contextlib import contextmanager
from functools import reduce
from operator import or_

from django.db import connections, transaction
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


def _one_statement(vendor: str) -> bool:
    """PostgreSQL writes a batch in one statement (a data-modifying ``WITH``); others select, then update."""
    return vendor == "postgresql"


def _batch_in_one_statement(batch: QuerySet, keys: Sequence[str], values: dict) -> tuple[int, tuple | None]:
    """One statement, so one transaction and one round trip, that returns only the batch's last row:

        WITH batch AS MATERIALIZED (SELECT pk … ORDER BY keys LIMIT n FOR NO KEY UPDATE SKIP LOCKED),
             changed AS (UPDATE … SET … WHERE pk IN (SELECT * FROM batch) RETURNING keys)
        SELECT count(*) OVER (), keys FROM changed ORDER BY keys DESC LIMIT 1

    Returns ``(rows updated, their last keys or None)``.
    """
    meta, connection = batch.model._meta, connections[batch.db]
    qn = connection.ops.quote_name
    table, pk = qn(meta.db_table), qn(meta.pk.column)
    columns = [qn(meta.pk.column if key == "pk" else meta.get_field(key).column) for key in keys]
    fields = [meta.get_field(name) for name in values]
    select_sql, select_params = batch.values_list("pk").query.get_compiler(using=batch.db).as_sql()
    set_sql = ", ".join(f"{qn(field.column)} = %s" for field in fields)
    set_params = [field.get_db_prep_save(values[field.name], connection=connection) for field in fields]
    statement = (
        f"WITH batch AS MATERIALIZED ({select_sql} FOR NO KEY UPDATE OF {table} SKIP LOCKED), "
        f"changed AS (UPDATE {table} SET {set_sql} WHERE {table}.{pk} IN (SELECT * FROM batch) "
        f"RETURNING {', '.join(f'{table}.{c}' for c in columns)}) "
        f"SELECT count(*) OVER (), {', '.join(columns)} FROM changed "
        f"ORDER BY {', '.join(f'{c} DESC' for c in columns)} LIMIT 1"
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, [*select_params, *set_params])
        row = cursor.fetchone()
    return (0, None) if row is None else (row[0], tuple(row[1:]))


def _batch_in_two_statements(batch: QuerySet, keys: Sequence[str], values: dict) -> tuple[int, tuple | None]:
    """In a transaction: the batch's primary keys and keys (``SELECT … FOR NO KEY UPDATE SKIP LOCKED``
    where the database has it), then an ``UPDATE`` by primary key; as ``_batch_in_one_statement``."""
    with transaction.atomic(using=batch.db):
        found = list(batch.select_for_update(skip_locked=True, no_key=True, of=("self",)).values_list("pk", *keys))
        if not found:
            return 0, None
        base = batch.model._base_manager.using(batch.db)
        return base.filter(pk__in=[row[0] for row in found]).update(**values), found[-1][1:]


@contextmanager
def _commits_not_waiting_for_disk(connection, enabled: bool):
    """``synchronous_commit = off`` for this connection meanwhile, on PostgreSQL outside a transaction."""
    if not enabled or connection.vendor != "postgresql" or connection.in_atomic_block:
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO OFF")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET synchronous_commit")


def update_in_batches(
    queryset: QuerySet, *, keys: Sequence[str], batch_size: int, synchronous_commit: bool = True, **values
) -> int:
    """``queryset.update(**values)``, in batches of at most ``batch_size`` rows, each its own transaction.

    Each batch takes the next ``batch_size`` rows of ``queryset`` in ``keys`` order (after the
    last row of the batch before: keyset pagination, so no batch reads again what an earlier one
    changed), locked with ``FOR NO KEY UPDATE SKIP LOCKED``, updates them and commits: on
    PostgreSQL in one statement, elsewhere a ``SELECT`` then an ``UPDATE`` by primary key. A row
    locked by another transaction is skipped, not waited for (a later run finds it); ``FOR NO KEY
    UPDATE`` (what an ``UPDATE`` of non-key columns takes) lets rows referencing a locked row be
    inserted meanwhile. No row stays locked longer than its batch. It stops after a batch that
    found fewer than ``batch_size`` rows.

    ``keys``: field names, none nullable, whose values order the rows and whose last one is unique
    (e.g. ``("expires_at", "pk")``); an index on ``keys`` whose condition is ``queryset``'s filter
    lets each batch read only its own rows. ``values``: plain values (no expressions) of concrete
    fields; they may take rows out of ``queryset`` (the usual case: a state changes) but must not
    change a key. Returns how many rows were updated.

    ``synchronous_commit=False``, for work a later run redoes if lost: on PostgreSQL the batches
    commit without waiting for their WAL to reach the disk (``synchronous_commit = off`` for the
    connection until the last batch, then reset), which saves a disk flush per batch and releases
    locks sooner; a crash may undo the batches of the last moment (up to three
    ``wal_writer_delay``, 0.6 s by default), never part of one, and any later synchronous commit
    makes them durable.

    Call it outside a transaction: inside one (as in tests), the batches commit with it, and every
    lock is held until then. Without ``SELECT … FOR UPDATE`` (SQLite) rows are neither locked nor
    skipped.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, not {batch_size}")
    keys = tuple(keys)
    rows = queryset.order_by(*keys)
    connection = connections[queryset.db]
    write = _batch_in_one_statement if _one_statement(connection.vendor) else _batch_in_two_statements
    updated, last = 0, None
    with _commits_not_waiting_for_disk(connection, not synchronous_commit):
        while True:
            batch = rows if last is None else rows.filter(_after(keys, last))
            count, last_of_batch = write(batch[:batch_size], keys, values)
            updated += count
            if count < batch_size:
                return updated
            last = last_of_batch
