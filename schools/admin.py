"""Django admin of schools, device groups, devices, students, staff, API clients and audit rows.

``SchoolScopedAdmin`` is the one tenant-scoping mechanism: a staff user with a
``StaffMembership`` sees only rows of its school (``school_path`` says how a model reaches its
school); superusers see all.
"""
from django.apps import apps
from django.contrib import admin, messages
from django.contrib.admin.utils import get_fields_from_path
from django.contrib.auth.models import Group, User
from django.http import Http404
from django.utils.translation import gettext_lazy as _

from .models import ApiAccessToken, ApiClient, AuditLog, Device, DeviceGroup, School, StaffMembership
from .services import api_client_create, api_client_issue_secret


def staff_membership(request) -> StaffMembership | None:
    """The staff user's membership (cached on the request), None for superusers and non-members."""
    if request.user.is_superuser:
        return None
    if not hasattr(request, "_staff_membership"):
        request._staff_membership = StaffMembership.objects.filter(user_id=request.user.pk).first()
    return request._staff_membership


def staff_school_id(request) -> int | None:
    """The school a non-superuser staff member belongs to (None for superusers; -1 for no school)."""
    if request.user.is_superuser:
        return None
    membership = staff_membership(request)
    return membership.school_id if membership else -1  # a staff user without a school sees nothing


class ReadOnlyAdminMixin:
    """For rows that record what happened (events, audit, history): nobody edits them in the admin."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class SchoolScopedRelatedFilter(admin.RelatedFieldListFilter):
    """A related-object filter that offers only the staff user's school (or its objects)."""

    def field_choices(self, field, request, model_admin):
        ordering = self.field_admin_ordering(field, request, model_admin)
        school_id = staff_school_id(request)
        if school_id is None:
            return field.get_choices(include_blank=False, ordering=ordering)
        limit = {"pk": school_id} if field.related_model is School else {"school_id": school_id}
        return field.get_choices(include_blank=False, ordering=ordering, limit_choices_to=limit)


class SchoolScopedAdmin(admin.ModelAdmin):
    """The one tenant-scoping mechanism of the admin: every ModelAdmin of a school's rows uses it.

    For a staff user with a ``StaffMembership`` (superusers see all schools) it scopes the
    changelist, change/delete/history views (another school's row answers 404), foreign-key and
    many-to-many choices, related list filters, autocomplete (through ``get_queryset``), actions
    (they receive the scoped queryset) and saves (a row cannot be moved to another school).
    Read-only viewers get view permission only. ``school_path`` says how a row reaches its school;
    a path through a multi-valued relation sets ``school_path_distinct``.
    """

    school_path = "school"
    school_path_distinct = False

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        school_id = staff_school_id(request)
        if school_id is None:
            return qs
        lookup = "id" if self.school_path == "id" else f"{self.school_path}_id"
        qs = qs.filter(**{lookup: school_id})
        return qs.distinct() if self.school_path_distinct else qs

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404(_("No such object in your school."))
        return obj

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        kwargs["queryset"] = self._scoped_choices(db_field, request, kwargs.get("queryset"))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        kwargs["queryset"] = self._scoped_choices(db_field, request, kwargs.get("queryset"))
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def _scoped_choices(self, db_field, request, queryset):
        related = db_field.related_model
        queryset = queryset if queryset is not None else related._default_manager.all()
        school_id = staff_school_id(request)
        if school_id is None:
            return queryset
        if related is School:
            return queryset.filter(pk=school_id)
        if any(f.name == "school" for f in related._meta.get_fields()):
            return queryset.filter(school_id=school_id)
        return queryset

    def get_list_filter(self, request):
        """Foreign-key filters list only the staff user's school's objects."""
        scoped = []
        for entry in super().get_list_filter(request):
            if isinstance(entry, str):
                field = get_fields_from_path(self.model, entry)[-1]
                if field.is_relation and field.many_to_one:
                    entry = (entry, SchoolScopedRelatedFilter)
            scoped.append(entry)
        return scoped

    def save_model(self, request, obj, form, change):
        school_id = staff_school_id(request)
        if school_id is not None and self.school_path == "school":
            obj.school_id = school_id  # staff cannot put a row into another school
        super().save_model(request, obj, form, change)

    def _is_viewer(self, request) -> bool:
        membership = staff_membership(request)
        return membership is not None and membership.role == StaffMembership.Role.VIEWER

    def has_add_permission(self, request, *args):
        return not self._is_viewer(request) and super().has_add_permission(request, *args)

    def has_change_permission(self, request, obj=None):
        return not self._is_viewer(request) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not self._is_viewer(request) and super().has_delete_permission(request, obj)


class SuperuserOnlyAdminMixin:
    """Platform-level admins (users, groups, schedules, tokens): superusers only, whatever a staff
    user's permissions say, so that no school staff can grant itself more rights."""

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def has_add_permission(self, request, *args):
        return self.has_module_permission(request) and super().has_add_permission(request, *args)

    def has_change_permission(self, request, obj=None):
        return self.has_module_permission(request) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self.has_module_permission(request) and super().has_delete_permission(request, obj)


@admin.register(School)
class SchoolAdmin(SchoolScopedAdmin):
    """Staff see and set their own school's settings; only platform operators add or remove schools."""

    school_path = "id"
    list_display = ["name", "code", "contact_limit", "share_link_ttl", "is_active", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "code"]

    def get_readonly_fields(self, request, obj=None):
        return [] if request.user.is_superuser else ["code", "is_active"]

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


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


@admin.register(StaffMembership)
class StaffMembershipAdmin(SuperuserOnlyAdminMixin, SchoolScopedAdmin):
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
class ApiAccessTokenAdmin(ReadOnlyAdminMixin, SchoolScopedAdmin):
    school_path = "client__school"
    list_display = ["client", "created_at", "expires_at"]
    list_filter = ["client__school"]
    search_fields = ["client__appid", "client__name"]
    list_select_related = ["client"]


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyAdminMixin, SchoolScopedAdmin):
    list_display = ["created_at", "action", "school", "student", "actor_user", "actor_openid", "reason"]
    list_filter = ["action", "school", "created_at"]
    search_fields = ["student__user_id", "student__name", "actor_openid", "actor_user__username"]
    list_select_related = ["school", "student", "actor_user"]
    date_hierarchy = "created_at"
    show_full_result_count = False


# Platform-level admins of other apps: superusers only (see SuperuserOnlyAdminMixin).
def _superuser_only(model):
    model_admin = admin.site._registry.get(model)
    if model_admin is None:
        return
    admin.site.unregister(model)
    admin.site.register(model, type(f"SuperuserOnly{type(model_admin).__name__}", (SuperuserOnlyAdminMixin, type(model_admin)), {}))


for _model in [User, Group, *apps.get_app_config("django_celery_beat").get_models()]:
    _superuser_only(_model)
