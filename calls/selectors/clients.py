"""The devices and students a vendor's API client may name: those of the schools it is granted.

A device or student of any other school is unknown to the client (9300001 / 9300002, HTTP 404),
exactly like one that does not exist, so nothing leaks between schools. A device and a student of
two different schools of the client answer 9300003 in the check (``calls.selectors.checks``).
"""

from django.db.models import QuerySet

from core.errors import NotFound
from core.prepared import prepared
from core.validators import is_sn, is_wechat_id
from core.wechat.errcodes import ErrCode
from schools.models import ApiClient, Device, Student


def _devices(school_ids: list[int], sn: str, model_id: str) -> QuerySet:
    devices = Device.objects.filter(school_id__in=school_ids, sn=sn, model_id=model_id)
    return devices.select_related("group", "school").order_by()  # unique: no ordering join


@prepared
def _active_device(*, school_ids: list[int], sn: str, model_id: str) -> QuerySet:
    return _devices(school_ids, sn, model_id).active()[:1]


@prepared
def _any_device(*, school_ids: list[int], sn: str, model_id: str) -> QuerySet:
    return _devices(school_ids, sn, model_id)[:1]


def _students(school_ids: list[int], user_id: str) -> QuerySet:
    students = Student.objects.filter(school_id__in=school_ids, user_id=user_id)
    return students.select_related("school__call_policy", "call_policy").order_by()  # unique: no ordering join


@prepared
def _active_student(*, school_ids: list[int], user_id: str) -> QuerySet:
    return _students(school_ids, user_id).active()[:1]


@prepared
def _any_student(*, school_ids: list[int], user_id: str) -> QuerySet:
    return _students(school_ids, user_id)[:1]


def device_get_for_client(*, client: ApiClient, sn: str, model_id: str, active: bool = True) -> Device:
    """The device ``(sn, model_id)`` of one of the client's schools (active only, unless ``active`` is
    False), with its group and school. Raises ``NotFound`` (field ``sn``, errcode 9300001) otherwise."""
    found = []
    if is_sn(sn):
        query = _active_device if active else _any_device
        found = query(school_ids=client.school_id_list(), sn=sn, model_id=model_id)
    device = found[0] if found else None
    if device is None:
        raise NotFound(field="sn", errcode=ErrCode.UNKNOWN_DEVICE)
    return device


def student_get_for_client(*, client: ApiClient, user_id: str, active: bool = True) -> Student:
    """The student ``user_id`` of one of the client's schools (active only, unless ``active`` is
    False), with its school, the school's call policy and its own overrides, in one query. Raises
    ``NotFound`` (field ``user_id``, errcode 9300002) otherwise."""
    found = []
    if is_wechat_id(user_id):
        query = _active_student if active else _any_student
        found = query(school_ids=client.school_id_list(), user_id=user_id)
    student = found[0] if found else None
    if student is None:
        raise NotFound(field="user_id", errcode=ErrCode.UNKNOWN_STUDENT)
    return student
