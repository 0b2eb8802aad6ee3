"""The school's roster lock: one roster import of a school writes at a time (PostgreSQL).

Every import takes it in the transaction that checks and writes its rows: the COPY import of a
background job (``schools.roster.copy``) before it checks the staged file, the resource path when
its transaction begins (the admin's import, ``before_import``) or before it writes a checked job
(``flush``). A second import of the same school waits until the first commits or rolls back, then
checks against what the first wrote; imports of different schools do not wait for each other.
"""

from django.db import connection

ROSTER_LOCK = 0x524F_5354 << 32  # pg_advisory_xact_lock(ROSTER_LOCK | school id); "ROST" in the high half


def roster_lock(school_id: int) -> None:
    """Wait for the roster lock of ``school_id``, then hold it until the transaction ends
    (``pg_advisory_xact_lock``). Nothing on another database (SQLite: one writer at a time anyway)."""
    if connection.vendor != "postgresql":
        return
    if not 0 < school_id < 1 << 32:
        raise ValueError(f"school id out of the lock's range: {school_id}")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ROSTER_LOCK | school_id])
