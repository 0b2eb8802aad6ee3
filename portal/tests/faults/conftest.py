"""Fixtures of the fault tests: the private stack, the portal's processes on it, a receiver.

The ``stack`` fixture (one per package run) starts a PostgreSQL cluster and a Redis server of
their own (``stack.py``), migrates the database with the production settings, and, while the
package runs, points this process's Django database connection and Celery producer at them: the
tests write their data with the ORM and factories (committed at once: no test transaction) and
read back what the portal's processes did. Everything is restored and removed afterwards, so the
tests that run later see their own test database as before.
"""

import os
import subprocess
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import environ
import kombu.pools
import pytest
from django.conf import settings
from django.db import connections
from django.db.utils import load_backend

from portal.celery import app
from portal.tests.faults.stack import (
    BASE_DIR,
    PortalServer,
    PortalWorker,
    PrivatePostgres,
    PrivateRedis,
    missing_binaries,
    portal_env,
)
from schools.tests.webhook_receiver import WebhookReceiver


@dataclass
class Stack:
    postgres: PrivatePostgres
    redis: PrivateRedis
    database_url: str
    logs: Path
    processes: list = field(default_factory=list)

    @property
    def broker_url(self) -> str:
        return self.redis.url(0)

    @property
    def cache_url(self) -> str:
        return "rediscache" + self.redis.url(1)[len("redis") :]

    def env(self, **extra: str) -> dict:
        return portal_env(
            database_url=self.database_url,
            broker_url=self.broker_url,
            cache_url=self.cache_url,
            secret_key=settings.SECRET_KEY,
            **extra,
        )

    def server(self, *, gunicorn: bool = False, **extra: str) -> PortalServer:
        """A portal HTTP server on the stack (stopped after the test); ``gunicorn``: the production server."""
        server = PortalServer(self.env(**extra), self.logs / f"server-{len(self.processes)}.log", gunicorn=gunicorn)
        self.processes.append(server)
        return server

    def worker(self, name: str, **extra: str) -> PortalWorker:
        """A Celery worker on the stack (stopped after the test)."""
        worker = PortalWorker(name, self.env(**extra), self.logs / f"worker-{name}-{len(self.processes)}.log")
        self.processes.append(worker)
        return worker

    def reconnect(self) -> None:
        """Drop this process's database connection (after PostgreSQL restarted under it)."""
        connections["default"].close()


@contextmanager
def _default_database(url: str):
    """This thread's ``default`` connection on ``url`` (whatever the suite's own database is), then back."""
    saved = connections["default"]
    configured = connections.configure_settings({"default": environ.Env.db_url_config(url)})["default"]
    wrapper = load_backend(configured["ENGINE"]).DatabaseWrapper(configured, "default")
    connections["default"] = wrapper
    try:
        yield wrapper
    finally:
        wrapper.close()
        connections["default"] = saved


def _reset_producers() -> None:
    if app._pool is not None:
        app._pool.force_close_all()
    app._pool = None
    if "amqp" in app.__dict__:
        app.__dict__["amqp"]._producer_pool = None
    kombu.pools.reset()


@contextmanager
def _celery_publishing_to(broker_url: str):
    """Tasks this process queues go to ``broker_url`` for a real worker (not run eagerly), then back."""
    conf = app.conf
    saved = conf.broker_url, conf.broker_transport_options, conf.task_always_eager
    saved_env = os.environ.get("CELERY_BROKER_URL")  # Celery prefers it to its own setting
    _reset_producers()
    os.environ["CELERY_BROKER_URL"] = broker_url
    conf.broker_url, conf.broker_transport_options, conf.task_always_eager = broker_url, {}, False
    try:
        assert conf.broker_url == broker_url
        yield app
    finally:
        _reset_producers()
        if saved_env is None:
            os.environ.pop("CELERY_BROKER_URL", None)
        else:
            os.environ["CELERY_BROKER_URL"] = saved_env
        conf.broker_url, conf.broker_transport_options, conf.task_always_eager = saved


@pytest.fixture(scope="package")
def stack(django_db_blocker, tmp_path_factory):
    """The private PostgreSQL and Redis, migrated, with this process's ORM and Celery producer on them."""
    reason = missing_binaries()
    if reason:
        pytest.skip(reason)
    postgres = PrivatePostgres()
    redis = PrivateRedis()
    try:
        postgres.init()
        redis.start()
        stack = Stack(postgres, redis, postgres.create_database("portal"), tmp_path_factory.mktemp("fault-logs"))
        migrate = subprocess.run(
            [sys.executable, "manage.py", "migrate", "--no-input", "-v0"],
            cwd=BASE_DIR,
            env=stack.env(),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert migrate.returncode == 0, migrate.stderr[-3000:]
        with (
            django_db_blocker.unblock(),
            _default_database(stack.database_url),
            _celery_publishing_to(stack.broker_url),
        ):
            yield stack
    finally:
        try:
            redis.destroy()
        finally:
            postgres.destroy()


@pytest.fixture
def portal(stack):
    """The stack, with every process a test starts killed after it (a graceful stop is not what is
    tested, and a worker's takes seconds); PostgreSQL and Redis running again."""
    yield stack
    for process in stack.processes:
        process.kill()
    stack.processes.clear()
    if not stack.redis.is_running():
        stack.redis.start()
    if not stack.postgres.is_running():
        stack.postgres.start()
    stack.reconnect()


class Receiver(WebhookReceiver):
    """The school's receiver (signatures verified, dedup by event id) that also tells when a
    delivery arrives, before it answers: ``arrived`` is set at each connection."""

    def __init__(self):
        super().__init__()
        self.arrived = threading.Event()

    def process_request(self, request, client_address):
        self.arrived.set()
        super().process_request(request, client_address)

    def event_ids(self) -> list[str]:
        """The event id of every verified, accepted request, repeats included."""
        with self.lock:
            return [
                r["headers"]["X-Portal-Event-Id"] for r in self.requests if r["verified"] and 200 <= r["status"] < 300
            ]


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.stop()
