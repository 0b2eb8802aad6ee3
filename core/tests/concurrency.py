"""Real concurrency for tests: threads released together, each with its own database connection."""

import threading

from django.db import connection


def run_threads(n: int, target) -> list:
    """Run ``target(i)`` in ``n`` threads released together; returns results (or exceptions) by index."""
    barrier = threading.Barrier(n)
    results = [None] * n

    def work(i):
        try:
            barrier.wait()
            results[i] = target(i)
        except Exception as exc:  # noqa: BLE001 — collected and asserted by the caller
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results
