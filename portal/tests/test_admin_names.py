"""Staff pages name contacts and parents as relation + student, the openid masked (issue 12 §1).

The openid is whole only on the contact's and the parent's own page; every list, and every other
row's page, shows it masked (``core.masking.mask_openid``: ``oMam…0001``).
"""

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from calls.tests.factories import make_call
from contacts.models import BindEvent, Contact
from contacts.tests.factories import ContactFactory
from schools.models import AuditLog
from schools.tests.factories import DeviceFactory, StudentFactory

pytestmark = pytest.mark.django_db

OPENID = "oMama000000000000000000000001"
MASKED = "oMam…0001"


@pytest.fixture
def mama(client):
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    student = StudentFactory(name="王子涵")
    return ContactFactory(student=student, role=Contact.Role.ADMIN, relation="妈妈", parent__openid=OPENID)


def page(client, name, *args):
    response = client.get(reverse(f"admin:{name}", args=args))
    assert response.status_code == 200, name
    return response.content.decode()


def test_contact_list_names_the_students_relation_with_the_openid_masked(client, mama):
    html = page(client, "contacts_contact_changelist")
    assert "王子涵的妈妈" in html and MASKED in html
    assert OPENID not in html


def test_contact_and_parent_pages_show_the_whole_openid(client, mama):
    assert OPENID in page(client, "contacts_contact_change", mama.pk)
    assert OPENID in page(client, "contacts_parent_change", mama.parent.pk)


def test_parent_list_shows_its_contacts_and_the_openid_masked(client, mama):
    html = page(client, "contacts_parent_changelist")
    assert "王子涵的妈妈" in html and MASKED in html
    assert OPENID not in html


def test_other_rows_show_the_openid_masked(client, mama):
    student = mama.student
    call = make_call(student=student, device=DeviceFactory(school=student.school), openid=OPENID)
    event = BindEvent.objects.create(type="success", err_msg="ok", user_id=student.user_id, openid=OPENID)
    AuditLog.objects.create(school=student.school, student=student, action="admin_bound", actor_openid=OPENID)
    for args in [
        ("calls_callrecord_changelist",),
        ("calls_callrecord_change", call.pk),
        ("contacts_bindevent_changelist",),
        ("contacts_bindevent_change", event.pk),
        ("schools_auditlog_changelist",),
        ("schools_student_change", student.pk),  # its contacts and its audit trail
    ]:
        html = page(client, *args)
        assert OPENID not in html, args[0]
        assert MASKED in html, args[0]


def test_call_records_name_who_was_called_as_the_students_contact(client, mama):
    student = mama.student
    device = DeviceFactory(school=student.school)
    called = make_call(student=student, device=device, openid=OPENID)
    called.parent = mama.parent
    called.save(update_fields=["parent"])
    make_call(student=student, device=device, openid="oNobody0000000000000000000001")  # no parent known
    html = page(client, "calls_callrecord_changelist")
    assert html.count("王子涵的妈妈") == 1 and OPENID not in html
    assert "王子涵的妈妈" in page(client, "calls_callrecord_change", called.pk)
