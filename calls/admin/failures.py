"""initByCaller failures per day and device, by errCode (``calls.selectors.reports``): what devices
reported with ``initByCallerFail`` (REFERENCE.md §4), so staff see a phone that keeps failing."""

from django.contrib import admin
from django.contrib.admin.options import ShowFacets
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from calls.admin.filters import UsagePeriodFilter
from calls.models import CallFailure
from calls.selectors.reports import init_failures_by_day
from core.admin import ReadOnlyAdminMixin
from schools.admin.scoping import SchoolScopedAdmin, SchoolScopedRelatedFilter


@admin.register(CallFailure)
class CallFailureAdmin(ReadOnlyAdminMixin, SchoolScopedAdmin):
    """Counts of initByCaller errCodes per device and local day; the filters narrow the calls."""

    change_list_template = "admin/calls/callfailure/change_list.html"
    list_filter = [UsagePeriodFilter, ("device", SchoolScopedRelatedFilter), "err_code"]
    date_hierarchy = "started_at"
    show_full_result_count = False
    show_facets = ShowFacets.NEVER
    actions = None

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, {"title": _("initByCaller failures"), **(extra_context or {})})
        if not isinstance(response, TemplateResponse) or "cl" not in (response.context_data or {}):
            return response  # a redirect (bad lookup parameters) or a permission error
        response.context_data["failure_days"] = init_failures_by_day(response.context_data["cl"].queryset)
        return response
