"""Django admin of schools, device groups, devices, students, staff, API clients and audit rows.

``SchoolScopedAdmin`` is the one tenant-scoping mechanism: a staff user with a
``StaffMembership`` sees only rows of its school (``school_path`` says how a model reaches its
school); superusers see all.
"""
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from .models import ApiAccessToken, ApiClient, AuditLog, Device, DeviceGroup, School, StaffMembership, Student
from .services import api_client_create, api_client_issue_secret


def staff_school_id(request) -> int | None:
    """The school a non-superuser staff member belongs to (None for superusers and non-members)."""
    if request.user.is_superuser:
        return None
    membership = getattr(request.user, "staff_membership", None)
    return membership.school_id if membership else -1  # -1: a staff user without a school sees nothing


class ReadOnlyAdminMixin:
    """For rows that record what happened (events, audit, history): nobody edits them in the admin."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class SchoolScopedAdmin(admin.ModelAdmin):
    """Scopes the changelist, the change views and foreign-key choices to the staff user's school."""

    school_path = "school"

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        school_id = staff_school_id(request)
        if school_id is None:
            return qs
        return qs.filter(**{f"{self.school_path}_id" if self.school_path != "id" else "id": school_id})

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        school_id = staff_school_id(request)
        if school_id is not None:
            related = db_field.related_model
            if related is School:
                kwargs["queryset"] = School.objects.filter(pk=school_id)
            elif hasattr(related, "school"):
                kwargs["queryset"] = related._default_manager.filter(school_id=school_id)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(School)
class SchoolAdmin(SchoolScopedAdmin):
    school_path = "id"
    list_display = ["name", "code", "contact_limit", "share_link_ttl", "is_active", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "code"]


class DeviceInline(admin.TabularInline):
    model = Device
    fields = ["sn", "model_id", "device_name", "is_active"]
    extra = 0
    show_change_link = True


@admin.register(DeviceGroup)
class DeviceGroupAdmin(SchoolScopedAdmin):
    list_display = ["name", "group_id", "school", "model_type", "capacity", "created_at"]
    list_filter = ["school", "model_type"]
    search_fields = ["name", "group_id"]
    list_select_related = ["school"]
    inlines = [DeviceInline]


@admin.register(Device)
class DeviceAdmin(SchoolScopedAdmin):
    list_display = ["sn", "model_id", "device_name", "model_type", "group", "school", "location", "is_active"]
    list_filter = ["school", "is_active", "model_type", "group"]
    search_fields = ["sn", "model_id", "device_name", "location"]
    list_select_related = ["school", "group"]


@admin.register(Student)
class StudentAdmin(SchoolScopedAdmin):
    list_display = ["name", "user_id", "school", "grade", "class_name", "student_number", "is_active"]
    list_filter = ["school", "is_active", "grade", "class_name"]
    search_fields = ["user_id", "name", "student_number"]
    list_select_related = ["school"]
    show_full_result_count = False
    list_per_page = 50


@admin.register(StaffMembership)
class StaffMembershipAdmin(SchoolScopedAdmin):
    list_display = ["user", "school", "role", "created_at"]
    list_filter = ["school", "role"]
    search_fields = ["user__username", "school__name"]
    list_select_related = ["user", "school"]


@admin.register(ApiClient)
class ApiClientAdmin(SchoolScopedAdmin):
    """Creating a client or resetting its secret shows the secret once, in a message."""

    list_display = ["name", "appid", "school", "is_active", "created_at"]
    list_filter = ["school", "is_active"]
    search_fields = ["name", "appid"]
    list_select_related = ["school"]
    readonly_fields = ["appid", "created_at"]
    actions = ["reset_secret"]

    def get_fields(self, request, obj=None):
        return ["school", "name", "is_active"] + (["appid", "created_at"] if obj else [])

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        client, secret = api_client_create(school=obj.school, name=obj.name, actor_user=request.user)
        obj.pk, obj.appid = client.pk, client.appid
        self._secret_message(request, client, secret)

    def _secret_message(self, request, client, secret):
        self.message_user(
            request,
            _("appid %(appid)s, secret %(secret)s — copy the secret now; it is stored only as a digest.")
            % {"appid": client.appid, "secret": secret},
            messages.WARNING,
        )

    @admin.action(description=_("Issue a new secret (the old one stops working)"))
    def reset_secret(self, request, queryset):
        for client in queryset:
            self._secret_message(request, client, api_client_issue_secret(client=client, actor_user=request.user))


@admin.register(ApiAccessToken)
class ApiAccessTokenAdmin(SchoolScopedAdmin):
    school_path = "client__school"
    list_display = ["client", "created_at", "expires_at"]
    list_filter = ["client__school"]
    search_fields = ["client__appid", "client__name"]
    list_select_related = ["client"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyAdminMixin, SchoolScopedAdmin):
    list_display = ["created_at", "action", "school", "student", "actor_user", "actor_openid", "reason"]
    list_filter = ["action", "school", "created_at"]
    search_fields = ["student__user_id", "student__name", "actor_openid", "actor_user__username"]
    list_select_related = ["school", "student", "actor_user"]
    date_hierarchy = "created_at"
    show_full_result_count = False
