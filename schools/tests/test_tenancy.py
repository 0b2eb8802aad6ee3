"""The one tenancy mechanism: ``SchoolScopedQuerySet.for_school`` and the staff scope of ``schools.tenancy``."""

import pytest
from django.contrib.auth.models import User

from schools.models import School, StaffMembership, Student
from schools.tenancy import NO_SCHOOL, staff_may_change, staff_school_id, staff_scoped
from schools.tests.factories import SchoolFactory, StaffMembershipFactory, StudentFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_staff_see_their_school_superusers_all_and_staff_without_a_school_nothing():
    a, b = SchoolFactory(), SchoolFactory()
    students = {school: StudentFactory(school=school) for school in (a, b)}
    member = StaffMembershipFactory(school=a).user
    superuser = User.objects.create_superuser("root", "r@example.com", "pw")
    stray = UserFactory(username="no-school")

    assert staff_school_id(member) == a.pk and staff_school_id(superuser) is None
    assert staff_school_id(stray) == NO_SCHOOL
    assert list(staff_scoped(Student.objects.all(), member)) == [students[a]]
    assert set(staff_scoped(Student.objects.all(), superuser)) == set(students.values())
    assert not staff_scoped(Student.objects.all(), stray).exists()
    assert list(staff_scoped(School.objects.all(), member)) == [a]  # the school itself: school_path "pk"


def test_only_school_administrators_and_superusers_may_change():
    admin = StaffMembershipFactory(role=StaffMembership.Role.ADMIN).user
    viewer = StaffMembershipFactory(role=StaffMembership.Role.VIEWER).user
    assert staff_may_change(admin) and not staff_may_change(viewer)
    assert staff_may_change(User.objects.create_superuser("root", "r@example.com", "pw"))
    assert not staff_may_change(UserFactory(username="no-school"))


def test_active_means_the_row_and_its_school_are_active():
    open_school, closed_school = SchoolFactory(), SchoolFactory(is_active=False)
    active = StudentFactory(school=open_school)
    StudentFactory(school=open_school, is_active=False)
    StudentFactory(school=closed_school)
    assert list(Student.objects.active()) == [active]
    assert active.is_active_in_active_school
