"""WeChat's rule of each call mode, before the school's policy (REFERENCE.md §1a; seed 003 §1, seed 000)."""

import pytest

from calls.selectors.checks import call_check, call_plan, iot_bind_contacts
from calls.tests.factories import DeviceAuthorizationFactory
from contacts.models import Contact
from contacts.tests.factories import ContactFactory, ParentFactory
from core.errors import ApplicationError
from schools.models import CallMode
from schools.tests.factories import DeviceFactory, DeviceGroupFactory, SchoolFactory, StudentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def school():
    """One school with a phone of each mode, a student and four parents:
    ``contact`` (bound, scope.voip), ``no_scope`` (bound, no scope.voip), ``authorized``
    (authorized the hardware phone's group, not bound), ``both`` (bound and authorized)."""
    school = SchoolFactory()
    group = DeviceGroupFactory(school=school)
    hardware = DeviceFactory(school=school, group=group)
    face_pay = DeviceFactory(school=school, model_id="mdl_facepay_k1", call_mode=CallMode.FACE_PAY)
    student = StudentFactory(school=school)
    parents = {
        "contact": ParentFactory(),
        "no_scope": ParentFactory(voip_scope_granted=False),
        "authorized": ParentFactory(),
        "both": ParentFactory(voip_scope_granted=False),
    }
    for name in ("contact", "no_scope", "both"):
        ContactFactory(student=student, parent=parents[name], role=int(name == "contact"))
    for name in ("authorized", "both"):
        DeviceAuthorizationFactory(parent=parents[name], group=group)
    return {"school": school, "hardware": hardware, "face_pay": face_pay, "student": student, **parents}


def check(world, phone, parent):
    return call_check(device=world[phone], student=world["student"], openid=world[parent].openid).errcode


@pytest.mark.parametrize(
    ("parent", "face_pay", "hardware"),
    [
        ("contact", 0, 9),  # hardware: never authorized the phone
        ("no_scope", 8, 9),
        ("authorized", 9, 9300007),  # face-pay: not a contact; hardware: the school's contact rule
        ("both", 8, 0),  # hardware mode does not ask for scope.voip
    ],
)
def test_each_mode_applies_its_own_rule(school, parent, face_pay, hardware):
    assert check(school, "face_pay", parent) == face_pay
    assert check(school, "hardware", parent) == hardware


def test_hardware_mode_without_the_schools_contact_rule_needs_only_the_authorization(school):
    school["school"].hardware_requires_contact = False
    school["school"].save()
    assert check(school, "hardware", "authorized") == 0


def test_business_type_and_miniprogram_state_follow_the_mode_and_the_school(school):
    school["school"].miniprogram_state = "trial"
    school["school"].save()
    face = call_check(device=school["face_pay"], student=school["student"], openid=school["contact"].openid)
    hard = call_check(device=school["hardware"], student=school["student"], openid=school["both"].openid)
    assert (face.business_type, hard.business_type) == (0, 1)  # the default policy bills face-pay by duration
    assert face.policy.miniprogram_state == hard.policy.miniprogram_state == "trial"


@pytest.mark.parametrize("state", ["pending", "unconfirmed", "removing"])
def test_a_contact_wechat_has_not_confirmed_is_not_served(school, state):
    Contact.objects.filter(parent=school["contact"]).update(state=state)
    assert check(school, "face_pay", "contact") == 9
    assert school["contact"] not in [
        c.parent for c in call_plan(device=school["face_pay"], student=school["student"]).contacts
    ]


def test_call_plans_by_mode(school):
    face = call_plan(device=school["face_pay"], student=school["student"])
    hard = call_plan(device=school["hardware"], student=school["student"])
    assert [c.parent for c in face.contacts] == [school["contact"]]  # bound with scope.voip
    assert [c.parent for c in hard.contacts] == [school["both"]]  # bound and authorized


def test_a_phone_and_a_student_of_two_schools_answer_9300003(school):
    other = StudentFactory()
    assert call_check(device=school["face_pay"], student=other, openid=school["contact"].openid).errcode == 9300003
    assert call_plan(device=school["hardware"], student=other).errcode == 9300003


def test_iot_bind_contacts_by_mode(school):
    openids = [school[p].openid for p in ("contact", "no_scope", "authorized", "both")] + ["oUnknown"]
    hardware = iot_bind_contacts(device=school["hardware"], openid_list=openids)
    assert [e["status"] for e in hardware] == [0, 0, 1, 1, 0]
    face = iot_bind_contacts(device=school["face_pay"], openid_list=openids, student=school["student"])
    assert [e["status"] for e in face] == [1, 0, 0, 0, 0]
    with pytest.raises(ApplicationError) as exc:
        iot_bind_contacts(device=school["face_pay"], openid_list=openids)
    assert exc.value.field == "user_id"
