"""Roster import jobs whose worker died are never left "running" (issue 10 §3): heartbeat, takeover, failure.

The real worker killed mid-job is ``portal/tests/faults/test_worker_kill.py``; here the states it
leaves are written directly and the recovery (``import_jobs_recover``, beat) and the runner's
fencing are checked, with tasks run eagerly.
"""

from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone
from django.utils.translation import gettext as _

from schools.models import ImportJob, Student
from schools.roster import runner
from schools.roster.jobs import import_job_create
from schools.roster.runner import import_jobs_recover
from schools.tasks import recover_import_jobs, run_import_job
from schools.tests.factories import SchoolFactory
from schools.tests.roster import csv_file, student_row

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(monkeypatch):
    """The job ids queued when a job is created (instead of sending them to a broker)."""
    ids = []
    monkeypatch.setattr(run_import_job, "delay", lambda job_id: ids.append(job_id))
    return ids


def make_job(rows=3) -> ImportJob:
    upload = csv_file([student_row(n) for n in range(1, rows + 1)])
    return import_job_create(
        school=SchoolFactory(), kind="students", file_name="roster.csv", file_format="csv", data=upload.read()
    )


def died(job: ImportJob, *, attempts=1, seconds_ago=None, processed=1) -> None:
    """Leave ``job`` as a worker killed mid-run leaves it: running, its heartbeat getting old."""
    seconds_ago = 2 * 60 if seconds_ago is None else seconds_ago
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportJob.Status.RUNNING,
        attempts=attempts,
        processed_rows=processed,
        heartbeat_at=timezone.now() - timedelta(seconds=seconds_ago),
    )


def test_a_run_counts_its_attempt_and_clears_its_heartbeat_when_done(queued):
    job = make_job()

    assert run_import_job.apply(args=[job.pk]).get() == "done"

    job.refresh_from_db()
    assert (job.status, job.attempts, job.heartbeat_at, bytes(job.data)) == ("done", 1, None, b"")
    assert Student.objects.count() == 3


def test_a_job_whose_worker_died_is_run_again_from_the_start_by_the_recovery(queued, settings):
    settings.IMPORT_JOB_STALE_SECONDS = 60
    job = make_job(rows=4)
    died(job, seconds_ago=61)

    result = recover_import_jobs.apply().get()  # eager: the queued run happens here

    assert result == {"queued": [job.pk], "failed": []}
    job.refresh_from_db()
    assert (job.status, job.attempts, job.processed_rows, job.errors) == ("done", 2, 4, [])
    assert job.totals["new"] == 4 and Student.objects.count() == 4


def test_a_job_with_a_live_heartbeat_is_left_to_its_worker(queued, settings):
    settings.IMPORT_JOB_STALE_SECONDS = 60
    job = make_job()
    died(job, seconds_ago=30)  # still beating, as far as anyone can tell

    assert import_jobs_recover() == {"queued": [], "failed": []}
    assert run_import_job.apply(args=[job.pk]).get() == "running"  # a redelivered message does nothing
    job.refresh_from_db()
    assert (job.status, job.attempts) == ("running", 1) and not Student.objects.exists()


def test_after_its_last_attempt_a_dead_job_fails_with_its_reason(queued, settings):
    settings.IMPORT_JOB_MAX_ATTEMPTS = 3
    job = make_job()
    died(job, attempts=3)

    assert import_jobs_recover() == {"queued": [], "failed": [job.pk]}

    job.refresh_from_db()
    assert job.status == "failed" and job.finished_at is not None and bytes(job.data) == b""
    [error] = job.errors
    reason = _(
        "The import stopped without finishing %(attempts)d times (the worker running it stopped); "
        "upload the file again."
    ) % {"attempts": 3}
    assert error["row"] is None and error["error"] == reason
    assert run_import_job.apply(args=[job.pk]).get() == "failed"  # a late message changes nothing
    assert not Student.objects.exists()


def test_a_pending_job_whose_message_was_lost_is_queued_again(queued, settings):
    settings.IMPORT_JOB_STALE_SECONDS = 60
    fresh, lost = make_job(), make_job()
    ImportJob.objects.filter(pk=lost.pk).update(created_at=timezone.now() - timedelta(minutes=5))

    assert import_jobs_recover() == {"queued": [lost.pk], "failed": []}
    assert ImportJob.objects.get(pk=lost.pk).status == "done"
    assert ImportJob.objects.get(pk=fresh.pk).status == "pending"


def test_a_run_taken_over_meanwhile_writes_nothing_and_leaves_the_job_to_the_new_run(queued, monkeypatch, settings):
    """The first worker only paused (its heartbeat went stale) and another run took the job over:
    when the first one comes back it may not write the rows nor end the job."""
    settings.IMPORT_JOB_CHUNK_SIZE = 1
    job = make_job(rows=3)
    report = runner._progress

    def progress_then_taken_over(mine):
        inner = report(mine)

        def step(rows):
            inner(rows)
            ImportJob.objects.filter(pk=job.pk).update(attempts=2, heartbeat_at=timezone.now())

        return step

    monkeypatch.setattr(runner, "_progress", progress_then_taken_over)

    assert run_import_job.apply(args=[job.pk]).get() == "running"

    job.refresh_from_db()
    assert (job.status, job.attempts) == ("running", 2)
    assert not Student.objects.exists()  # the first run's write was rolled back


def test_the_recovery_is_beat_scheduled_every_minute():
    [entry] = [e for e in django_settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == recover_import_jobs.name]
    assert entry["schedule"].minute == set(range(60))
