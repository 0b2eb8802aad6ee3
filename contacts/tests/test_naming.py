"""Contacts are named by student and relation (issue 12 §1): ``contacts.naming.contact_name``."""

from django.utils import translation

from contacts.naming import contact_name


def test_a_contact_is_the_students_relation():
    with translation.override("zh-hans"):
        assert contact_name(student_name="王子涵", relation="妈妈") == "王子涵的妈妈"
        assert contact_name(student_name="王子涵", relation="") == "王子涵的家长"
    with translation.override("en"):
        assert contact_name(student_name="王子涵", relation="妈妈") == "王子涵's 妈妈"
