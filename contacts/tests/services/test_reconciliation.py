"""The portal's contacts brought into line with WeChat's list (contacts.services.reconciliation),
against the fake WeChat's binding state (seed 003 §2.2-§2.5)."""

import contextlib
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from contacts.models import BindEvent, BindingCheck, BindingDifference, Contact, ShareLink
from contacts.selectors.contacts import pending_actions, voip_contact_list
from contacts.services.binding import bind_event_report, share_link_bind
from contacts.services.reconciliation import (
    _debounce_key,
    bindings_reconcile,
    bindings_reconcile_due,
    bindings_reconcile_now,
    bindings_reconcile_soon,
)
from contacts.services.share_links import share_link_create
from contacts.services.staff import staff_admin_transfer, staff_contact_remove
from contacts.tests.factories import ContactFactory, ParentFactory
from core.wechat.client import WeChatUnavailable
from schools.models import AuditLog
from schools.tests.factories import (
    ApiClientFactory,
    SchoolFactory,
    StaffMembershipFactory,
    StudentFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def student():
    return StudentFactory(school=SchoolFactory(contact_limit=3))


@pytest.fixture
def family(student, fake_wechat):
    """An admin and an ordinary contact, confirmed here and bound at WeChat."""
    admin = ContactFactory(student=student, role=Contact.Role.ADMIN, relation="妈妈")
    dad = ContactFactory(student=student, relation="爸爸")
    fake_wechat.contacts[student.user_id] = {admin.parent.openid: 1, dad.parent.openid: 0}
    return admin, dad


def reconcile(student):
    return bindings_reconcile(student_id=student.pk)


def open_differences(student):
    return set(BindingDifference.objects.filter(student=student, resolved_at=None).values_list("kind", "openid"))


def actions(student):
    return list(AuditLog.objects.filter(student=student).values_list("action", flat=True).order_by("id"))


def test_in_step_changes_nothing_and_records_the_check(student, family):
    assert reconcile(student) == {"wechat": 2, "changes": []}
    assert not BindingDifference.objects.exists() and not AuditLog.objects.exists()
    check = BindingCheck.objects.get(student=student)
    assert check.contacts_at_wechat == 2 and check.checked_at is not None


def test_a_contact_wechat_has_and_the_portal_lacks_is_recorded(student, family, fake_wechat):
    fake_wechat.contacts[student.user_id]["oBoundElsewhere"] = 0
    result = reconcile(student)
    contact = Contact.objects.get(student=student, parent__openid="oBoundElsewhere")
    assert (contact.bound_via, contact.state, contact.role) == ("wechat", "confirmed", 0)
    assert result["changes"] == [("wechat_contact_found", "oBoundElsewhere")]
    difference = BindingDifference.objects.get(kind="found_at_wechat")
    assert difference.openid == "oBoundElsewhere" and difference.resolved_at is not None  # fixed by itself
    served = voip_contact_list(client=client_of(student), user_id=student.user_id)
    assert "oBoundElsewhere" in [c["open_id"] for c in served]


def client_of(student):
    return ApiClientFactory(schools=[student.school])


def test_a_contact_the_portal_has_and_wechat_lacks_is_no_longer_served_until_wechat_has_it(
    student, family, fake_wechat
):
    admin, dad = family
    del fake_wechat.contacts[student.user_id][dad.parent.openid]

    reconcile(student)

    dad.refresh_from_db()
    assert dad.state == "unconfirmed"
    assert open_differences(student) == {("missing_at_wechat", dad.parent.openid)}
    assert actions(student) == ["wechat_contact_missing"]
    listed = [c["open_id"] for c in voip_contact_list(client=client_of(student), user_id=student.user_id)]
    assert listed == [admin.parent.openid]
    reconcile(student)  # still missing: one open difference, no second audit row
    assert BindingDifference.objects.filter(kind="missing_at_wechat").count() == 1
    assert actions(student) == ["wechat_contact_missing"]

    fake_wechat.contacts[student.user_id][dad.parent.openid] = 0  # bound again at WeChat
    reconcile(student)
    dad.refresh_from_db()
    assert dad.state == "confirmed" and open_differences(student) == set()
    assert Contact.objects.served().filter(pk=dad.pk).exists()


def test_wechat_without_a_list_errcode_1_leaves_no_contact_served(student, family, fake_wechat):
    fake_wechat.contacts[student.user_id] = {}
    assert reconcile(student)["wechat"] == 0
    assert set(Contact.objects.values_list("state", flat=True)) == {"unconfirmed"}
    assert voip_contact_list(client=client_of(student), user_id=student.user_id) == []


def test_a_reservation_is_confirmed_when_wechat_has_it_and_released_when_it_never_does(
    student, family, fake_wechat, settings
):
    admin, _dad = family
    student.school.contact_limit = 10
    student.school.save()
    _link, token = share_link_create(parent=admin.parent, user_id=student.user_id)
    grandma, grandpa = ParentFactory(), ParentFactory()
    assert share_link_bind(parent=grandma, token=token).allowed
    assert share_link_bind(parent=grandpa, token=token).allowed
    fake_wechat.contacts[student.user_id][grandma.openid] = 0  # only grandma's plugin bound

    reconcile(student)
    states = dict(Contact.objects.values_list("parent__openid", "state"))
    assert (states[grandma.openid], states[grandpa.openid]) == ("confirmed", "pending")  # young: kept

    later = timezone.now() + timedelta(minutes=settings.BINDING_PENDING_MINUTES, seconds=1)
    bindings_reconcile(student_id=student.pk, now=later)
    assert not Contact.objects.filter(parent=grandpa).exists()  # the limit's place is given back
    released = BindingDifference.objects.get(kind="pending_expired")
    assert released.openid == grandpa.openid and released.resolved_at == later
    assert "binding_released" in actions(student)


def test_a_removal_stays_pending_until_wechat_drops_it(student, family, fake_wechat):
    admin, dad = family
    staff = StaffMembershipFactory(school=student.school, permissions=["schools", "contacts"])
    staff_contact_remove(user=staff.user, student=student, openid=dad.parent.openid, reason="家长申请")

    reconcile(student)  # the admin has not deleted it at WeChat yet
    assert Contact.objects.get(pk=dad.pk).state == "removing"
    assert open_differences(student) == {("removal_pending", dad.parent.openid)}
    assert pending_actions(parent=admin.parent)[0]["delete_openid_list"] == [dad.parent.openid]

    fake_wechat.plugin_delete(student.user_id, admin.parent.openid, [dad.parent.openid])
    reconcile(student)
    assert not Contact.objects.filter(pk=dad.pk).exists()
    assert open_differences(student) == set()
    assert BindEvent.objects.get(type="cancel").openid == dad.parent.openid
    assert pending_actions(parent=admin.parent) == []


def test_roles_follow_wechat_and_the_demoted_admins_links_stop(student, family, fake_wechat):
    admin, dad = family
    link, _token = share_link_create(parent=admin.parent, user_id=student.user_id)
    fake_wechat.plugin_transfer(student.user_id, admin.parent.openid, dad.parent.openid)  # done elsewhere

    reconcile(student)

    roles = dict(Contact.objects.values_list("parent__openid", "role"))
    assert roles == {admin.parent.openid: 0, dad.parent.openid: 1}
    link.refresh_from_db()
    assert link.state == ShareLink.State.REVOKED
    assert set(BindingDifference.objects.values_list("kind", "openid")) == {
        ("role_aligned", admin.parent.openid),
        ("role_aligned", dad.parent.openid),
    }


def test_a_staff_transfer_is_pending_until_the_admin_carries_it_out(student, family, fake_wechat):
    admin, dad = family
    staff = StaffMembershipFactory(school=student.school, permissions=["schools", "contacts"])
    staff_admin_transfer(user=staff.user, student=student, new_admin_openid=dad.parent.openid, reason="换手机")

    reconcile(student)
    assert open_differences(student) == {("admin_request_pending", dad.parent.openid)}
    assert pending_actions(parent=admin.parent)[0]["new_admin_openid"] == dad.parent.openid

    fake_wechat.plugin_transfer(student.user_id, admin.parent.openid, dad.parent.openid)
    reconcile(student)
    dad.refresh_from_db()
    assert (dad.role, dad.admin_requested_at) == (Contact.Role.ADMIN, None)
    assert open_differences(student) == set()


def test_a_list_over_the_schools_limit_is_flagged_once(student, family, fake_wechat):
    for n in range(3):
        fake_wechat.contacts[student.user_id][f"oExtra{n}"] = 0  # 5 at WeChat, the school allows 3
    reconcile(student)
    reconcile(student)
    assert open_differences(student) == {("over_limit", "")}
    assert actions(student).count("wechat_over_limit") == 1
    over = BindingDifference.objects.get(kind="over_limit")
    assert over.detail == {"contacts": 5, "limit": 3}

    for n in range(3):
        fake_wechat.plugin_delete(student.user_id, family[0].parent.openid, [f"oExtra{n}"])
    reconcile(student)
    assert ("over_limit", "") not in open_differences(student)  # resolved once WeChat is back under the limit


def test_wechat_unreachable_changes_nothing(student, family, fake_wechat):
    fake_wechat.raw_answer = (502, b"bad gateway")
    with pytest.raises(WeChatUnavailable):
        reconcile(student)
    assert not BindingCheck.objects.exists() and not AuditLog.objects.exists()


def test_the_sandbox_never_reads_wechat(student, family, fake_wechat, settings):
    settings.WECHAT_SANDBOX = True
    assert reconcile(student) == {"wechat": None, "changes": []}
    assert fake_wechat.requests == []


# --- reports set off a check, debounced --------------------------------------------------------------


def test_reports_while_a_check_is_queued_queue_no_second_one(
    student, family, fake_wechat, django_capture_on_commit_callbacks
):
    admin, _dad = family
    cache.add(_debounce_key(student.pk), 1)  # a check is queued, due in WECHAT_RECONCILE_DEBOUNCE_SECONDS
    with django_capture_on_commit_callbacks(execute=True):
        bind_event_report(parent=admin.parent, type="binded", err_msg="", user_id=student.user_id)
        bindings_reconcile_soon(student_ids=[student.pk])
    assert fake_wechat.paths() == []  # the queued check will read the list after these reports

    reconcile(student)  # the queued check runs: it opens the window again
    with django_capture_on_commit_callbacks(execute=True):
        bind_event_report(parent=admin.parent, type="binded", err_msg="", user_id=student.user_id)
    assert fake_wechat.paths().count("/wxa/business/getvoipcontactlist") == 2


def test_a_rolled_back_report_queues_nothing(student, family, fake_wechat, django_capture_on_commit_callbacks):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        contextlib.suppress(RuntimeError),
        transaction.atomic(),
    ):
        bindings_reconcile_soon(student_ids=[student.pk])
        raise RuntimeError("the report's transaction fails")
    assert callbacks == [] and fake_wechat.paths() == []
    assert cache.get(_debounce_key(student.pk)) is None  # and the window stays open for the next report


