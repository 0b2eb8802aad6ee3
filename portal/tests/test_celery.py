"""The Celery app: beat schedules every periodic task, and a task runs in a real worker consuming from Redis."""

import os
import socket
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.db import connection
from django.utils import timezone

from contacts.models import Contact, ShareLink
from contacts.services.binding import admin_bind, bind_event_report
from contacts.services.share_links import share_link_create
from contacts.tasks import expire_share_links, purge_expired_tokens
from contacts.tests.factories import ContactFactory, ParentFactory
from core.process_lock import LockHeld, process_lock_acquire, process_lock_release
from portal.celery import BEAT_LOCK, app, only_one_beat
from schools.models import OutboxEvent, WebhookDelivery, WebhookEndpoint
from schools.services.events import webhook_secret
from schools.tasks import purge_expired_api_tokens
from schools.tests.factories import StudentFactory


def redis_broker_url() -> str | None:
    url = os.environ.get("CELERY_BROKER_URL", "")
    if url.startswith("redis://"):
        return url
    with socket.socket() as s:
        s.settimeout(1)
        if s.connect_ex(("127.0.0.1", 6379)) == 0:
            return "redis://127.0.0.1:6379/0"
    return None


def test_beat_schedules_the_expiry_task_every_minute():
    entry = settings.CELERY_BEAT_SCHEDULE["expire-share-links"]
    assert entry["task"] == expire_share_links.name
    assert entry["schedule"].minute == set(range(60))
    assert expire_share_links.name in app.tasks


def test_beat_purges_parent_and_vendor_tokens_hourly_each_with_its_apps_task():
    schedule = {entry["task"]: entry["schedule"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    for task in (purge_expired_tokens, purge_expired_api_tokens):
        assert task.name in app.tasks and task.name in schedule
        assert len(schedule[task.name].minute) == 1 and schedule[task.name].hour == set(range(24))


@pytest.fixture
def redis_worker():
    """A real Celery worker (solo pool, in a thread) consuming from Redis; tasks are not eager."""
    broker = redis_broker_url()
    if broker is None:
        pytest.skip("needs Redis on localhost:6379 or CELERY_BROKER_URL=redis://…")
    saved = app.conf.broker_url, app.conf.broker_transport_options, app.conf.task_always_eager
    app.conf.broker_url, app.conf.broker_transport_options = broker, {}
    app.conf.task_always_eager = False  # the test settings run tasks eagerly; here a worker does
    try:
        with app.connection_for_write() as conn:
            assert conn.transport.driver_type == "redis"
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10) as worker:
            yield worker
    finally:
        app.conf.broker_url, app.conf.broker_transport_options, app.conf.task_always_eager = saved


def wait_for(condition, seconds=30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


@pytest.mark.postgres
@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_expiry_task_runs_in_a_real_worker_against_redis(redis_worker):
    student = StudentFactory()
    admin = ContactFactory(student=student, role=Contact.Role.ADMIN)
    link, _ = share_link_create(parent=admin.parent, user_id=student.user_id)
    fresh, _ = share_link_create(parent=admin.parent, user_id=student.user_id)
    ShareLink.objects.filter(pk=link.pk).update(
        created_at=timezone.now() - timedelta(days=2), expires_at=timezone.now() - timedelta(seconds=1)
    )

    expire_share_links.delay()

    assert wait_for(lambda: ShareLink.objects.get(pk=link.pk).state == ShareLink.State.EXPIRED)
    fresh.refresh_from_db()
    assert fresh.state == ShareLink.State.ACTIVE


@pytest.mark.postgres
@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_a_report_has_a_real_worker_check_wechat(fake_wechat, settings, redis_worker):
    """A bindContact report queues the WeChat check on commit; a worker reads the fake WeChat's list."""
    settings.WECHAT_RECONCILE_DEBOUNCE_SECONDS = 0
    student = StudentFactory()
    parent = ParentFactory(openid="oWorkerMama")
    fake_wechat.scope.add(parent.openid)
    assert admin_bind(parent=parent, user_id=student.user_id).allowed
    assert fake_wechat.plugin_bind_admin(student.user_id, parent.openid) == "success"

    bind_event_report(parent=parent, type="success", err_msg="bindContact:ok", user_id=student.user_id)

    assert wait_for(lambda: Contact.objects.get(parent=parent).state == Contact.State.CONFIRMED)
    assert "/wxa/business/getvoipcontactlist" in fake_wechat.paths()


@pytest.mark.postgres
@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_a_bind_reaches_the_schools_webhook_through_a_real_worker(redis_worker, webhook_receiver):
    """The outbox end to end: the bind commits its audit row and event; the queued task, run by a
    worker from Redis, POSTs it signed; the receiver gets the event once."""
    student = StudentFactory()
    endpoint = WebhookEndpoint.objects.create(school=student.school, url=webhook_receiver.url())
    webhook_receiver.secrets["/hook"] = webhook_secret(endpoint)
    parent = ParentFactory(openid="oWebhookMama")

    assert admin_bind(parent=parent, user_id=student.user_id).allowed

    event = OutboxEvent.objects.get(school=student.school, type="contact.changed")
    assert wait_for(lambda: str(event.event_id) in webhook_receiver.events)
    body = webhook_receiver.events[str(event.event_id)]
    assert body["data"]["action"] == "admin_bound" and body["data"]["user_id"] == student.user_id
    assert wait_for(lambda: WebhookDelivery.objects.get(event=event).state == WebhookDelivery.State.DELIVERED)
    assert webhook_receiver.duplicates == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_exactly_one_beat_runs():
    """While another process holds beat's lock, a beat starting here exits at once; when that process
    dies, the lock is free again (PostgreSQL releases a dead session's advisory locks)."""
    db = connection.settings_dict
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import django, sys, time; django.setup();"
            "from core.process_lock import process_lock_acquire; process_lock_acquire('celery-beat');"
            "print('held', flush=True); time.sleep(60)",
        ],
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "portal.settings.test",
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        },
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(SystemExit) as exited:
            only_one_beat()
        assert exited.value.code == 1
    finally:
        holder.kill()
        holder.wait()
    assert wait_for(_beat_lock_is_free, seconds=10)
    process_lock_release(BEAT_LOCK)


def _beat_lock_is_free() -> bool:
    try:
        process_lock_acquire(BEAT_LOCK)
    except LockHeld:
        return False
    return True
