"""Reads answer in a fixed number of queries, however many contacts a student has."""

import pytest

from contacts.models import Contact
from contacts.selectors.contacts import contact_list_for_parent, parent_students, voip_contact_list
from contacts.tests.factories import ContactFactory
from schools.selectors import api_access_token_get
from schools.services.api_clients import api_access_token_issue
from schools.tests.factories import ApiClientFactory, StudentFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("n_contacts", [1, 10])
def test_contact_list_for_the_admin_is_two_queries(django_assert_num_queries, n_contacts):
    student = StudentFactory()
    admin = ContactFactory(student=student, role=Contact.Role.ADMIN)
    ContactFactory.create_batch(n_contacts - 1, student=student)
    with django_assert_num_queries(2):
        entry = contact_list_for_parent(parent=admin.parent, user_id=student.user_id)
    assert len(entry["openid_list"]) == n_contacts


@pytest.mark.parametrize("n_contacts", [1, 10])
def test_getvoipcontactlist_is_one_query(django_assert_num_queries, n_contacts):
    student = StudentFactory()
    ContactFactory(student=student, role=Contact.Role.ADMIN)
    ContactFactory.create_batch(n_contacts - 1, student=student)
    token, _ = api_access_token_issue(client=ApiClientFactory(schools=[student.school]))
    client = api_access_token_get(token=token).client  # as the request's authentication hands it
    with django_assert_num_queries(1):
        contact_list = voip_contact_list(client=client, user_id=student.user_id)
    assert len(contact_list) == n_contacts and contact_list[0]["role"] == 1


@pytest.mark.parametrize("n_students", [1, 8])
def test_my_students_is_one_query(django_assert_num_queries, n_students):
    contacts = ContactFactory.create_batch(n_students)
    parent = contacts[0].parent
    Contact.objects.filter(pk__in=[c.pk for c in contacts]).update(parent=parent)
    with django_assert_num_queries(1):
        rows = parent_students(parent=parent)
        names = [c.student.school.name for c in rows]
    assert len(names) == n_students
