"""List filters of the calls app's admins: the student's class, the usage period, the grouping switch."""

from datetime import timedelta

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from calls.selectors.reports import GROUPINGS
from core.local_time import local_midnight, local_today
from schools.admin.scoping import list_class_vocabulary


class StudentClassFilter(admin.SimpleListFilter):
    """The student's class; the choices are the classes of the staff user's school (every school's for
    a superuser), in school order: the list's vocabulary (``list_class_vocabulary``), read once per
    request with the class column's order (``StudentClassOrderMixin``)."""

    title = _("class")
    parameter_name = "class"

    def lookups(self, request, model_admin):
        names = list_class_vocabulary(request, "student").class_names
        return [(name, name) for name in names if name]

    def queryset(self, request, queryset):
        return queryset.filter(student__class_name=self.value()) if self.value() else queryset


class UsagePeriodFilter(admin.SimpleListFilter):
    """The last N local days (default 7), unless a date filter (``started_at…``) already decides."""

    title = _("period")
    parameter_name = "days"
    default = "7"

    def __init__(self, request, params, model, model_admin):
        # Date hierarchy links and ?started_at__gte= / __lt= take over from the default period.
        self.dated = any(key.startswith("started_at") for key in request.GET)
        super().__init__(request, params, model, model_admin)

    def lookups(self, request, model_admin):
        return [
            ("1", _("today")),
            ("7", _("last 7 days")),
            ("30", _("last 30 days")),
            ("90", _("last 90 days")),
            ("all", _("any time")),
        ]

    def value(self):
        value = super().value()
        if value == "all" or (value and value.isdigit() and 0 < int(value) <= 3660):
            return value
        return "all" if self.dated else self.default

    def queryset(self, request, queryset):
        value = self.value()
        if value == "all":
            return queryset
        first_day = local_today() - timedelta(days=int(value) - 1)
        return queryset.filter(started_at__gte=local_midnight(first_day))

    def choices(self, changelist):
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }


class UsageGroupingParameter(admin.SimpleListFilter):
    """Consumes ``?by=`` so the changelist does not take it for a field lookup; the page shows the switch."""

    title = _("group by")
    parameter_name = "by"

    def lookups(self, request, model_admin):
        return [(key, key) for key in GROUPINGS]

    def has_output(self):
        return False

    def queryset(self, request, queryset):
        return queryset
