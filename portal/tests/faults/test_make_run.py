"""``make run`` (``bin/run``) stops within 10 s on SIGTERM and on Ctrl-C, every process with it (issue 10 §3);
it prints the URLs of the port it serves, and writes nothing that ``.gitignore`` does not cover (issue 12 §5).

``bin/run`` runs in a copy of the project (its own ``var/``: SQLite database, filesystem broker,
logs; the virtualenv linked), as a developer starts it, in a session of its own so that every
process it starts can be found. Once the portal answers HTTP and the worker and beat are up, the
signal is sent: SIGTERM to ``bin/run``, or SIGINT to its process group (what a terminal's Ctrl-C
does). Every process of the session must be gone (or a zombie, dead and awaiting its reaper) within
10 s, and the worker must have been asked for its warm shutdown.
"""

import contextlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

from portal.tests.faults.stack import BASE_DIR, CLEARED, free_port, wait_for

pytestmark = pytest.mark.fault

STOP_SECONDS = 10
IGNORED = shutil.ignore_patterns(
    ".venv",
    ".git",
    "var",
    "staticfiles",
    "screenshots",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    ".import_linter_cache",
    ".env",
    "*.sqlite3",
)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A copy of the project, its virtualenv linked."""
    root = tmp_path_factory.mktemp("make-run") / "portal"
    shutil.copytree(BASE_DIR, root, ignore=IGNORED, symlinks=True)
    (root / ".venv").symlink_to(BASE_DIR / ".venv")
    # Staged as it is: whatever make run then writes must be ignored (``untracked``).
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    return root


def untracked(root: Path) -> list[str]:
    """Files of ``root`` that git neither tracks nor ignores (``.gitignore``)."""
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"], cwd=root, check=True, capture_output=True, text=True
    )
    return [line[3:] for line in status.stdout.splitlines() if line.startswith("??")]


def session_processes(sid: int) -> set[int]:
    """The live processes of session ``sid`` (zombies are dead: not counted)."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) ": state ppid pgrp session …
        if int(fields[3]) == sid and fields[0] != "Z":
            found.add(int(entry))
    return found


def command_lines(pids) -> list[str]:
    lines = []
    for pid in pids:
        with contextlib.suppress(OSError):
            lines.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip())
    return lines


@pytest.mark.parametrize("how", ["SIGTERM", "Ctrl-C"])
def test_make_run_stops_everything_within_ten_seconds(project, how, tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    env.update(PORT=str(port), DEMO_ADMIN_PASSWORD="make-run-test-Pw-1")
    output = tmp_path / "make-run.log"
    with open(output, "wb") as log:
        run = subprocess.Popen(
            ["bash", "bin/run"], cwd=project, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:

        def up() -> bool:
            assert run.poll() is None, output.read_text()[-3000:]
            worker_log = project / "var" / "celery-worker.log"
            beat_log = project / "var" / "celery-beat.log"
            if not (worker_log.exists() and " ready." in worker_log.read_text(errors="replace")):
                return False
            if not (beat_log.exists() and "beat: Starting" in beat_log.read_text(errors="replace")):
                return False
            try:
                return requests.get(f"http://127.0.0.1:{port}/api/schema/", timeout=5).status_code == 200
            except requests.RequestException:
                return False

        assert wait_for(up, 240, 0.5), output.read_text()[-3000:]
        printed = output.read_text()
        assert f"http://127.0.0.1:{port}/admin/" in printed and f"http://127.0.0.1:{port}/api/docs/" in printed
        assert ":8000" not in printed
        before = session_processes(run.pid)
        commands = command_lines(before)
        assert any("celery -A portal worker" in c for c in commands), commands
        assert any("celery -A portal beat" in c for c in commands), commands
        assert any("runserver" in c for c in commands), commands

        started = time.monotonic()
        if how == "SIGTERM":
            os.kill(run.pid, signal.SIGTERM)
        else:
            os.killpg(run.pid, signal.SIGINT)
        gone = wait_for(lambda: not session_processes(run.pid), STOP_SECONDS, 0.05)
        seconds = time.monotonic() - started
        left = command_lines(session_processes(run.pid))
        assert gone, f"still running after {STOP_SECONDS} s: {left}"
        assert run.wait(5) == 0
        worker_log = (project / "var" / "celery-worker.log").read_text(errors="replace")
        assert "Warm shutdown" in worker_log
        assert untracked(project) == [], "make run wrote files .gitignore does not cover (broker files go under var/)"
        killed = "killing what is left" in output.read_text()
        print(f"\n{how}: {len(before)} processes gone in {seconds:.1f} s ({'some killed' if killed else 'all warm'})")  # noqa: T201
    finally:
        for pid in session_processes(run.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        run.wait(10)
