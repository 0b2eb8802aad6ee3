"""Django admin of schools, device groups, devices, students, staff, API clients and audit rows.

``SchoolScopedAdmin`` is the one tenant-scoping mechanism: a staff user with a
``StaffMembership`` sees only rows of its school (``school_path`` says how a model reaches its
school); superusers see all.
"""

from django import forms
from django.apps import apps
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import get_fields_from_path
from django.contrib.auth.models import Group, User
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from import_export.admin import ImportExportMixin
from import_export.forms import ConfirmImportForm, ImportForm

from .imports import import_job_create
from .models import ApiAccessToken, ApiClient, AuditLog, Device, DeviceGroup, ImportJob, School, StaffMembership
from .resources import EXPORT_FORMATS, IMPORT_FORMATS, DeviceGroupResource, DeviceResource
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


class RosterImportForm(ImportForm):
    """Step 1 of an import: the file, its format, the school (superusers only) and, for students,
    whether to deactivate the students the file does not list."""

    school = forms.ModelChoiceField(
        School.objects.all(), label=_("School"), help_text=_("The rows are imported into this school.")
    )
    deactivate_missing = forms.BooleanField(
        label=_("Deactivate students missing from the file"),
        required=False,
        help_text=_(
            "For a whole-school roster: your school's active students that the file does not list "
            "(graduates, leavers) are deactivated and their share links revoked when you confirm."
        ),
    )
    field_order = ["resource", "school", "import_file", "format", "deactivate_missing"]

    def __init__(self, formats, resources, *, choose_school=False, deactivate_option=False, **kwargs):
        super().__init__(formats, resources, **kwargs)
        if not choose_school:
            del self.fields["school"]
        if not deactivate_option:
            del self.fields["deactivate_missing"]
        headers = "; ".join(
            f"{column} ({', '.join(aliases)})" if aliases else column
            for column, aliases in resources[0].header_aliases.items()
        )
        self.fields["import_file"].help_text = _(
            "CSV (UTF-8 or GB18030) or XLSX, one header row. Columns: %(headers)s. "
            "Files of more than %(rows)d rows are imported in the background."
        ) % {"headers": headers, "rows": settings.IMPORT_ASYNC_ROW_THRESHOLD}


class RosterConfirmImportForm(ConfirmImportForm):
    """Step 2 (confirm): carries step 1's choices; a staff user's school is never taken from it."""

    school = forms.ModelChoiceField(School.objects.all(), required=False, widget=forms.HiddenInput)
    deactivate_missing = forms.BooleanField(required=False, widget=forms.HiddenInput)


