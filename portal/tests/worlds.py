"""Schools with a row of every model the admin shows (``make_world``): the tenancy and role tests walk them."""

import uuid
from datetime import time, timedelta

from django.contrib.auth.models import Permission
from django.utils import timezone

from calls.models import CallingWindow, CallPolicy, CallRecord, DeviceAuthorizationHistory, StudentCallPolicy
from calls.tests.factories import DeviceAuthorizationFactory
from contacts.models import (
    BindEvent,
    BindingCheck,
    BindingDifference,
    ClaimCode,
    Contact,
    MiniProgramCode,
    MiniProgramScene,
    ParentToken,
    ShareLink,
)
from contacts.tests.factories import ContactFactory
from schools.models import AuditLog, ImportJob, OutboxEvent, WebhookDelivery, WebhookEndpoint
from schools.services.api_clients import api_access_token_issue, api_client_create
from schools.tests.factories import (
    DeviceFactory,
    DeviceGroupFactory,
    SchoolFactory,
    StaffMembershipFactory,
    StudentFactory,
    UserFactory,
)


def make_world(tag: str):
    """A school with one row of every model the admin shows, and a staff user with every permission.

    Every text of the world carries its marker (``ZZA``, ``ZZB``), so that a page of one school
    that shows anything of the other is caught by a plain substring test.
    """
    m = f"ZZ{tag}"
    school = SchoolFactory(name=f"学校{m}")
    group = DeviceGroupFactory(school=school, name=f"楼{m}", group_id=f"grp_{m}")
    device = DeviceFactory(school=school, group=group, sn=f"SN-{m}", device_name=f"电话{m}", location=f"位置{m}")
    student = StudentFactory(school=school, name=f"学生{m}", user_id=f"wxfp_{m}", grade=f"{m}年级", class_name=f"{m}班")
    contact = ContactFactory(
        student=student, role=Contact.Role.ADMIN, relation=f"妈{m}", parent__openid=f"o{m}", parent__nickname=f"家长{m}"
    )
    parent = contact.parent
    link = ShareLink.objects.create(
        token_hash=f"{tag}" * 64, student=student, issued_by=parent, expires_at=timezone.now() + timedelta(hours=1)
    )
    BindEvent.objects.create(
        type="success", err_msg="ok", user_id=student.user_id, openid=parent.openid, student=student, share_link=link
    )
    ParentToken.objects.create(parent=parent, token_hash=f"t{tag}" * 32, expires_at=timezone.now() + timedelta(days=1))
    ClaimCode.objects.create(student=student, code_hash=f"c{tag}" * 32, expires_at=timezone.now() + timedelta(days=30))
    client, _ = api_client_create(school_ids=[school.pk], name=f"厂商{m}")
    api_access_token_issue(client=client)
    AuditLog.objects.create(school=school, student=student, action="admin_bound", reason=f"原因{m}")
    CallPolicy.objects.create(school=school)
    StudentCallPolicy.objects.create(student=student, daily_minutes=10)
    CallingWindow.objects.create(school=school, weekday=0, start_time=time(8), end_time=time(9))
    DeviceAuthorizationFactory(parent=parent, group=group)
    DeviceAuthorizationFactory(parent=parent, device=device)
    DeviceAuthorizationHistory.objects.create(parent=parent, device=device, status=1, source="request")
    DeviceAuthorizationHistory.objects.create(parent=parent, group=group, status=1, source="request")
    CallRecord.objects.create(
        room_id=f"room-{m}", school=school, device=device, student=student, parent=parent, openid=parent.openid
    )
    endpoint = WebhookEndpoint.objects.create(school=school, url=f"https://hooks-{m}.example/portal")
    event = OutboxEvent.objects.create(
        event_id=uuid.uuid4(), school=school, type="contact.changed", data={"reason": f"原因{m}"}
    )
    WebhookDelivery.objects.create(event=event, endpoint=endpoint, attempts=1, last_status=500, last_error=f"错{m}")
    ImportJob.objects.create(school=school, kind=ImportJob.Kind.STUDENTS, file_name=f"{m}.csv", file_format="csv")
    BindingCheck.objects.create(student=student, checked_at=timezone.now(), contacts_at_wechat=1)
    BindingDifference.objects.create(student=student, openid=f"oWeChat{m}", kind="missing_at_wechat")
    scene = MiniProgramScene.objects.create(student=student, code=f"Scene{m}0000")
    MiniProgramCode.objects.create(scene=scene, page="pages/bind-admin/index", env_version="release", image=b"png")
    # Even every permission is not enough to leave the school.
    membership = StaffMembershipFactory(
        school=school, user=UserFactory(username=f"staff-{m}"), permissions=Permission.objects.all()
    )
    return {
        "school": school,
        "student": student,
        "device": device,
        "group": group,
        "user": membership.user,
        "membership": membership,
    }
