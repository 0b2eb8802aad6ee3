"""The student's page: its roster fields and its audit trail.

``contacts.admin.students`` extends this admin with the student's contacts, the staff actions,
claim codes and the roster import and export (their rules are the contacts app's).
"""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from core.admin import MaskedOpenidsMixin
from schools.admin.scoping import SchoolScopedAdmin, SchoolScopedInline
from schools.models import AuditLog, Student


class StudentAuditInline(MaskedOpenidsMixin, SchoolScopedInline):
    """The student's audit trail: who changed what, when and why."""

    masked_openids = ("actor_openid",)
    model = AuditLog
    fk_name = "student"
    fields = ["created_at", "action", "actor_user", "actor_openid", "reason", "data"]
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
        return super().get_queryset(request).select_related("actor_user")


@admin.register(Student)
class StudentAdmin(SchoolScopedAdmin):
    """A student's roster fields and its audit trail."""

    list_display = ["name", "user_id", "school", "grade", "class_name", "student_number", "is_active"]
    list_filter = ["school", "is_active", "grade", "class_name"]
    # user_id by equality (WeChat's ids are case-sensitive; its unique index serves it), name and
    # student number by a case-insensitive substring (``trigram_contains``: on PostgreSQL the trigram
    # indexes of migration 0015 serve terms of two characters or more).
    search_fields = ["user_id__exact", "name__trigram_contains", "student_number__trigram_contains"]
    # The page's schools come in one query by primary key (``get_queryset``), not by a join: joined,
    # PostgreSQL may walk the schools to give the page's order instead of the student index.
    list_select_related = ()  # not False: Django would then join every foreign key of list_display
    show_full_result_count = False  # no COUNT(*) of every student beside a filtered list
    show_facets = admin.ShowFacets.NEVER  # a COUNT per grade and class over the whole list
    list_per_page = 50
    inlines = [StudentAuditInline]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("school")
