"""The invariant checks an operator runs (issue 10 §4): ``manage.py check_invariants``, and the daily
beat task ``calls.tasks.check_invariants`` whose report platform superusers read in the admin.

A database the services built reports nothing; each rule broken directly in the database (as a
bug, a manual edit or a lost write would) is printed with a readable line and makes the command
exit 1. The device-read invariant cannot be broken by data: it is broken by a regression in the
reads themselves, which the check goes through.
"""

from io import StringIO

import pytest
from celery.schedules import crontab
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import translation

from calls.invariants import ALL_INVARIANTS
from calls.models import InvariantCheckRun
from calls.tasks import check_invariants
from contacts.models import BindEvent, BindingDifference, Contact
from contacts.services.binding import admin_bind, share_link_bind
from contacts.services.share_links import share_link_create
from contacts.services.staff import staff_students_deactivate
from contacts.tests.factories import ContactFactory, ParentFactory
from schools.invariants import Invariant, invariants_check
from schools.models import AuditLog, OutboxEvent, School
from schools.querysets import ActiveInSchoolQuerySet
from schools.tests.factories import ApiClientFactory, SchoolFactory, StaffMembershipFactory, StudentFactory

pytestmark = pytest.mark.django_db

CODES = [invariant.code for invariant in ALL_INVARIANTS]


@pytest.fixture(autouse=True)
def _english():
    """The problem lines are written in the language active when the check runs (the portal's, Chinese,
    for the beat task); these tests read them in English."""
    with translation.override("en"):
        yield


@pytest.fixture
def school(settings):
    """A school whose students were bound by the services (in the sandbox, where WeChat's part is
    played at once): a family of two (admin and a share-link contact) with a refusal recorded, and a
    deactivated student whose confirmed contacts a vendor's client could ask for."""
    settings.WECHAT_SANDBOX = True
    school = SchoolFactory(contact_limit=2)
    ApiClientFactory(schools=[school])
    student = StudentFactory(school=school)
    mum, dad, grandma = ParentFactory(), ParentFactory(), ParentFactory()
    assert admin_bind(parent=mum, user_id=student.user_id, relation="妈妈").allowed
    _link, token = share_link_create(parent=mum, user_id=student.user_id)
    assert share_link_bind(parent=dad, token=token, relation="爸爸").allowed
    assert share_link_bind(parent=grandma, token=token).type == "overload"  # a BindEvent and its outbox event
    gone = StudentFactory(school=school)
    ContactFactory(student=gone, role=Contact.Role.ADMIN)  # confirmed, served while the student was active
    staff_students_deactivate(user=StaffMembershipFactory(school=school).user, students=[gone], reason="毕业")
    return school


def run_command(*args) -> tuple[str, int]:
    out = StringIO()
    try:
        call_command("check_invariants", *args, stdout=out)
    except CommandError as exc:
        out.write(str(exc))
        return out.getvalue(), exc.returncode
    return out.getvalue(), 0


def test_a_database_the_services_built_breaks_nothing(school):
    output, code = run_command()
    assert code == 0
    for invariant in ALL_INVARIANTS:
        assert f"ok    {invariant.code}: {invariant.title}" in output
    assert f"{len(ALL_INVARIANTS)} invariants checked: 0 broken, 0 problem(s)." in output
    assert AuditLog.objects.filter(action="staff_student_deactivated").exists()  # the check had work to do
    assert BindEvent.objects.filter(type="overload").exists() and not InvariantCheckRun.objects.exists()


def test_each_rule_broken_in_the_database_is_printed_and_the_command_exits_1(school):
    student = school.students.filter(is_active=True).get()
    School.objects.filter(pk=school.pk).update(contact_limit=1)  # 2 contacts now exceed it
    lone = StudentFactory(school=school)
    ContactFactory(student=lone, parent__openid="oWithoutAdmin")  # a contact, and no admin
    row = AuditLog.objects.create(school=school, student=student, action=AuditLog.Action.CONTACT_BOUND)
    lost = BindEvent.objects.create(type="success", err_msg="ok", user_id=student.user_id, openid="oX", student=student)

    output, code = run_command()

    assert code == 1
    assert "FAIL  contacts.contact_limit: " in output
    assert f"{student.name} ({student.user_id}) has 2 contacts; the school's limit is 1." in output
    assert f"{lone.name} ({lone.user_id}) has 0 admin contacts among 1 contacts." in output
    assert f"Audit row {row.pk} (contact_bound, {student}, " in output
    assert f"bindContact event {lost.pk} (success, oX → {student.user_id}, " in output
    assert "ok    calls.inactive_students_not_served" in output
    assert f"{len(ALL_INVARIANTS)} invariants checked: 4 broken, 4 problem(s)." in output


