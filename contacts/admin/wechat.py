"""Where the portal and WeChat differ: the differences reconciliation found, per school, and the
last check of each student (``contacts.services.reconciliation``). Staff may have WeChat read now.
"""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from contacts.models import BindingCheck, BindingDifference
from contacts.services.reconciliation import RECONCILE_NOW_MAX, bindings_reconcile_now
from core.admin import MaskedOpenidsMixin, ReadOnlyAdminMixin
from core.errors import ApplicationError
from schools.admin.scoping import SchoolScopedAdmin
from schools.tenancy import staff_is_viewer


class OpenDifferenceFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "open"

    def lookups(self, request, model_admin):
        return [("yes", _("open")), ("no", _("resolved"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(resolved_at__isnull=True)
        if self.value() == "no":
            return queryset.filter(resolved_at__isnull=False)
        return queryset


def reconcile_now(model_admin, request, student_ids) -> None:
    """Read WeChat's lists of ``student_ids`` (already scoped to the user's school) and report."""
    if len(set(student_ids)) > RECONCILE_NOW_MAX:
        model_admin.message_user(
            request,
            _("At most %(max)d students at a time; the first %(max)d are checked.") % {"max": RECONCILE_NOW_MAX},
            messages.WARNING,
        )
    try:
        checked, errors = bindings_reconcile_now(student_ids=student_ids, actor_user=request.user)
    except ApplicationError as exc:
        model_admin.message_user(request, exc.message, messages.ERROR)
        return
    if checked:
        model_admin.message_user(
            request,
            ngettext("%(count)d student checked against WeChat.", "%(count)d students checked against WeChat.", checked)
            % {"count": checked},
            messages.SUCCESS,
        )
    for error in errors:
        model_admin.message_user(request, _("WeChat did not answer: %(error)s") % {"error": error}, messages.ERROR)


class ReconcileActionMixin:
    """``reconcile_now`` for anyone of the school but read-only viewers."""

    def has_reconcile_permission(self, request):
        return not staff_is_viewer(request.user) and self.has_view_permission(request)


@admin.register(BindingDifference)
class BindingDifferenceAdmin(MaskedOpenidsMixin, ReconcileActionMixin, ReadOnlyAdminMixin, SchoolScopedAdmin):
    """Differences from WeChat, open first; "check against WeChat now" re-reads the students' lists."""

    masked_openids = ("openid",)
    list_display = ["detected_at", "student", "kind", "openid", "resolved_at"]
    list_filter = [OpenDifferenceFilter, "kind", "student__school"]
    search_fields = ["student__user_id", "student__name", "openid"]
    list_select_related = ["student"]
    date_hierarchy = "detected_at"
    actions = ["check_against_wechat"]

    @admin.action(description=_("Check these students against WeChat now"), permissions=["reconcile"])
    def check_against_wechat(self, request, queryset):
        reconcile_now(self, request, list(queryset.values_list("student_id", flat=True)))


@admin.register(BindingCheck)
class BindingCheckAdmin(ReadOnlyAdminMixin, SchoolScopedAdmin):
    list_display = ["student", "checked_at", "contacts_at_wechat"]
    list_filter = ["student__school"]
    search_fields = ["student__user_id", "student__name"]
    list_select_related = ["student"]
    date_hierarchy = "checked_at"
