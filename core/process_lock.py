"""A lock held for the life of a process, for what must run exactly once (Celery beat).

PostgreSQL: a session advisory lock on a connection of its own, released by the server when the
process ends, even when it is killed. SQLite (local development, one machine): ``flock`` on a
file beside the database, released by the kernel the same way.
"""

import fcntl
import zlib
from pathlib import Path

import psycopg
from django.db import connections

_held: dict[str, object] = {}  # name → the connection or file that holds it (kept open)


class LockHeld(Exception):
    """Another process holds the lock."""


def process_lock_acquire(name: str, *, using: str = "default") -> None:
    """Hold the lock ``name`` until this process ends, or raise ``LockHeld`` at once (no waiting).
    Acquiring a lock this process already holds does nothing."""
    if name in _held:
        return
    connection = connections[using]
    if connection.vendor == "postgresql":
        params = connection.get_connection_params()
        params.pop("cursor_factory", None)
        params.pop("context", None)
        held = psycopg.connect(**params, autocommit=True)
        key = zlib.crc32(name.encode())
        if not held.execute("SELECT pg_try_advisory_lock(%s)", [key]).fetchone()[0]:
            held.close()
            raise LockHeld(name)
    else:
        path = Path(f"{connection.settings_dict['NAME']}.{name}.lock")
        held = path.open("w")
        try:
            fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            held.close()
            raise LockHeld(name) from None
    _held[name] = held


def process_lock_release(name: str) -> None:
    """Let go of ``name`` before the process ends (tests; a process that stops doing the work)."""
    held = _held.pop(name, None)
    if held is not None:
        held.close()
