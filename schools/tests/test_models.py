"""Field shapes and device-group rules (REFERENCE.md §1)."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import translation

from schools.models import Device, School
from schools.tests.factories import DeviceFactory, DeviceGroupFactory, SchoolFactory, StudentFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("sn", "ok"),
    [
        ("HDSY-TP2_000123", True),
        ("a" * 128, True),
        ("a" * 129, False),
        ("sn with space", False),
        ("终端01", False),
        ("", False),
    ],
)
def test_sn_is_at_most_128_bytes_of_wechat_characters(sn, ok):
    device = DeviceFactory.build(school=SchoolFactory(), sn=sn)
    if ok:
        device.full_clean()
    else:
        with pytest.raises(ValidationError) as exc:
            device.full_clean()
        assert "sn" in exc.value.message_dict


def test_device_name_is_at_most_13_characters():
    school = SchoolFactory()
    DeviceFactory.build(school=school, device_name="教学楼一层东侧楼梯口旁边的").full_clean()  # 13 characters
    with pytest.raises(ValidationError) as exc:
        DeviceFactory.build(school=school, device_name="教学楼一层东侧楼梯口旁边的的").full_clean()
    assert "device_name" in exc.value.message_dict


def test_group_name_is_counted_in_utf8_bytes():
    group = DeviceGroupFactory.build(school=SchoolFactory(), name="实验小学教学楼东侧一号楼")  # 11 × 3 = 33 bytes
    with pytest.raises(ValidationError) as exc:
        group.full_clean()
    assert "name" in exc.value.message_dict
    group.name = "实验小学教学楼"
    group.full_clean()


def test_sn_and_model_id_are_unique_together():
    device = DeviceFactory()
    DeviceFactory(sn=device.sn, model_id="another_model")
    with pytest.raises(IntegrityError), transaction.atomic():
        DeviceFactory(sn=device.sn, model_id=device.model_id)


def test_group_takes_devices_of_its_school_and_type_up_to_capacity():
    school = SchoolFactory()
    group = DeviceGroupFactory(school=school, capacity=2)
    DeviceFactory.create_batch(2, school=school, group=group)
    roomy = DeviceGroupFactory(school=school)
    with translation.override("en"):  # the English messages tell the three rules apart
        with pytest.raises(ValidationError, match="full") as exc:
            DeviceFactory.build(school=school, group=group).full_clean()
        assert list(exc.value.message_dict) == ["group"]
        with pytest.raises(ValidationError, match="type") as exc:
            DeviceFactory.build(school=school, group=roomy, model_type="门禁").full_clean()
        assert list(exc.value.message_dict) == ["group"]
        with pytest.raises(ValidationError, match="another school") as exc:
            DeviceFactory.build(school=SchoolFactory(), group=roomy).full_clean()
        assert list(exc.value.message_dict) == ["group"]
    with pytest.raises(ValidationError, match="已满"):  # staff read it in Chinese by default
        DeviceFactory.build(school=school, group=group).full_clean()
    DeviceFactory.build(school=school, group=roomy).full_clean()


def test_display_name_is_device_name_plus_type():
    assert Device(device_name="iot", model_type="校园电话").display_name == "iot 校园电话"


def test_school_defaults_and_limits_are_database_checks():
    school = SchoolFactory()
    assert (school.contact_limit, school.share_link_ttl) == (10, 24)
    with pytest.raises(IntegrityError), transaction.atomic():
        School.objects.filter(pk=school.pk).update(contact_limit=0)


def test_user_id_is_unique_and_student_number_unique_per_school():
    student = StudentFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        StudentFactory(user_id=student.user_id)
    with pytest.raises(IntegrityError), transaction.atomic():
        StudentFactory(school=student.school, student_number=student.student_number)
    StudentFactory(student_number=student.student_number)  # another school may reuse it