class RosterImportExportMixin(ImportExportMixin):
    """CSV/XLSX import and export of a ``SchoolScopedAdmin``'s rows (``schools.resources``).

    Imports go to the staff user's school (superusers choose one); the preview lists every row
    and field error before anything is written, and the confirmed import is one transaction that
    rolls back on any error. Files of more than ``IMPORT_ASYNC_ROW_THRESHOLD`` rows become an
    ``ImportJob`` run by Celery. Exports take the changelist's (scoped, filtered) queryset.
    Importing needs add and change permissions (so never a read-only viewer); exporting, view.
    """

    resource_classes = []  # one SchoolRosterResource subclass; its ``kind`` names the ImportJob kind
    import_form_class = RosterImportForm
    confirm_form_class = RosterConfirmImportForm
    import_formats = IMPORT_FORMATS
    export_formats = EXPORT_FORMATS
    to_encoding = "utf-8-sig"  # a BOM, so that Excel reads the UTF-8 CSV as UTF-8
    import_error_display = ("message", "row")

    @property
    def import_kind(self) -> str:
        return self.resource_classes[0].kind

    def _has_school(self, request) -> bool:
        return request.user.is_superuser or staff_membership(request) is not None

    def has_import_permission(self, request):
        return (
            self._has_school(request)
            and self.has_add_permission(request)
            and self.has_change_permission(request)
            and super().has_import_permission(request)
        )

    def has_export_permission(self, request):
        return (
            self._has_school(request) and self.has_view_permission(request) and super().has_export_permission(request)
        )

    def _import_choices(self, request, form) -> dict:
        data = getattr(form, "cleaned_data", None) or {}
        membership = staff_membership(request)
        if membership is not None:
            school = membership.school
        else:
            school = data.get("school") if request.user.is_superuser else None
        return {
            "school": school,
            "deactivate_missing": bool(data.get("deactivate_missing")) and self.import_kind == ImportJob.Kind.STUDENTS,
        }

    def get_import_resource_kwargs(self, request, **kwargs):
        form = kwargs.get("form")
        # The preview shows each row's changes; the confirmed import does not need them again.
        return {**self._import_choices(request, form), "show_diff": isinstance(form, RosterImportForm)}

    def get_import_form_kwargs(self, request):
        return {
            **super().get_import_form_kwargs(request),
            "choose_school": request.user.is_superuser,
            "deactivate_option": self.import_kind == ImportJob.Kind.STUDENTS,
        }

    def get_confirm_form_initial(self, request, import_form):
        initial = super().get_confirm_form_initial(request, import_form)
        if import_form is not None:
            choices = self._import_choices(request, import_form)
            initial.update(
                school=choices["school"].pk if request.user.is_superuser else None,
                deactivate_missing=choices["deactivate_missing"],
            )
        return initial

    def import_action(self, request, **kwargs):
        if request.method == "POST" and self.has_import_permission(request):
            form = self.create_import_form(request)
            if form.is_valid():
                response = self._start_import_job(request, form)
                if response is not None:
                    return response
        response = super().import_action(request, **kwargs)
        result = (getattr(response, "context_data", None) or {}).get("result")
        if getattr(result, "missing", 0):
            messages.warning(
                request,
                _(
                    "When you confirm, %(count)d active students of the school that the file does not list will be deactivated."
                )
                % {"count": result.missing},
            )
        return response

    def _start_import_job(self, request, form):
        """A file above IMPORT_ASYNC_ROW_THRESHOLD rows becomes an ImportJob; None: import it here."""
        upload = form.cleaned_data["import_file"]
        input_format = self.get_import_formats()[int(form.cleaned_data["format"])]()
        data = b"".join(upload.chunks())
        try:
            rows = len(input_format.create_dataset(data))
        except Exception:  # the synchronous path reports an unreadable file
            return None
        if rows <= settings.IMPORT_ASYNC_ROW_THRESHOLD:
            return None
        choices = self._import_choices(request, form)
        if choices["school"] is None:
            raise PermissionDenied
        job = import_job_create(
            school=choices["school"],
            kind=self.import_kind,
            file_name=upload.name,
            file_format=input_format.get_extension(),
            data=data,
            deactivate_missing=choices["deactivate_missing"],
            created_by=request.user,
            total_rows=rows,
        )
        self.message_user(
            request,
            _(
                "%(file)s has %(rows)d rows: it is imported in the background (import job %(job)d); reload this page to follow it."
            )
            % {"file": upload.name, "rows": rows, "job": job.pk},
            messages.INFO,
        )
        job_admin = self.admin_site._registry.get(ImportJob)
        if job_admin is not None and job_admin.has_view_permission(request, job):
            return redirect(reverse(f"{self.admin_site.name}:schools_importjob_change", args=[job.pk]))
        return redirect(reverse(f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_changelist"))

    def process_dataset(self, dataset, form, request, **kwargs):
        # Rows that became invalid since the preview roll the whole import back.
        return super().process_dataset(dataset, form, request, rollback_on_validation_errors=True, **kwargs)

    def process_result(self, result, request):
        if result.has_errors() or result.has_validation_errors():
            from .imports import result_errors

            shown = "; ".join(import_error_text(e) for e in result_errors(result, limit=5))
            messages.error(request, _("Nothing was imported: %(errors)s") % {"errors": shown})
            return redirect(reverse(f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_import"))
        response = super().process_result(result, request)
        if getattr(result, "deactivated", 0):
            messages.success(
                request, _("%(count)d students missing from the file deactivated.") % {"count": result.deactivated}
            )
        return response


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
class DeviceGroupAdmin(RosterImportExportMixin, SchoolScopedAdmin):
    resource_classes = [DeviceGroupResource]
    list_display = ["name", "group_id", "school", "model_type", "capacity", "created_at"]
    list_filter = ["school", "model_type"]
    search_fields = ["name", "group_id"]
    list_select_related = ["school"]
    inlines = [DeviceInline]


@admin.register(Device)
class DeviceAdmin(RosterImportExportMixin, SchoolScopedAdmin):
    resource_classes = [DeviceResource]
    list_display = ["sn", "model_id", "device_name", "model_type", "group", "school", "location", "is_active"]
    list_filter = ["school", "is_active", "model_type", "group"]
    search_fields = ["sn", "model_id", "device_name", "location"]
    list_select_related = ["school", "group"]
    autocomplete_fields = ["group"]  # choices come from DeviceGroupAdmin's scoped queryset


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


@admin.register(ImportJob)
class ImportJobAdmin(ReadOnlyAdminMixin, SchoolScopedAdmin):
    """Background roster imports and their progress; started from the students', devices' or
    device groups' import page when a file is large."""

    list_display = [
        "created_at",
        "kind",
        "file_name",
        "status",
        "progress",
        "total_rows",
        "school",
        "created_by",
        "finished_at",
    ]
    list_filter = ["status", "kind", "school"]
    search_fields = ["file_name"]
    list_select_related = ["school", "created_by"]
    fields = [
        "school",
        "kind",
        "file_name",
        "file_format",
        "deactivate_missing",
        "status",
        "progress",
        "processed_rows",
        "total_rows",
        "totals",
        "error_list",
        "created_by",
        "created_at",
        "finished_at",
    ]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).defer("data")

    @admin.display(description=_("progress"))
    def progress(self, job):
        return f"{job.progress_percent}%"

    @admin.display(description=_("errors"))
    def error_list(self, job):
        if not job.errors:
            return "-"
        return format_html(
            "<ul>{}</ul>", format_html_join("", "<li>{}</li>", ((import_error_text(e),) for e in job.errors))
        )


def import_error_text(error: dict) -> str:
    """One stored import error as a line: ``row 7: name: This field cannot be blank.``"""
    if "errors" in error:
        text = "; ".join(f"{field}: {' '.join(messages_)}" for field, messages_ in error["errors"].items())
    else:
        text = error.get("error", "")
    return f"{_('row')} {error['row']}: {text}" if error.get("row") else text


# Platform-level admins of other apps: superusers only (see SuperuserOnlyAdminMixin).
def _superuser_only(model):
    model_admin = admin.site._registry.get(model)
    if model_admin is None:
        return
    admin.site.unregister(model)
    admin.site.register(
        model, type(f"SuperuserOnly{type(model_admin).__name__}", (SuperuserOnlyAdminMixin, type(model_admin)), {})
    )


for _model in [User, Group, *apps.get_app_config("django_celery_beat").get_models()]:
    _superuser_only(_model)
