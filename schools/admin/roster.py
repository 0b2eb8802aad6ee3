"""Roster import and export in the admin (``schools.roster``): students, devices, device groups.

Imports go to the staff user's school (superusers choose one); the preview lists every row and
field error before anything is written, and the confirmed import is one transaction that rolls
back on any error. Large files become an ``ImportJob`` run by Celery.
"""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from import_export.admin import ImportExportMixin
from import_export.forms import ConfirmImportForm, ImportForm

from schools.models import ImportJob, School
from schools.roster.errors import import_error_text, result_errors
from schools.roster.formats import EXPORT_FORMATS, IMPORT_FORMATS
from schools.roster.jobs import import_job_create
from schools.tenancy import staff_membership


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
        return request.user.is_superuser or staff_membership(request.user) is not None

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
        membership = staff_membership(request.user)
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
                    "When you confirm, %(count)d active students of the school "
                    "that the file does not list will be deactivated."
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
        except Exception:  # noqa: BLE001 — an unreadable file: the synchronous path reports it
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
                "%(file)s has %(rows)d rows: it is imported in the background (import job %(job)d); "
                "reload this page to follow it."
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
            shown = "; ".join(import_error_text(e) for e in result_errors(result, limit=5))
            messages.error(request, _("Nothing was imported: %(errors)s") % {"errors": shown})
            return redirect(reverse(f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_import"))
        response = super().process_result(result, request)
        if getattr(result, "deactivated", 0):
            messages.success(
                request, _("%(count)d students missing from the file deactivated.") % {"count": result.deactivated}
            )
        return response
