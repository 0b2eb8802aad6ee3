"""The devices and students a vendor's API client may name: those of the schools it is granted.

A device or student of any other school is unknown to the client (9300001 / 9300002, HTTP 404),
exactly like one that does not exist, so nothing leaks between schools. A device and a student of
two different schools of the client answer 9300003 in the check (``calls.selectors.checks``).
"""

from core.errors import NotFound
from core.validators import is_sn, is_wechat_id
from core.wechat.errcodes import ErrCode
from schools.models import ApiClient, Device, Student


def device_get_for_client(*, client: ApiClient, sn: str, model_id: str, active: bool = True) -> Device:
    """The device ``(sn, model_id)`` of one of the client's schools (active only, unless ``active`` is
    False), with its group and school. Raises ``NotFound`` (field ``sn``, errcode 9300001) otherwise."""
    device = None
    if is_sn(sn):
        devices = Device.objects.filter(school_id__in=client.school_ids(), sn=sn, model_id=model_id)
        devices = devices.select_related("group", "school")
        device = (devices.active() if active else devices).order_by().first()  # unique: no ordering join
    if device is None:
        raise NotFound(field="sn", errcode=ErrCode.UNKNOWN_DEVICE)
    return device


def student_get_for_client(*, client: ApiClient, user_id: str, active: bool = True) -> Student:
    """The student ``user_id`` of one of the client's schools (active only, unless ``active`` is
    False), with its school, the school's call policy and its own overrides, in one query. Raises
    ``NotFound`` (field ``user_id``, errcode 9300002) otherwise."""
    student = None
    if is_wechat_id(user_id):
        students = Student.objects.filter(school_id__in=client.school_ids())
        students = students.select_related("school__call_policy", "call_policy")
        student = (students.active() if active else students).filter(user_id=user_id).order_by().first()
    if student is None:
        raise NotFound(field="user_id", errcode=ErrCode.UNKNOWN_STUDENT)
    return student
