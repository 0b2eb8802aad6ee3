"""Benchmark: queries per request for every device-API and mini-program endpoint, at +10 and +1,000.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_queries .venv/bin/python bench/queries.py [--quick]

Runs ``portal/tests/test_query_scaling.py`` (pytest, on a test database beside ``DATABASE_URL``'s)
with ``QUERY_SCALING_SIZES=10,1000`` (``--quick``: 10,100) and prints its table: each endpoint sent
as an actor it answers, in the authorization matrix's world grown by that many students of the
admin, authorized phones, calls and events. The test fails if any count grows with the data.
"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

BASE = Path(__file__).resolve().parent.parent


def main() -> None:
    sizes = "10,100" if "--quick" in sys.argv else "10,1000"
    report = Path(tempfile.mkdtemp(prefix="bench-queries-")) / "table.md"
    env = {**os.environ, "QUERY_SCALING_SIZES": sizes, "QUERY_SCALING_REPORT": str(report), "LOG_LEVEL": "WARNING"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:randomly", "portal/tests/test_query_scaling.py"],
        cwd=BASE,
        env=env,
        capture_output=True,
        text=True,
    )
    if result.returncode:
        print(result.stdout[-3000:], result.stderr[-2000:], file=sys.stderr)
        sys.exit(result.returncode)
    print(report.read_text())
    print("Every count is the same at both sizes (the test asserts it).")


if __name__ == "__main__":
    main()
