"""The students' roster resource (``schools.roster``): import, export, and deactivating leavers.

It lives with the contacts app because two of its rules are contacts': the export counts each
student's contacts, and deactivating the students a whole-school roster no longer lists revokes
their share links (``contacts.services.students.students_deactivate``). Registered for the
``students`` kind when the app is ready, so background import jobs find it.

Accepted column headers (case, spaces, ``_`` and ``-`` ignored) are ``header_aliases``.
"""

from typing import ClassVar

from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _
from import_export import widgets
from import_export.fields import Field

from contacts.models import Contact
from contacts.services.students import students_deactivate
from schools.models import Student
from schools.pinyin import name_initials
from schools.roster.formats import TEXT, text_field
from schools.roster.resources import SchoolRosterResource, in_batches, register


@register
class StudentResource(SchoolRosterResource):
    """Students, upserted by ``user_id``; ``deactivate_missing`` deactivates the school's active
    students the file does not list (graduates), revoking their share links, with an audit row."""

    user_id = text_field("user_id")
    name = text_field("name")
    grade = text_field("grade")
    class_name = text_field("class_name")
    student_number = text_field("student_number")
    avatar_url = text_field("avatar_url")
    contacts = Field(column_name="contacts", readonly=True, widget=widgets.IntegerWidget())

    kind = "students"
    header_aliases: ClassVar = {
        "user_id": ("userid", "用户ID", "刷脸ID", "人脸ID", "微信用户ID"),
        "name": ("姓名", "学生姓名"),
        "grade": ("年级",),
        "class_name": ("class", "班级", "班级名称"),
        "student_number": ("学号",),
        "avatar_url": ("avatar", "头像", "头像URL", "头像链接"),
    }
    other_school_message = _("This user_id cannot be imported; check it with the platform operator.")

    class Meta:
        model = Student
        name = _("students")
        fields = ("user_id", "name", "grade", "class_name", "student_number", "avatar_url", "contacts")
        import_id_fields = ("user_id",)

    def get_bulk_update_fields(self):
        # auto_now: set by write_updates' INSERT; the initials follow the name (bulk writes skip save()).
        return [*super().get_bulk_update_fields(), "name_initials", "updated_at"]

    def before_write(self, instances):
        for student in instances:
            student.name_initials = name_initials(student.name)

    def prefetch_rules(self, dataset):
        # student_number → user_id of the school's student holding it (PostgreSQL keeps them unique).
        numbers = {TEXT.clean(v) for v in dataset["student_number"]} if "student_number" in dataset.headers else set()
        numbers.discard("")
        self.number_owner = {}
        for batch in in_batches(numbers):
            self.number_owner.update(
                Student.objects.filter(school=self.school, student_number__in=batch).values_list(
                    "student_number", "user_id"
                )
            )

    def check_rules(self, instance):
        """Student numbers are unique in a school, and claimed in file order: a row may take a
        number no student of the school holds, or one whose holder an earlier row of the file moved
        to another number; the first row to take a number keeps it. (The COPY import of large files
        applies the same rule in SQL: ``contacts.roster_copy``.)"""
        number = instance.student_number
        if number:
            owner = self.number_owner.get(number)
            if owner is not None and owner != instance.user_id:
                return {"student_number": [self.number_taken_message(number, owner)]}
            old = self.snapshots.get(instance.pk, {}).get("student_number")
            if old and self.number_owner.get(old) == instance.user_id:
                del self.number_owner[old]
            self.number_owner[number] = instance.user_id
        return {}

    @staticmethod
    def number_taken_message(number: str, user_id: str) -> str:
        """The error of a row giving a student number that ``user_id`` holds."""
        return _("Student number %(number)s is already used by %(user_id)s.") % {"number": number, "user_id": user_id}

    def missing_students(self):
        present = {key[0] for key in self.seen}
        rows = Student.objects.active().for_school(self.school.pk).values_list("pk", "user_id")
        return [pk for pk, user_id in rows.iterator(chunk_size=5000) if user_id not in present]

    def count_missing(self):
        return len(self.missing_students()) if self.deactivate_missing and self.seen else 0

    def finish(self):
        if not self.deactivate_missing or not self.seen:  # an empty file never empties a school
            return 0
        return self.deactivate(
            self.missing_students(), user=self.import_kwargs.get("user"), file_name=self.import_kwargs.get("file_name")
        )

    @staticmethod
    def deactivate(student_ids, *, user, file_name) -> int:
        """Deactivate the students a whole-school roster ``file_name`` no longer lists, as ``user``
        (``students_deactivate``: share links revoked, an audit row each); returns how many."""
        return students_deactivate(
            student_ids=student_ids,
            actor_user=user,
            reason=_("Missing from the imported roster %(file)s.") % {"file": file_name or ""},
            data={"roster_import": file_name or ""},
        )

    def filter_export(self, queryset, **kwargs):
        contacts = (
            Contact.objects.filter(student=OuterRef("pk"))
            .order_by()
            .values("student")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return queryset.annotate(contacts_count=Coalesce(Subquery(contacts, output_field=IntegerField()), Value(0)))

    def dehydrate_contacts(self, student):
        return getattr(student, "contacts_count", 0)
