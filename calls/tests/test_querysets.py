"""The calls app's query rules, each written once (``calls.querysets``)."""

import pytest
from django.db.models import Sum

from calls.models import CallRecord, DeviceAuthorization
from calls.tests.factories import DeviceAuthorizationFactory, make_call
from contacts.tests.factories import ParentFactory
from schools.tests.factories import DeviceFactory, DeviceGroupFactory, StudentFactory

pytestmark = pytest.mark.django_db


def test_connected_seconds_are_the_billed_seconds_else_keep_time():
    student = StudentFactory()
    device = DeviceFactory(school=student.school)
    billed = make_call(student=student, device=device, keep=100, billed=97)
    unbilled = make_call(student=student, device=device, keep=40, billed=None)
    make_call(student=student, device=device, outcome="timeout")

    total = CallRecord.objects.aggregate(s=Sum(CallRecord.objects.connected_seconds()))["s"]
    assert total == 97 + 40
    assert (billed.connected_seconds, unbilled.connected_seconds) == (97, 40)  # the same rule on one row


def test_an_authorization_covers_its_device_or_the_devices_of_its_group_while_live():
    group = DeviceGroupFactory()
    device = DeviceFactory(school=group.school, group=group)
    other = DeviceFactory(school=group.school)
    direct, through_group, elsewhere = ParentFactory(), ParentFactory(), ParentFactory()
    DeviceAuthorizationFactory(parent=direct, device=device)
    DeviceAuthorizationFactory(parent=through_group, group=group)
    DeviceAuthorizationFactory(parent=elsewhere, device=other)
    DeviceAuthorizationFactory(parent=ParentFactory(), device=device, status=0)  # refused
    DeviceAuthorizationFactory(parent=ParentFactory(), device=device, stale=True)  # errCode 9 seen

    assert {a.parent for a in DeviceAuthorization.objects.covering(device)} == {direct, through_group}
    device.group = None  # left the group: only the direct authorization still covers it
    assert {a.parent for a in DeviceAuthorization.objects.covering(device)} == {direct}


def test_authorizations_reach_their_school_through_device_or_group():
    group = DeviceGroupFactory()
    by_group = DeviceAuthorizationFactory(group=group)
    by_device = DeviceAuthorizationFactory(device=DeviceFactory(school=group.school))
    DeviceAuthorizationFactory(device=DeviceFactory())  # another school
    assert set(DeviceAuthorization.objects.for_school(group.school_id)) == {by_group, by_device}
