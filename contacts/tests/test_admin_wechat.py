"""The admin's view of WeChat: differences per school and "check against WeChat now"
(contacts.admin.wechat), against the fake WeChat."""

import pytest
from django.urls import reverse

from contacts.models import BindingDifference, Contact
from contacts.services.reconciliation import bindings_reconcile
from contacts.tests.factories import ContactFactory
from schools.models import StaffMembership
from schools.tests.factories import StaffMembershipFactory, StudentFactory

pytestmark = pytest.mark.django_db

DIFFERENCES = "admin:contacts_bindingdifference_changelist"
STUDENTS = "admin:schools_student_changelist"


@pytest.fixture
def drift(fake_wechat):
    """Two schools' students whose contacts WeChat no longer has; a staff member of the first school."""
    mine, theirs = StudentFactory(name="本校学生"), StudentFactory(name="外校学生")
    for student in (mine, theirs):
        ContactFactory(student=student, role=Contact.Role.ADMIN, parent__openid=f"o{student.pk:027d}")
        bindings_reconcile(student_id=student.pk)  # WeChat has no list: missing_at_wechat
    staff = StaffMembershipFactory(school=mine.school, permissions=["schools", "contacts"])
    return {"mine": mine, "theirs": theirs, "staff": staff, "fake": fake_wechat}


def test_staff_see_their_schools_open_differences(client, drift):
    client.force_login(drift["staff"].user)
    page = client.get(reverse(DIFFERENCES), {"open": "yes"}).content.decode()
    assert "本校学生" in page and "外校学生" not in page


def test_check_now_from_the_differences_resolves_what_wechat_shows(client, drift):
    mine = drift["mine"]
    openid = Contact.objects.get(student=mine).parent.openid
    drift["fake"].contacts[mine.user_id] = {openid: 1}  # the parent bound again at WeChat
    client.force_login(drift["staff"].user)
    ids = list(BindingDifference.objects.values_list("pk", flat=True))  # the other school's too

    response = client.post(
        reverse(DIFFERENCES), {"action": "check_against_wechat", "_selected_action": ids}, follow=True
    )

    assert "已与微信核对 1 名学生" in response.content.decode()
    assert BindingDifference.objects.get(student=mine).resolved_at is not None
    assert BindingDifference.objects.get(student=drift["theirs"]).resolved_at is None  # not in the scoped queryset
    assert Contact.objects.get(student=mine).state == "confirmed"


def test_check_now_from_the_student_list_and_wechat_refusing(client, drift):
    client.force_login(drift["staff"].user)
    drift["fake"].raw_answer = (200, b'{"errcode": 48001, "errmsg": "api unauthorized"}')
    response = client.post(
        reverse(STUDENTS), {"action": "check_against_wechat", "_selected_action": [drift["mine"].pk]}, follow=True
    )
    page = response.content.decode()
    assert "微信未响应" in page and "48001" in page
    assert BindingDifference.objects.get(student=drift["mine"]).resolved_at is None


def test_read_only_viewers_cannot_check(client, drift):
    drift["staff"].role = StaffMembership.Role.VIEWER
    drift["staff"].save()
    client.force_login(drift["staff"].user)
    page = client.get(reverse(DIFFERENCES)).content.decode()
    assert "check_against_wechat" not in page
    requests_before = len(drift["fake"].requests)
    client.post(reverse(STUDENTS), {"action": "check_against_wechat", "_selected_action": [drift["mine"].pk]})
    assert len(drift["fake"].requests) == requests_before