def test_an_audit_row_whose_event_was_lost_is_reported(school):
    OutboxEvent.objects.filter(audit_log__action=AuditLog.Action.CONTACT_BOUND).delete()
    output, code = run_command()
    assert code == 1 and "FAIL  schools.audit_rows_have_events: " in output and "(contact_bound, " in output


def test_wechat_holding_more_than_the_limit_is_not_a_problem_once_flagged(school):
    student = school.students.filter(is_active=True).get()
    School.objects.filter(pk=school.pk).update(contact_limit=1)
    BindingDifference.objects.create(student=student, kind=BindingDifference.Kind.OVER_LIMIT, detail={"contacts": 2})
    assert run_command()[1] == 0


def test_a_device_read_that_serves_an_inactive_student_is_reported(school, monkeypatch):
    """A regression in the one rule of "active" (a student's own flag forgotten) serves the graduate's
    contacts to its school's vendor; the check, going through the device reads, sees it."""
    gone = school.students.get(is_active=False)
    monkeypatch.setattr(ActiveInSchoolQuerySet, "active", lambda self: self.filter(school__is_active=True))
    output, code = run_command()
    assert code == 1
    openid = gone.contacts.get().parent.openid
    assert f"{gone.name} ({gone.user_id}) is inactive, yet the device API of " in output
    assert f"serves its contacts {openid}." in output


def test_the_lines_are_capped_the_count_is_not(school):
    for _ in range(3):
        ContactFactory(student=StudentFactory(school=school))
    output, code = run_command("--limit", "1")
    assert code == 1
    assert "FAIL  contacts.one_admin: A student with contacts has exactly one admin contact. (3)" in output
    assert output.count("admin contacts among") == 1 and "… and 2 more" in output


def test_a_check_that_fails_is_reported_and_the_others_still_run(school):
    def broken(limit):
        raise RuntimeError("no such table")

    results = invariants_check([Invariant("x.broken", "t", broken), *ALL_INVARIANTS])
    assert (results[0].total, results[0].error) == (1, True) and "RuntimeError: no such table" in results[0].lines[0]
    assert [r.code for r in results[1:]] == CODES and all(r.total == 0 for r in results[1:])


def test_the_beat_task_stores_a_report_and_record_does_too(school):
    assert check_invariants.delay().get() == 0
    clean = InvariantCheckRun.objects.get()
    assert clean.problems == 0 and [d["code"] for d in clean.details] == CODES
    assert clean.finished_at >= clean.started_at

    Contact.objects.filter(role=Contact.Role.ADMIN).update(role=Contact.Role.ORDINARY)
    assert check_invariants() == 2  # both students with contacts lost their admin
    assert run_command("--record")[1] == 1
    latest = InvariantCheckRun.objects.first()
    assert InvariantCheckRun.objects.count() == 3 and latest.problems == 2
    one_admin = next(d for d in latest.details if d["code"] == "contacts.one_admin")
    assert one_admin["total"] == 2 and len(one_admin["lines"]) == 2 and not one_admin["error"]


def test_beat_runs_the_check_daily_at_four():
    entry = settings.CELERY_BEAT_SCHEDULE["check-invariants"]
    assert entry["task"] == check_invariants.name == "calls.tasks.check_invariants"
    assert entry["schedule"] == crontab(hour=4, minute=0)


def test_platform_superusers_read_the_report_in_the_admin_and_school_staff_cannot(client, school):
    Contact.objects.filter(role=Contact.Role.ADMIN).update(role=Contact.Role.ORDINARY)
    check_invariants.delay()
    run = InvariantCheckRun.objects.get()
    changelist = reverse("admin:calls_invariantcheckrun_changelist")
    change = reverse("admin:calls_invariantcheckrun_change", args=[run.pk])

    client.force_login(StaffMembershipFactory(school=school, permissions=("calls",)).user)
    assert client.get(changelist).status_code == 403 and client.get(change).status_code == 403

    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    assert "contacts.one_admin" in client.get(changelist).content.decode()
    page = client.get(change).content.decode()
    student = school.students.filter(is_active=True).get()
    assert f"{student.user_id}) has 0 admin contacts among 2 contacts." in page
    assert client.post(reverse("admin:calls_invariantcheckrun_delete", args=[run.pk])).status_code == 403
    assert InvariantCheckRun.objects.filter(pk=run.pk).exists()
