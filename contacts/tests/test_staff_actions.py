"""Staff actions on a student, with a reason and an audit record (issue 4 §5)."""

import pytest
from django.urls import reverse

from contacts.models import BindEvent, Contact, ShareLink
from contacts.selectors.contacts import pending_actions
from contacts.services.binding import share_link_bind
from contacts.services.share_links import share_link_create
from contacts.services.staff import (
    staff_admin_transfer,
    staff_contact_remove,
    staff_share_links_revoke,
    staff_students_deactivate,
)
from contacts.tests.factories import ContactFactory
from core.errors import ApplicationError, Forbidden, NotFound
from schools.models import AuditLog, StaffMembership
from schools.tests.factories import StaffMembershipFactory, StudentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def family():
    student = StudentFactory(class_name="三年级2班")
    admin = ContactFactory(student=student, role=Contact.Role.ADMIN, relation="妈妈")
    dad = ContactFactory(student=student, relation="爸爸")
    membership = StaffMembershipFactory(school=student.school, permissions=["schools", "contacts"])
    return {"student": student, "admin": admin, "dad": dad, "user": membership.user, "membership": membership}


def test_remove_contact_records_reason_event_and_audit(family):
    staff_contact_remove(
        user=family["user"], student=family["student"], openid=family["dad"].parent.openid, reason="家长申请解绑"
    )
    dad = Contact.objects.get(pk=family["dad"].pk)
    assert dad.state == "removing" and not Contact.objects.served().filter(pk=dad.pk).exists()
    # Only the admin's plugin can delete at WeChat (seed 003 §2.3): it is asked to.
    assert pending_actions(parent=family["admin"].parent)[0]["delete_openid_list"] == [dad.parent.openid]
    assert not BindEvent.objects.exists()  # the cancel comes when WeChat's list drops it
    row = AuditLog.objects.get(action="staff_contact_removed")
    assert (row.actor_user, row.reason, row.student) == (family["user"], "家长申请解绑", family["student"])
    # The school's systems are told, in the same transaction (the outbox).
    assert (row.event.type, row.event.school) == ("contact.changed", family["student"].school)
    assert row.event.data["by_staff"] and row.event.data["reason"] == "家长申请解绑"
    assert row.event.data["user_id"] == family["student"].user_id


def test_reason_is_required_and_scope_is_enforced(family):
    with pytest.raises(ApplicationError) as exc:
        staff_contact_remove(
            user=family["user"], student=family["student"], openid=family["dad"].parent.openid, reason="  "
        )
    assert exc.value.field == "reason"
    other = StudentFactory()
    ContactFactory(student=other)
    with pytest.raises(NotFound):
        staff_share_links_revoke(user=family["user"], students=[other], reason="x")
    family["membership"].role = StaffMembership.Role.VIEWER
    family["membership"].save()
    family["user"].refresh_from_db()
    with pytest.raises(Forbidden) as exc:
        staff_students_deactivate(user=family["user"], students=[family["student"]], reason="x")
    assert exc.value.code == "read_only"
    assert Contact.objects.filter(student=family["student"]).count() == 2 and not AuditLog.objects.exists()


def test_transfer_keeps_exactly_one_admin_and_revokes_old_links(family):
    link, _ = share_link_create(parent=family["admin"].parent, user_id=family["student"].user_id)
    staff_admin_transfer(
        user=family["user"],
        student=family["student"],
        new_admin_openid=family["dad"].parent.openid,
        reason="妈妈换手机",
    )
    # Requested: the admin's plugin carries it out with transerAdmin; WeChat's list then decides.
    assert Contact.objects.get(student=family["student"], role=1) == family["admin"]
    assert pending_actions(parent=family["admin"].parent)[0]["new_admin_openid"] == family["dad"].parent.openid
    link.refresh_from_db()
    assert link.state == ShareLink.State.ACTIVE


def test_in_the_sandbox_staff_transfer_is_done_at_once_and_revokes_old_links(family, settings):
    settings.WECHAT_SANDBOX = True
    link, _ = share_link_create(parent=family["admin"].parent, user_id=family["student"].user_id)
    staff_admin_transfer(
        user=family["user"], student=family["student"], new_admin_openid=family["dad"].parent.openid, reason="换手机"
    )
    assert list(Contact.objects.filter(student=family["student"], role=1)) == [Contact.objects.get(pk=family["dad"].pk)]
    link.refresh_from_db()
    assert link.state == ShareLink.State.REVOKED


def test_deactivate_revokes_links_and_blocks_binding(family):
    _, token = share_link_create(parent=family["admin"].parent, user_id=family["student"].user_id)
    staff_students_deactivate(user=family["user"], students=[family["student"]], reason="转学")
    family["student"].refresh_from_db()
    assert not family["student"].is_active
    assert share_link_bind(parent=ContactFactory().parent, token=token).type == "invalid"


def test_admin_pages_remove_contact_with_reason_and_show_the_audit(client, family):
    client.force_login(family["user"])
    student, dad = family["student"], family["dad"]
    change = reverse("admin:schools_student_change", args=[student.pk])
    page = client.get(change).content.decode()
    remove = reverse("admin:schools_student_remove_contact", args=[student.pk, dad.pk])
    assert remove in page
    assert client.post(remove, {"reason": ""}).status_code == 200  # the form asks again
    assert Contact.objects.filter(pk=dad.pk).exists()
    response = client.post(remove, {"reason": "家长申请解绑"})
    assert response.status_code == 302 and Contact.objects.get(pk=dad.pk).state == "removing"
    page = client.get(change).content.decode()
    assert "家长申请解绑" in page  # the audit inline on the student's page
    assert "待在微信移除" in page  # the contact shows its removal pending at WeChat


def test_transfer_admin_page(client, family):
    client.force_login(family["user"])
    url = reverse("admin:schools_student_transfer_admin", args=[family["student"].pk])
    assert family["dad"].parent.openid in client.get(url).content.decode()
    client.post(url, {"new_admin_openid": family["dad"].parent.openid, "reason": "家长要求"})
    assert Contact.objects.get(pk=family["dad"].pk).admin_requested_at is not None


def test_another_schools_student_pages_are_404(client, family):
    other = ContactFactory()
    client.force_login(family["user"])
    assert (
        client.get(reverse("admin:schools_student_remove_contact", args=[other.student_id, other.pk])).status_code
        == 404
    )
    assert client.get(reverse("admin:schools_student_transfer_admin", args=[other.student_id])).status_code == 404


def test_bulk_deactivate_a_class_asks_for_a_reason(client, family):
    classmates = [family["student"], StudentFactory(school=family["student"].school, class_name="三年级2班")]
    outsider = StudentFactory()
    client.force_login(family["user"])
    url = reverse("admin:schools_student_changelist")
    ids = [str(s.pk) for s in classmates] + [str(outsider.pk)]
    page = client.post(url, {"action": "deactivate_students", "_selected_action": ids})
    assert page.status_code == 200 and "reason" in page.content.decode()
    client.post(url, {"action": "deactivate_students", "_selected_action": ids, "apply": "1", "reason": "毕业"})
    assert all(not s.__class__.objects.get(pk=s.pk).is_active for s in classmates)
    outsider.refresh_from_db()
    assert outsider.is_active  # another school's student was never in the scoped queryset
    assert AuditLog.objects.filter(action="staff_student_deactivated", reason="毕业").count() == 2