def test_a_failed_plugin_report_releases_the_reservation_and_auth_clears_scope(student, family):
    admin, _dad = family
    _link, token = share_link_create(parent=admin.parent, user_id=student.user_id)
    grandma = ParentFactory()
    assert share_link_bind(parent=grandma, token=token).allowed
    for _ in range(2):  # idempotent
        contact = bind_event_report(
            parent=grandma, type="auth", err_msg="bindContact:fail auth deny", user_id=student.user_id
        )
        assert contact is None
    grandma.refresh_from_db()
    assert not Contact.objects.filter(parent=grandma).exists()
    assert (grandma.voip_scope_granted, grandma.voip_scope_lost_at is not None) == (False, True)
    assert actions(student).count("binding_released") == 1
    assert BindEvent.objects.filter(openid=grandma.openid, source="plugin", type="auth").count() == 2


def test_a_success_report_is_checked_at_wechat_before_anything_is_served(
    student, family, fake_wechat, django_capture_on_commit_callbacks
):
    admin, _dad = family
    _link, token = share_link_create(parent=admin.parent, user_id=student.user_id)
    grandma = ParentFactory(openid="oGrandma")
    fake_wechat.scope.add(grandma.openid)
    assert share_link_bind(parent=grandma, token=token).allowed

    with django_capture_on_commit_callbacks(execute=True):  # claims success; WeChat never bound her
        bind_event_report(parent=grandma, type="success", err_msg="bindContact:ok", user_id=student.user_id)
    assert Contact.objects.get(parent=grandma).state == "pending"
    client = client_of(student)
    assert grandma.openid not in [c["open_id"] for c in voip_contact_list(client=client, user_id=student.user_id)]

    assert fake_wechat.plugin_bind_shared(student.user_id, grandma.openid, shared_by=admin.parent.openid) == "success"
    with django_capture_on_commit_callbacks(execute=True):
        bind_event_report(parent=grandma, type="success", err_msg="bindContact:ok", user_id=student.user_id)
    assert Contact.objects.get(parent=grandma).state == "confirmed"
    assert grandma.openid in [c["open_id"] for c in voip_contact_list(client=client, user_id=student.user_id)]


