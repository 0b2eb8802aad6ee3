"""Background roster imports: ``ImportJob`` run by Celery, progress in the admin (issue 4 §3)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from schools.models import ImportJob, Student
from schools.roster.jobs import import_job_create
from schools.tasks import run_import_job
from schools.tests.factories import (
    StaffMembershipFactory,
    StudentFactory,
)
from schools.tests.roster import csv_file, preview, roster_world, student_row

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(client):
    return roster_world(client)


@pytest.fixture
def queued(monkeypatch):
    """The job ids the admin queued (instead of sending them to a broker)."""
    ids = []
    monkeypatch.setattr(run_import_job, "delay", lambda job_id: ids.append(job_id))
    return ids


def make_job(school, rows, *, user=None, name="roster.csv", **kwargs) -> ImportJob:
    upload = csv_file(rows, name=name)
    return import_job_create(
        school=school,
        kind="students",
        file_name=upload.name,
        file_format="csv",
        data=upload.read(),
        created_by=user,
        **kwargs,
    )


def test_a_large_file_becomes_a_job_queued_on_commit(world, queued, settings, django_capture_on_commit_callbacks):
    settings.IMPORT_ASYNC_ROW_THRESHOLD = 5
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = preview(
            world["client"], "schools_student", csv_file([student_row(n) for n in range(1, 7)]), deactivate_missing="on"
        )
    job = ImportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "admin:schools_importjob_change", args=[job.pk]
    )
    assert len(callbacks) == 1 and queued == [job.pk]
    assert (job.school, job.kind, job.status, job.total_rows, job.deactivate_missing) == (
        world["a"],
        "students",
        "pending",
        6,
        True,
    )
    assert job.created_by == world["staff"].user
    assert not Student.objects.exists()

    # At the threshold the file still imports here, with a preview.
    response = preview(world["client"], "schools_student", csv_file([student_row(n) for n in range(1, 6)]))
    assert response.status_code == 200 and "confirm_form" in response.context
    assert ImportJob.objects.count() == 1


def test_without_a_broker_the_job_says_so(world, monkeypatch, django_capture_on_commit_callbacks):
    def no_broker(job_id):
        raise ConnectionError("broker down")

    monkeypatch.setattr(run_import_job, "delay", no_broker)
    with pytest.raises(ConnectionError), django_capture_on_commit_callbacks(execute=True):
        job = make_job(world["a"], [student_row(1)])
    job = ImportJob.objects.get()
    assert job.status == "failed" and job.errors[0]["row"] is None


def test_the_task_runs_the_job_in_chunks_and_records_progress(world, queued, settings):
    settings.IMPORT_JOB_CHUNK_SIZE = 10
    graduate = StudentFactory(school=world["a"], student_number="20190001")
    job = make_job(
        world["a"], [student_row(n) for n in range(1, 36)], user=world["staff"].user, deactivate_missing=True
    )

    with CaptureQueriesContext(connection) as ctx:
        assert run_import_job.apply(args=[job.pk]).get() == "done"
    progress = [
        q["sql"] for q in ctx.captured_queries if q["sql"].startswith("UPDATE") and '"processed_rows"' in q["sql"]
    ]
    assert len(progress) >= 4  # 0, 10, 20, 30 and 35 rows checked

    job.refresh_from_db()
    assert (job.status, job.total_rows, job.processed_rows, job.progress_percent) == ("done", 35, 35, 100)
    assert job.totals == {"new": 35, "update": 0, "skip": 0, "invalid": 0, "error": 0, "deactivated": 1}
    assert job.errors == [] and bytes(job.data) == b"" and job.finished_at is not None
    assert Student.objects.filter(school=world["a"], is_active=True).count() == 35
    graduate.refresh_from_db()
    assert not graduate.is_active


def test_a_job_with_a_bad_row_writes_nothing_and_lists_the_error(world, queued):
    rows = [student_row(n) for n in range(1, 6)]
    rows[3][1] = ""  # row 4: no name
    theirs = StudentFactory(school=world["b"], user_id="wxfp_import_0005", name="乙校学生")
    job = make_job(world["a"], rows)

    assert run_import_job.apply(args=[job.pk]).get() == "failed"
    job.refresh_from_db()
    assert job.status == "failed" and job.totals["invalid"] == 2
    assert [e["row"] for e in job.errors] == [4, 5]
    assert list(job.errors[0]["errors"]) == ["name"] and list(job.errors[1]["errors"]) == ["user_id"]
    assert not Student.objects.filter(school=world["a"]).exists()
    theirs.refresh_from_db()
    assert theirs.name == "乙校学生"


def test_a_redelivered_task_does_not_run_the_job_again(world, queued):
    job = make_job(world["a"], [student_row(1)])
    assert run_import_job.apply(args=[job.pk]).get() == "done"
    Student.objects.all().delete()
    assert run_import_job.apply(args=[job.pk]).get() == "done"
    assert not Student.objects.exists()


def test_an_unreadable_file_fails_the_job(world, queued):
    job = import_job_create(
        school=world["a"], kind="students", file_name="x.xlsx", file_format="xlsx", data=b"not a workbook"
    )
    assert run_import_job.apply(args=[job.pk]).get() == "failed"
    job.refresh_from_db()
    assert job.errors and job.errors[0]["row"] is None


def test_the_admin_shows_the_schools_jobs_with_their_progress(world, client, queued):
    mine = make_job(world["a"], [student_row(1)], name="甲校名单.csv")
    ImportJob.objects.filter(pk=mine.pk).update(total_rows=400, processed_rows=100, status="running")
    theirs = make_job(world["b"], [student_row(2)], name="乙校名单.csv")

    page = client.get(reverse("admin:schools_importjob_changelist")).content.decode()
    assert "25%" in page and "甲校名单.csv" in page and "乙校名单.csv" not in page
    assert client.get(reverse("admin:schools_importjob_change", args=[mine.pk])).status_code == 200
    assert client.get(reverse("admin:schools_importjob_change", args=[theirs.pk])).status_code == 404
    assert client.get(reverse("admin:schools_importjob_add")).status_code == 403


def test_staff_of_another_school_cannot_see_the_job(world, client, queued):
    job = make_job(world["a"], [student_row(1)], name="甲校名单.csv")
    other = StaffMembershipFactory(school=world["b"], permissions=["schools"])
    client.force_login(other.user)
    assert client.get(reverse("admin:schools_importjob_change", args=[job.pk])).status_code == 404
    assert "甲校名单.csv" not in client.get(reverse("admin:schools_importjob_changelist")).content.decode()
