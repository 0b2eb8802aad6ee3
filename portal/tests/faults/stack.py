"""The real stack of the fault tests, private to them: a PostgreSQL cluster and a Redis server of
their own (free ports, a temporary directory), and the portal's processes on it.

Private, so that stopping them disturbs nothing else: not the suite's own test database (other
tests keep their connections), not another run on the same machine. Same binaries as the shared
services (PostgreSQL from ``/usr/lib/postgresql/<version>/bin``, ``redis-server``), same settings
as a deployment (``portal.settings.production``: Redis cache and broker, PostgreSQL).

- ``PrivatePostgres``: ``initdb`` (as the ``postgres`` user when run as root), ``start``/``stop``.
- ``PrivateRedis``: a ``redis-server`` without persistence, as CI runs it: stopping it loses
  every queued message, as a Redis restart does.
- ``PortalProcess``: the portal's HTTP server (``runserver --noreload``, threaded) or a Celery
  worker (prefork), each in a process group of its own so that ``kill`` takes it whole.
"""

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import requests

BASE_DIR = Path(__file__).resolve().parents[3]

# What the portal's processes read from the environment; the test run's own values are left out.
CLEARED = {
    "DJANGO_SETTINGS_MODULE",
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "CACHE_URL",
    "PORTAL_FORBID_SKIPS",
    "PYTEST_CURRENT_TEST",
    "PYTEST_XDIST_WORKER",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition, seconds: float = 30, interval: float = 0.1) -> bool:
    """Poll ``condition()`` until it is true (→ True) or ``seconds`` pass (→ False)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return bool(condition())


def postgres_bindir() -> Path | None:
    """The newest PostgreSQL server binaries on this machine (the directory of ``initdb``), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3].split(".")[0]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def missing_binaries() -> str | None:
    """Why the private stack cannot run here, or None."""
    if postgres_bindir() is None:
        return "needs PostgreSQL's server binaries (initdb, pg_ctl)"
    if shutil.which("redis-server") is None:
        return "needs redis-server"
    return None


class PrivatePostgres:
    """A PostgreSQL cluster in a temporary directory, on a free port, trust authentication."""

    def __init__(self):
        self.bindir = postgres_bindir()
        self.root = Path(tempfile.mkdtemp(prefix="portal-fault-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.as_postgres = os.geteuid() == 0  # initdb and postgres refuse to run as root
        if self.as_postgres:
            shutil.chown(self.root, user="postgres")

    def _run(self, *args: str, timeout: float = 60) -> None:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=timeout, cwd=self.root)

    def init(self) -> "PrivatePostgres":
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale", "-N")
        return self.start()

    def start(self) -> "PrivatePostgres":
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=100"
        )
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"), "-o", options, "-w", "-t", "60", "start"
        )
        return self

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: ``fast`` ends every session (open transactions roll back), as a restart does."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def is_running(self) -> bool:
        try:
            with psycopg.connect(self.url("postgres"), connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False

    def url(self, name: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def destroy(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self.stop("immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


class PrivateRedis:
    """``redis-server`` on a free port, no persistence (a restart loses every key and queued message)."""

    def __init__(self):
        self.root = Path(tempfile.mkdtemp(prefix="portal-fault-redis-"))
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def start(self) -> "PrivateRedis":
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.root),
                "--logfile",
                str(self.root / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if not wait_for(self.is_running, 10):
            raise RuntimeError("redis-server did not start")
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None

    def is_running(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def url(self, db: int) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def destroy(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


class PortalProcess:
    """One of the portal's processes, in a process group of its own; its output in ``log_path``."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_path: Path):
        self.name = name
        self.log_path = log_path
        with open(log_path, "ab") as log:
            self.process = subprocess.Popen(
                args, cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def running(self) -> bool:
        return self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL to every process of it (a worker and its pool): as the machine or the OOM killer would."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if not self.running():
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.kill()
        except ProcessLookupError:
            pass


class PortalServer(PortalProcess):
    """The portal over HTTP: ``manage.py runserver --noreload`` (threaded, one thread per request), or
    with ``gunicorn=True`` the production server (``workers`` sync processes, as deployed)."""

    def __init__(self, env: dict[str, str], log_path: Path, *, gunicorn: bool = False, workers: int = 2):
        self.port = free_port()
        if gunicorn:
            args = [  # the deployment's own configuration, on this stack's port
                sys.executable,
                "-m",
                "gunicorn",
                "--config=deploy/gunicorn.conf.py",
                "portal.wsgi:application",
                f"--bind=127.0.0.1:{self.port}",
                f"--workers={workers}",
                "--graceful-timeout=5",
            ]
        else:
            args = [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{self.port}"]
        super().__init__("server", args, env, log_path)
        self.base_url = f"http://127.0.0.1:{self.port}"
        if not wait_for(self._answers, 60, 0.2):
            self.stop()
            raise RuntimeError(f"the portal did not start:\n{self.log()[-3000:]}")

    def _answers(self) -> bool:
        if not self.running():
            raise RuntimeError(f"the portal exited:\n{self.log()[-3000:]}")
        try:
            return requests.get(self.base_url + "/api/v1/me/students", timeout=2).status_code == 401
        except requests.RequestException:
            return False


class PortalWorker(PortalProcess):
    """A Celery worker (prefork pool) consuming from the stack's Redis."""

    def __init__(self, name: str, env: dict[str, str], log_path: Path, concurrency: int = 1):
        args = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "portal",
            "worker",
            "--pool=prefork",
            f"--concurrency={concurrency}",
            "--without-mingle",
            "--without-gossip",
            f"--hostname={name}@%h",
            "--loglevel=INFO",
        ]
        super().__init__(name, args, env, log_path)
        if not wait_for(lambda: " ready." in self.log() or not self.running(), 60, 0.2) or not self.running():
            self.stop()
            raise RuntimeError(f"the worker did not start:\n{self.log()[-3000:]}")


def portal_env(*, database_url: str, broker_url: str, cache_url: str, secret_key: str, **extra: str) -> dict:
    """The environment of the portal's processes: production settings on the private stack, HTTP and
    loopback receivers allowed, WeChat a closed port, abuse limits out of the way of a burst."""
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    env.update(
        DJANGO_SETTINGS_MODULE="portal.settings.production",
        SECRET_KEY=secret_key,  # the tests' own: their receiver checks signatures with it
        DATABASE_URL=database_url,
        CELERY_BROKER_URL=broker_url,
        CACHE_URL=cache_url,
        SECURE_SSL_REDIRECT="0",
        WEBHOOK_ALLOW_HTTP="1",
        WEBHOOK_ALLOW_PRIVATE="1",
        WEBHOOK_TIMEOUT="20",
        WEBHOOK_BACKOFF_SECONDS="1",
        WEBHOOK_BACKOFF_MAX_SECONDS="2",
        WECHAT_API_BASE_URL="http://127.0.0.1:9",
        BIND_THROTTLE_RATE="100000/minute",
        BIND_ADDRESS_THROTTLE_RATE="100000/minute",
        TOKEN_APPID_THROTTLE_RATE="100000/hour",
        TOKEN_ADDRESS_THROTTLE_RATE="100000/minute",
        DEVICE_CHECK_THROTTLE_RATE="100000/minute",
        LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env
