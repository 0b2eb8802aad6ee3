"""Bind events as sentences (``contacts.history``): every type has its own, in Chinese; the admin's
list names the parent by its relation, with the raw report behind a details toggle."""

import pytest
from django.contrib.auth.models import User
from django.utils import translation

from contacts.history import BIND_EVENT_SENTENCES, bind_event_sentence
from contacts.models import BindEvent
from contacts.services.staff import staff_admin_transfer, staff_contact_remove
from contacts.tests.factories import ContactFactory
from core.masking import mask_openid
from schools.tests.factories import StudentFactory

pytestmark = pytest.mark.django_db


def test_every_bind_event_type_has_its_own_translated_sentence():
    assert set(BIND_EVENT_SENTENCES.templates) == set(BindEvent.Type.values)
    student = StudentFactory(name="王子涵")
    with translation.override("zh-hans"):
        sentences = {
            kind: bind_event_sentence(BindEvent(type=kind, student=student, openid="o1"), relation="妈妈")
            for kind in [*BindEvent.Type.values, "new_type"]
        }
    assert sentences["success"] == "王子涵的妈妈 绑定了 王子涵"
    assert sentences["new_type"] == "王子涵的妈妈,王子涵:new_type"
    assert len(set(sentences.values())) == len(sentences)


def test_the_bind_event_list_reads_as_sentences_with_the_report_behind_a_toggle(client):
    contact = ContactFactory(relation="爸爸", student=StudentFactory(name="王子涵"))
    BindEvent.objects.create(
        type="overload", source="portal", err_msg="overload", openid=contact.parent.openid, student=contact.student
    )
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    page = client.get("/admin/contacts/bindevent/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "王子涵的爸爸 无法绑定 王子涵:联系人已满" in page
    assert '<details class="history-details"><summary>详情</summary>' in page


def test_the_student_page_tells_its_history_in_sentences_naming_contacts_by_relation(client):
    student = StudentFactory(name="王子涵")
    mama = ContactFactory(student=student, relation="妈妈", role=1)
    baba = ContactFactory(student=student, relation="爸爸")
    yeye = ContactFactory(student=student, relation="爷爷")
    teacher = User.objects.create_superuser("zhang", "z@example.com", "pw", first_name="老师", last_name="张")
    staff_contact_remove(user=teacher, student=student, openid=yeye.parent.openid, reason="家长要求")
    staff_admin_transfer(user=teacher, student=student, new_admin_openid=baba.parent.openid, reason="妈妈换号")
    client.force_login(teacher)
    page = client.get(f"/admin/schools/student/{student.pk}/change/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "张老师 移除了 王子涵的爷爷,原因:家长要求" in page
    assert "张老师 请求把管理员由 王子涵的妈妈 改为 王子涵的爸爸,原因:妈妈换号" in page
    # The raw record behind the toggle, its openids masked like every page but the contact's own.
    details = page.split("<details", 1)[1]
    assert mask_openid(mama.parent.openid) in details
    assert mama.parent.openid not in page
