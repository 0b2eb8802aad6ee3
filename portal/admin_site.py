"""The portal's admin site: the default ``admin.site`` (``portal.apps.PortalAdminConfig``).

Its index shows the school's dashboard (issue 4 §6, ``portal.dashboard``) above the app list:
server-rendered tables whose numbers link to the filtered changelists, and charts that
``portal/dashboard.js`` draws with the vendored Chart.js from ``admin/dashboard.json``. Both are
scoped like every admin page, by ``schools.tenancy.staff_school_id``: a staff member sees its own
school, a superuser all schools added up, a staff user without a school no dashboard at all.

The dashboard is imported inside the methods: this module is imported while ``admin.site`` is
first set up, before the apps' models are ready.
"""

from datetime import date, timedelta
from functools import wraps
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.contrib.admin.exceptions import DisallowedModelAdminLookup
from django.contrib.admin.views.main import ERROR_FLAG
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect, JsonResponse
from django.urls import NoReverseMatch, path, reverse, reverse_lazy
from django.utils.translation import gettext_lazy as _


class PortalAdminSite(admin.AdminSite):
    site_header = _("School VoIP portal")
    site_title = _("School VoIP portal")
    index_title = _("Site administration")  # Django's own msgid: translated (站点管理) without waiting for ours
    # Django's "View site" goes to /, which the portal does not serve; the header's link is the API docs
    # (templates/admin/base_site.html labels it so).
    site_url = reverse_lazy("swagger-ui")

    def admin_view(self, view, cacheable=False):
        """Every admin view; a list filtered by a lookup its admin does not allow (``?student__name=``,
        not in ``list_filter``) is sent, like any invalid filter, to the list with ``?e=1`` and a
        message. Django lets ``DisallowedModelAdminLookup`` (a SuspiciousOperation) become a bare 400
        page; its changelist view turns only ``IncorrectLookupParameters`` into ``?e=1``."""

        @wraps(view)
        def view_with_filter_errors(request, *args, **kwargs):
            try:
                return view(request, *args, **kwargs)
            except DisallowedModelAdminLookup:
                messages.warning(request, _("This list cannot be filtered that way: it is shown unfiltered."))
                return HttpResponseRedirect(f"{request.path}?{ERROR_FLAG}=1")

        return super().admin_view(view_with_filter_errors, cacheable)

    def get_urls(self):
        return [
            path("dashboard.json", self.admin_view(self.dashboard_json), name="dashboard_json"),
            *super().get_urls(),
        ]

    def index(self, request, extra_context=None):
        return super().index(request, {"dashboard": self.dashboard_context(request), **(extra_context or {})})

    # ---------------------------------------------------------------- data

    def dashboard_school_id(self, request) -> int | None:
        """The school whose numbers the user sees (None: all schools); PermissionDenied without one."""
        from schools.tenancy import NO_SCHOOL, staff_school_id

        school_id = staff_school_id(request.user)
        if school_id == NO_SCHOOL:
            raise PermissionDenied
        return school_id

    def dashboard_json(self, request):
        """``GET admin/dashboard.json``: ``portal.dashboard.dashboard_data`` of the user's school."""
        from portal.dashboard import dashboard_data

        return JsonResponse(dashboard_data(school_id=self.dashboard_school_id(request)))

    def dashboard_context(self, request) -> dict | None:
        """The dashboard data with, beside each number, the URL of the changelist that lists it.

        A URL is None when the user may not view that changelist: the number is shown unlinked.
        """
        from core.local_time import local_midnight
        from portal.dashboard import dashboard_data

        try:
            school_id = self.dashboard_school_id(request)
        except PermissionDenied:
            return None
        data = dashboard_data(school_id=school_id)
        links = _Links(self, request, all_schools=school_id is None)

        for row in data["classes"]:
            row["students_url"] = links.students(row)
            row["without_contact_url"] = links.students(row, has_contacts="no")
            row["without_admin_url"] = links.students(row, has_admin="no")
        data["students"]["students_url"] = links.students(None)
        data["students"]["without_contact_url"] = links.students(None, has_contacts="no")
        data["students"]["without_admin_url"] = links.students(None, has_admin="no")

        # contacts.admin.filters.ShareLinkValidityFilter: the effective states the counts use
        data["share_links_urls"] = {
            state: links.changelist("contacts", "sharelink", {"validity": state})
            for state in ("active", "expired", "revoked")
        }

        bindings = {row["day"]: row["bindings"] for row in data["bindings"]}
        days = []
        for row in reversed(data["calls"]):  # newest day first
            day = date.fromisoformat(row["day"])
            since, until = local_midnight(day).isoformat(), local_midnight(day + timedelta(days=1)).isoformat()
            days.append(
                {
                    **row,
                    "bindings": bindings.get(row["day"], 0),
                    "bindings_url": links.changelist(
                        "contacts", "contact", {"bound_at__gte": since, "bound_at__lt": until}
                    ),
                    "calls_url": links.changelist(
                        "calls", "callrecord", {"started_at__gte": since, "started_at__lt": until}
                    ),
                    "minutes_url": links.changelist(
                        "calls", "callusage", {"started_at__gte": since, "started_at__lt": until}
                    ),
                }
            )
        data["days"] = days

        period = data["period"]
        since = local_midnight(date.fromisoformat(period["first_day"])).isoformat()
        until = local_midnight(date.fromisoformat(period["last_day"]) + timedelta(days=1)).isoformat()
        data["bindings_total"] = {
            "bindings": sum(bindings.values()),
            "url": links.changelist("contacts", "contact", {"bound_at__gte": since, "bound_at__lt": until}),
        }
        data["calls_total"]["calls_url"] = links.changelist(
            "calls", "callrecord", {"started_at__gte": since, "started_at__lt": until}
        )
        data["calls_total"]["minutes_url"] = links.changelist(
            "calls", "callusage", {"started_at__gte": since, "started_at__lt": until}
        )
        for row in data["top_devices"]:
            device = {"device__id__exact": row["device_id"], "started_at__gte": since, "started_at__lt": until}
            row["calls_url"] = links.changelist("calls", "callrecord", device)
            row["minutes_url"] = links.changelist("calls", "callusage", {"by": "device", **device})
        return data


class _Links:
    """Changelist URLs with query strings, for the models the user may view."""

    def __init__(self, site: admin.AdminSite, request, *, all_schools: bool):
        self.site, self.request, self.all_schools = site, request, all_schools
        self._allowed: dict[str, bool] = {}

    def _may_view(self, app_label: str, model_name: str) -> bool:
        key = f"{app_label}.{model_name}"
        if key not in self._allowed:
            model_admin = next(
                (
                    ma
                    for m, ma in self.site._registry.items()
                    if (m._meta.app_label, m._meta.model_name) == (app_label, model_name)
                ),
                None,
            )
            self._allowed[key] = model_admin is not None and model_admin.has_view_permission(self.request)
        return self._allowed[key]

    def changelist(self, app_label: str, model_name: str, params: dict) -> str | None:
        if not self._may_view(app_label, model_name):
            return None
        try:
            url = reverse(f"{self.site.name}:{app_label}_{model_name}_changelist")
        except NoReverseMatch:
            return None
        return f"{url}?{urlencode(params)}" if params else url

    def students(self, row: dict | None, **filters) -> str | None:
        """Active students of a class (``row``) or of the whole dashboard (None), with extra filters."""
        params = {}
        if row is not None:
            params["class_name"] = row["class_name"]
            if self.all_schools:
                params["school__id__exact"] = row["school_id"]
        return self.changelist("schools", "student", {**params, **filters, "is_active__exact": "1"})
