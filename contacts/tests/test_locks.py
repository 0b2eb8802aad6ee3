"""``contacts.locks``: the student row lock, compiled once per connection (``core.prepared``)."""

import pytest
from django.db import connection, transaction
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext

from contacts.locks import student_lock
from schools.models import Student
from schools.tests.factories import StudentFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_lock_reads_the_student_and_its_school_for_update_in_one_query():
    student = StudentFactory()
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        locked = student_lock(student_id=student.pk)
        again = student_lock(student_id=student.pk)  # the compiled statement again, same answer
    assert locked == again == student and locked.school == student.school
    [first, second] = queries.captured_queries
    assert first["sql"] == second["sql"]
    if connection.vendor == "postgresql":
        assert first["sql"].endswith('FOR UPDATE OF "schools_student"')


def test_outside_a_transaction_or_for_no_student_it_refuses():
    student = StudentFactory()
    with transaction.atomic():
        student_lock(student_id=student.pk)  # compiled on this connection
    if connection.features.has_select_for_update:  # as select_for_update: SQLite has no row lock to hold
        with pytest.raises(TransactionManagementError):
            student_lock(student_id=student.pk)  # no transaction: a lock that would end at once
    with transaction.atomic(), pytest.raises(Student.DoesNotExist):
        student_lock(student_id=student.pk + 1000)
