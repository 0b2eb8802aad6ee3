"""Audit rows as sentences (``schools.history``): every action has its own, in Chinese; an unknown
action or odd data falls back to a plain sentence, never an error."""

import pytest
from django.contrib.auth.models import User
from django.utils import translation

from schools.history import AUDIT_SENTENCES, audit_sentence
from schools.models import AuditLog
from schools.tests.factories import SchoolFactory, StudentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def chinese():
    with translation.override("zh-hans"):
        yield


@pytest.fixture
def student():
    return StudentFactory(name="王子涵", school=SchoolFactory(name="实验小学"))


def row(student, action, **fields):
    return AuditLog(school=student.school, student=student, action=action, **fields)


def test_every_action_has_its_own_translated_sentence(student):
    assert set(AUDIT_SENTENCES.templates) == set(AuditLog.Action.values)
    fallback = audit_sentence(row(student, "no_such_action"))
    for action in AuditLog.Action.values:
        sentence = audit_sentence(row(student, action, actor_openid="oMama", data={"relation": "妈妈"}))
        assert sentence != fallback and "%(" not in sentence, action
        assert any("\u4e00" <= c <= "\u9fff" for c in sentence.replace("王子涵", "").replace("妈妈", "")), sentence


def test_a_staff_removal_reads_as_a_sentence_with_its_reason(student):
    teacher = User.objects.create_user("zhang", first_name="老师", last_name="张")
    removal = row(
        student,
        AuditLog.Action.STAFF_CONTACT_REMOVED,
        actor_user=teacher,
        reason="家长要求",
        data={"openid": "oBaba0001", "role": 0, "relation": "爸爸", "share_links_revoked": 1},
    )
    assert audit_sentence(removal) == "张老师 移除了 王子涵的爸爸,原因:家长要求"
    with translation.override("en"):
        assert audit_sentence(removal) == "张老师 removed 王子涵's 爸爸; reason: 家长要求"


def test_contacts_are_named_by_relation_never_by_openid(student):
    transfer = row(
        student,
        AuditLog.Action.ADMIN_TRANSFER_REPORTED,
        actor_openid="oMama0001",
        data={"from": "oMama0001", "to": "oBaba0001", "share_links_revoked": 0},
    )
    people = {"oMama0001": "王子涵的妈妈", "oBaba0001": "王子涵的爸爸"}
    assert audit_sentence(transfer, people=people) == "王子涵的妈妈 把管理员转给了 王子涵的爸爸"
    assert "oBaba" not in audit_sentence(transfer)  # unknown people: "一位联系人"
    bound = row(student, AuditLog.Action.ADMIN_BOUND, actor_openid="oMama0001", data={"relation": "妈妈"})
    assert audit_sentence(bound) == "王子涵的妈妈 以管理员身份绑定了 王子涵"
    check = row(student, AuditLog.Action.WECHAT_CONTACT_MISSING, data={"openid": "oBaba0001"})
    assert audit_sentence(check, people=people) == "微信上已没有 王子涵的爸爸,已停止提供给设备"


@pytest.mark.parametrize("data", [{}, {"revoked": None}, {"from": 3}, [], "text", {"deliveries": [1, 2]}])
def test_odd_data_and_unknown_actions_never_raise(student, data):
    for action in [*AuditLog.Action.values, "gone_action"]:
        assert audit_sentence(row(student, action, data=data))
    assert audit_sentence(row(student, "gone_action")) == "系统:gone_action"
    orphan = AuditLog(action=AuditLog.Action.API_CLIENT_GRANTED, data={"appid": "wx1"})
    assert audit_sentence(orphan) == "系统 允许接口客户端 wx1 服务 —"
