"""Authorization records (seed 000): groups cover their devices, direct grants survive regrouping, history kept."""

import pytest
from django.utils import timezone

from calls.models import DeviceAuthorization, DeviceAuthorizationHistory
from calls.selectors.checks import iot_bind_contacts
from calls.services.authorizations import (
    AuthorizationItem,
    authorization_record,
    authorizations_mark_stale,
    authorizations_reconcile,
)
from contacts.tests.factories import ContactFactory
from core.errors import ApplicationError, NotFound
from schools.tests.factories import DeviceFactory, DeviceGroupFactory, SchoolFactory, StudentFactory

pytestmark = pytest.mark.django_db
Item = AuthorizationItem


@pytest.fixture
def world():
    school = SchoolFactory()
    group = DeviceGroupFactory(school=school)
    grouped = DeviceFactory(school=school, group=group)
    loose = DeviceFactory(school=school)
    contact = ContactFactory(student=StudentFactory(school=school))
    return {"school": school, "group": group, "grouped": grouped, "loose": loose, "parent": contact.parent}


def authorized(parent, device) -> bool:
    return iot_bind_contacts(device=device, openid_list=[parent.openid])[0]["status"] == 1


def test_group_authorization_covers_its_devices_only_while_they_are_in_it(world):
    parent, grouped, loose = world["parent"], world["grouped"], world["loose"]
    authorization_record(parent=parent, item=Item(status=1, group_id=world["group"].group_id))
    assert authorized(parent, grouped) and not authorized(parent, loose)
    grouped.group = None
    grouped.save()
    assert not authorized(parent, grouped)


def test_direct_authorization_survives_leaving_the_group(world):
    parent, grouped = world["parent"], world["grouped"]
    authorization_record(parent=parent, item=Item(status=1, sn=grouped.sn, model_id=grouped.model_id))
    grouped.group = None
    grouped.save()
    assert authorized(parent, grouped)


def test_every_change_is_history_and_repeats_are_not(world):
    parent, group = world["parent"], world["group"]
    for status in (1, 1, 0, 1):
        authorization_record(parent=parent, item=Item(status=status, group_id=group.group_id))
    assert list(DeviceAuthorizationHistory.objects.order_by("id").values_list("status", "source")) == [
        (1, "request"),
        (0, "request"),
        (1, "request"),
    ]
    assert DeviceAuthorization.objects.get().status == 1


def test_reconcile_replaces_the_records(world):
    parent, group, loose, grouped = world["parent"], world["group"], world["loose"], world["grouped"]
    authorization_record(parent=parent, item=Item(status=1, group_id=group.group_id))
    authorization_record(parent=parent, item=Item(status=1, sn=grouped.sn, model_id=grouped.model_id))
    records = authorizations_reconcile(parent=parent, items=[Item(status=1, sn=loose.sn, model_id=loose.model_id)])
    assert [r.device for r in records] == [loose]
    assert DeviceAuthorization.objects.filter(parent=parent).count() == 1
    removed = DeviceAuthorizationHistory.objects.filter(status__isnull=True, source="reconcile")
    assert {(h.device, h.group) for h in removed} == {(None, group), (grouped, None)}


def test_unknown_or_foreign_devices_are_refused_all_or_nothing(world):
    parent, loose = world["parent"], world["loose"]
    foreign = DeviceFactory(school=SchoolFactory())
    with pytest.raises(NotFound) as exc:
        authorizations_reconcile(
            parent=parent,
            items=[
                Item(status=1, sn=loose.sn, model_id=loose.model_id),
                Item(status=1, sn=foreign.sn, model_id=foreign.model_id),
            ],
        )
    assert exc.value.field == "list[1].sn"
    with pytest.raises(NotFound) as exc:
        authorization_record(parent=parent, item=Item(status=1, group_id="grp_unknown"))
    assert exc.value.field == "group_id"
    with pytest.raises(ApplicationError):
        authorizations_reconcile(parent=parent, items=[Item(status=1, group_id=world["group"].group_id)] * 2)
    assert not DeviceAuthorization.objects.exists() and not DeviceAuthorizationHistory.objects.exists()


def test_stale_record_is_not_trusted_until_reported_again(world):
    parent, group, grouped = world["parent"], world["group"], world["grouped"]
    authorization_record(parent=parent, item=Item(status=1, group_id=group.group_id))
    assert authorizations_mark_stale(parent=parent, device=grouped, now=timezone.now()) == 1
    assert not authorized(parent, grouped)
    authorization_record(parent=parent, item=Item(status=1, group_id=group.group_id))
    assert authorized(parent, grouped)
