"""Django admin of parents, contacts, share links, bind events and tokens.

Rows reach their school through the student (``school_path``); a parent is visible to a staff
user only when bound to one of its school's students.
"""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from schools.admin import (
    ReadOnlyAdminMixin,
    RosterImportExportMixin,
    SchoolScopedAdmin,
    SuperuserOnlyAdminMixin,
    staff_school_id,
)
from schools.models import AuditLog, Student
from schools.resources import StudentResource

from .admin_claim_codes import issue_claim_codes
from .admin_filters import HasAdminFilter, HasContactFilter
from .admin_staff import StaffActionsMixin, deactivate_students, revoke_share_links
from .models import BindEvent, Contact, Parent, ParentToken, ShareLink


class ReadOnlyAdmin(ReadOnlyAdminMixin, SchoolScopedAdmin):
    pass


class ContactInline(admin.TabularInline):
    model = Contact
    fk_name = "parent"
    fields = ["student", "role", "relation", "bound_via", "bound_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        qs = super().get_queryset(request).select_related("student")
        school_id = staff_school_id(request)
        return qs if school_id is None else qs.filter(student__school_id=school_id)


class StudentContactInline(admin.TabularInline):
    model = Contact
    fk_name = "student"
    fields = ["parent", "role", "relation", "bound_via", "bound_at", "call_order", "staff_actions"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("parent")

    @admin.display(description=_("staff actions"))
    def staff_actions(self, contact):
        remove = reverse("admin:schools_student_remove_contact", args=[contact.student_id, contact.pk])
        links = [format_html('<a href="{}">{}</a>', remove, _("remove…"))]
        if not contact.is_admin:
            transfer = reverse("admin:schools_student_transfer_admin", args=[contact.student_id])
            links.append(format_html('<a href="{}">{}</a>', transfer, _("make admin…")))
        return format_html_join(" · ", "{}", ((link,) for link in links))


class StudentAuditInline(admin.TabularInline):
    """The student's audit trail: who changed what, when and why."""

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
class StudentAdmin(RosterImportExportMixin, StaffActionsMixin, SchoolScopedAdmin):
    """A student's page: roster fields, its contacts and its audit trail."""

    resource_classes = [StudentResource]  # roster import/export, CSV and XLSX

    list_display = ["name", "user_id", "school", "grade", "class_name", "student_number", "is_active"]
    list_filter = ["school", "is_active", "grade", "class_name", HasContactFilter, HasAdminFilter]
    search_fields = ["user_id", "name", "student_number"]
    list_select_related = ["school"]
    show_full_result_count = False
    list_per_page = 50
    inlines = [StudentContactInline, StudentAuditInline]
    actions = [deactivate_students, revoke_share_links, issue_claim_codes]


@admin.register(Parent)
class ParentAdmin(SchoolScopedAdmin):
    list_display = ["openid", "nickname", "voip_scope_granted", "voip_scope_updated_at", "last_login_at", "created_at"]
    list_filter = ["voip_scope_granted"]
    search_fields = ["openid", "nickname"]
    readonly_fields = [
        "openid",
        "unionid",
        "voip_scope_granted",
        "voip_scope_updated_at",
        "last_login_at",
        "created_at",
    ]
    inlines = [ContactInline]
    school_path = "contacts__student__school"
    school_path_distinct = True  # a parent is of every school where it is a contact

    def has_add_permission(self, request):
        return False


@admin.register(Contact)
class ContactAdmin(ReadOnlyAdmin):
    school_path = "student__school"
    list_display = ["student", "parent", "role", "relation", "bound_via", "bound_at"]
    list_filter = ["role", "bound_via", "student__school"]
    search_fields = ["student__user_id", "student__name", "parent__openid", "parent__nickname"]
    list_select_related = ["student", "parent"]
    show_full_result_count = False


@admin.register(ShareLink)
class ShareLinkAdmin(ReadOnlyAdmin):
    school_path = "student__school"
    list_display = ["student", "issued_by", "state", "created_at", "expires_at", "revoked_at"]
    list_filter = ["state", "student__school"]
    search_fields = ["student__user_id", "student__name", "issued_by__openid"]
    list_select_related = ["student", "issued_by"]
    exclude = ["token_hash"]


@admin.register(BindEvent)
class BindEventAdmin(ReadOnlyAdmin):
    school_path = "student__school"
    list_display = ["created_at", "type", "user_id", "openid", "errMsg"]
    list_filter = ["type", "created_at"]
    search_fields = ["user_id", "openid", "student__name"]
    list_select_related = ["student"]
    date_hierarchy = "created_at"
    show_full_result_count = False


@admin.register(ParentToken)
class ParentTokenAdmin(SuperuserOnlyAdminMixin, admin.ModelAdmin):
    """Superusers only: tokens are not a school's business. Revoking works by setting ``revoked_at``."""

    list_display = ["parent", "created_at", "expires_at", "revoked_at"]
    search_fields = ["parent__openid"]
    list_select_related = ["parent"]
    fields = ["parent", "created_at", "expires_at", "revoked_at"]
    readonly_fields = ["parent", "created_at", "expires_at"]

    def has_add_permission(self, request):
        return False