# --- the rolling schedule and staff's check-now ---------------------------------------------------------


def test_the_rolling_check_takes_the_longest_unchecked_students_at_the_rate_that_covers_the_period(
    fake_wechat, settings
):
    settings.WECHAT_RECONCILE_PERIOD_HOURS = 1  # 60 runs per period
    students = [StudentFactory() for _ in range(130)]  # → ceil(130 / 60) = 3 per run
    StudentFactory(is_active=False)  # never checked
    now = timezone.now()

    assert bindings_reconcile_due(now=now) == 3
    first = set(BindingCheck.objects.values_list("student_id", flat=True))
    assert first == {s.pk for s in students[:3]}  # never checked first, then by id
    assert bindings_reconcile_due(now=now + timedelta(minutes=1)) == 3
    assert BindingCheck.objects.count() == 6  # resumed where the last run stopped

    settings.WECHAT_RECONCILE_MAX_PER_MINUTE = 2  # WeChat's rate limit caps a run
    assert bindings_reconcile_due(now=now + timedelta(minutes=2)) == 2


def test_the_rolling_check_stops_at_the_first_failure_and_resumes_there(fake_wechat, settings):
    settings.WECHAT_RECONCILE_PERIOD_HOURS = 1
    for _ in range(120):
        StudentFactory()
    fake_wechat.raw_answer = (503, b"busy")
    assert bindings_reconcile_due() == 0
    fake_wechat.raw_answer = None
    assert bindings_reconcile_due() == 2 and BindingCheck.objects.count() == 2


def test_check_now_reports_each_student_wechat_could_not_answer_for(student, family, fake_wechat):
    other = StudentFactory(school=student.school)
    checked, errors = bindings_reconcile_now(student_ids=[student.pk, other.pk, student.pk])
    assert (checked, errors) == (2, [])
    fake_wechat.raw_answer = (200, b'{"errcode": 48001, "errmsg": "api unauthorized"}')
    checked, errors = bindings_reconcile_now(student_ids=[student.pk])
    assert checked == 0 and "48001" in errors[0] and student.name in errors[0]
