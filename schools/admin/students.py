"""The student's page: its roster fields and its audit trail.

``contacts.admin.students`` extends this admin with the student's contacts, the staff actions,
claim codes and the roster import and export (their rules are the contacts app's).
"""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from schools.admin.records import AuditHistoryMixin
from schools.admin.scoping import SchoolScopedAdmin, SchoolScopedInline, class_ranks
from schools.models import AuditLog, Student


class StudentAuditInline(AuditHistoryMixin, SchoolScopedInline):
    """The student's audit trail: who changed what, when and why, as sentences (``schools.history``)."""

    model = AuditLog
    fk_name = "student"
    fields = ["created_at", "sentence", "details"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["-created_at", "-id"]
    verbose_name_plural = _("audit records")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor_user", "student", "school")


@admin.register(Student)
class StudentAdmin(SchoolScopedAdmin):
    """A student's roster fields and its audit trail."""

    list_display = ["name", "user_id", "school", "grade_column", "class_column", "student_number", "is_active"]
    list_filter = ["school", "is_active", "grade", "class_name"]
    # user_id by equality (WeChat's ids are case-sensitive; its unique index serves it), name and
    # student number by a case-insensitive substring (``trigram_contains``: on PostgreSQL the trigram
    # indexes of migrations 0015 and 0018 serve terms of two characters or more), and the name's
    # pinyin initials (wzh finds 王子涵: ``schools.pinyin``).
    search_fields = [
        "user_id__exact", "name__trigram_contains", "name_initials__trigram_contains",
        "student_number__trigram_contains",
    ]  # fmt: skip
    search_help_text = _("Name, its pinyin initials (wzh for 王子涵), student number or face-pay user ID.")
    # The page's schools come in one query by primary key (``get_queryset``), not by a join: joined,
    # PostgreSQL may walk the schools to give the page's order instead of the student index.
    list_select_related = ()  # not False: Django would then join every foreign key of list_display
    show_full_result_count = False  # no COUNT(*) of every student beside a filtered list
    show_facets = admin.ShowFacets.NEVER  # a COUNT per grade and class over the whole list
    list_per_page = 50
    inlines = [StudentAuditInline]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("school").annotate(**class_ranks(request))

    def get_ordering(self, request):
        # The model's order (its index), its grades and classes in school order (``class_ranks``);
        # expressions, not the annotations' names: Django orders the queryset before it is annotated.
        ranks = class_ranks(request)
        return ["school_id", ranks["grade_rank"], ranks["class_rank"], "student_number", "id"]

    @admin.display(description=Student._meta.get_field("grade").verbose_name, ordering="grade_rank")
    def grade_column(self, student):
        return student.grade

    @admin.display(description=Student._meta.get_field("class_name").verbose_name, ordering="class_rank")
    def class_column(self, student):
        return student.class_name
