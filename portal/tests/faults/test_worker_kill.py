"""A Celery worker killed (SIGKILL to the worker and its pool) in the middle of its work (issue 10 §3).

- In the middle of a webhook delivery: the receiver has the request, the worker never hears the
  answer. The delivery is still pending (its row lock and its attempt were rolled back with the
  dead worker's transaction); the sweeper queues it again and a new worker sends it again. The
  receiver gets the event twice and keeps it once (dedup by ``X-Portal-Event-Id``): delivered once
  from its point of view, and no other event lost.
- In the middle of a roster import job: the job is left ``running``, nothing written. Its heartbeat
  stops; the recovery (beat, ``schools.tasks.recover_import_jobs``) runs it again from the start in
  a new worker, and it ends ``done`` with every row written once.
"""

import csv
import io
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from contacts.models import Parent
from contacts.services.binding import admin_bind
from portal.celery import app
from portal.tests.faults.stack import wait_for
from portal.tests.faults.world import deliveries, school_event_ids, sweep_until_delivered, world
from schools.models import ImportJob, Student, WebhookDelivery
from schools.roster.jobs import import_job_create
from schools.tests.factories import SchoolFactory

pytestmark = pytest.mark.fault

EVENTS = 5
HOLD = 3.0  # seconds the receiver holds the first request
ROWS = 100_000  # the COPY import takes 20,000 rows in about a second: the kill must come mid-job


def test_a_worker_killed_mid_delivery_leaves_the_event_delivered_once(portal, receiver):
    w = world(receiver, families=EVENTS)
    receiver.delay = HOLD  # the receiver takes its time to answer: the worker dies meanwhile
    first = portal.worker("first")

    for family in w.families:  # each binding commits an event and queues its delivery (on commit)
        parent = Parent.objects.get(openid=family.openid)
        assert admin_bind(parent=parent, user_id=family.user_id).allowed
    assert receiver.arrived.wait(30)  # a delivery reached the receiver, which has not answered yet
    time.sleep(0.3)
    first.kill()
    held = receiver.event_ids()
    receiver.delay = 0.0
    assert wait_for(lambda: len(receiver.event_ids()) == 1, HOLD + 5)  # the held request, answered into the void

    # The portal does not know it was delivered: still pending, its attempt rolled back with the worker.
    in_flight = receiver.event_ids()[0]
    delivery = deliveries(w).get(event__event_id=in_flight)
    assert (delivery.state, delivery.attempts) == (WebhookDelivery.State.PENDING, 0)
    assert held == []

    second = portal.worker("second")
    # The other deliveries' messages are still queued and the new worker sends them; the one whose
    # message the dead worker held is queued again by the sweeper (beat, every minute).
    assert sweep_until_delivered(w, 90), list(deliveries(w).exclude(state=WebhookDelivery.State.DELIVERED).values())
    assert second.running()

    received = receiver.event_ids()
    assert received.count(in_flight) == 2  # sent twice: once to the dead worker's void, once again
    assert set(receiver.events) == school_event_ids(w)  # none lost
    assert len(receiver.events) == EVENTS  # each once after dedup by event id
    assert deliveries(w).get(event__event_id=in_flight).attempts == 1
    print(  # noqa: T201
        f"\nevents: {EVENTS}, deliveries received: {len(received)}, "
        f"duplicates removed by event id: {len(received) - len(set(received))}"
    )


def roster_csv(rows: int) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["user_id", "name", "grade", "class_name", "student_number", "avatar_url"])
    for n in range(rows):
        writer.writerow([f"wxfp_fault{n:019d}", f"学生{n}", "三年级", f"三年级{n % 20 + 1}班", f"2026{n:06d}", ""])
    return out.getvalue().encode()


def test_a_worker_killed_mid_import_leaves_the_job_resumed_not_running(portal):
    settings_env = {
        "IMPORT_JOB_CHUNK_SIZE": "500",
        "IMPORT_JOB_HEARTBEAT_SECONDS": "0.5",
        "IMPORT_JOB_STALE_SECONDS": "3",
    }
    first = portal.worker("importer", **settings_env)
    school = SchoolFactory()

    job = import_job_create(
        school=school, kind="students", file_name="roster.csv", file_format="csv", data=roster_csv(ROWS)
    )

    def running_and_beating():
        job.refresh_from_db()
        return job.status == ImportJob.Status.RUNNING and job.processed_rows >= 1000

    assert wait_for(running_and_beating, 60, 0.02)
    beat = job.heartbeat_at
    assert wait_for(lambda: ImportJob.objects.get(pk=job.pk).heartbeat_at != beat, 10, 0.02)  # it beats
    first.kill()
    job.refresh_from_db()
    assert (job.status, job.attempts) == (ImportJob.Status.RUNNING, 1)  # what a dead worker leaves
    assert 0 < job.processed_rows < ROWS, job.processed_rows
    assert not Student.objects.filter(school=school).exists()  # checked, not written
    print(f"\nkilled at {job.processed_rows} of {ROWS} rows checked")  # noqa: T201

    second = portal.worker("importer-2", **settings_env)
    # Beat's recovery, once the heartbeat is older than IMPORT_JOB_STALE_SECONDS (3 s here).
    stale = timedelta(seconds=3.5)
    assert wait_for(lambda: timezone.now() - ImportJob.objects.get(pk=job.pk).heartbeat_at > stale, 10)
    app.send_task("schools.tasks.recover_import_jobs")

    assert wait_for(lambda: ImportJob.objects.get(pk=job.pk).status != ImportJob.Status.RUNNING, 120, 0.2)
    job.refresh_from_db()
    assert (job.status, job.attempts, job.errors) == (ImportJob.Status.DONE, 2, [])
    assert job.totals["new"] == ROWS and job.processed_rows == ROWS and job.heartbeat_at is None
    assert Student.objects.filter(school=school).count() == ROWS
    assert "queued again" in second.log()
