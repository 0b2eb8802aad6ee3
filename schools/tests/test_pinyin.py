"""``schools.pinyin``: the pinyin initials staff type to find a student, and where they are written."""

import importlib

import pytest
from django.apps import apps
from django.db import connection

from schools.models import Student
from schools.pinyin import name_initials
from schools.tests.factories import StudentFactory


@pytest.mark.parametrize(
    ("name", "initials"),
    [
        ("王子涵", "wzh"),
        ("欧阳娜娜", "oynn"),
        ("曾小贤", "zxx"),  # surnames read as surnames: zēng, not céng
        ("单田芳", "stf"),
        ("小曾", "xc"),  # the same character elsewhere in a name: its most common reading
        ("Tom 李", "tl"),  # a Latin word gives its first letter
        ("买买提·艾力", "mmtal"),  # the middle dot and other signs give nothing
        ("学生12", "xs"),
        ("", ""),
    ],
)
def test_name_initials(name, initials):
    assert name_initials(name) == initials


@pytest.mark.django_db
def test_a_student_saves_its_initials_with_its_name():
    student = StudentFactory(name="王子涵")
    assert Student.objects.get(pk=student.pk).name_initials == "wzh"
    student.name = "李思琪"
    student.save(update_fields=["name"])  # the initials are saved with the name even so
    assert Student.objects.get(pk=student.pk).name_initials == "lsq"


@pytest.mark.django_db(transaction=True)
def test_the_migration_fills_the_initials_of_the_students_there_are(monkeypatch):
    migration = importlib.import_module("schools.migrations.0018_student_name_initials")
    monkeypatch.setattr(migration, "BATCH", 2)  # three batches
    names = ["王子涵", "李思琪", "张浩宇", "刘欣怡", "陈一诺"]
    for name in names:
        StudentFactory(name=name)
    Student.objects.update(name_initials="")
    with connection.schema_editor() as schema_editor:
        migration.fill_name_initials(apps, schema_editor)
    assert list(Student.objects.order_by("pk").values_list("name_initials", flat=True)) == [
        "wzh", "lsq", "zhy", "lxy", "cyn",
    ]  # fmt: skip


@pytest.mark.django_db
def test_a_student_written_by_raw_sql_gets_empty_initials_from_the_database():
    school = StudentFactory().school  # bulk loads and benchmarks write students without the ORM
    table = connection.ops.quote_name(Student._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (school_id, user_id, name, grade, class_name, student_number, avatar_url,"
            " is_active, created_at, updated_at) VALUES (%s, 'wxfp_raw', '王子涵', '', '', '', '', true, %s, %s)",
            [school.pk, "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z"],
        )
    assert Student.objects.get(user_id="wxfp_raw").name_initials == ""
