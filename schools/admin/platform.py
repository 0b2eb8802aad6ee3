"""Platform-level admins: users, groups, staff memberships and beat schedules, superusers only.

Django's and django-celery-beat's own admins are re-registered with ``SuperuserOnlyAdminMixin``,
so that no school's staff can grant itself rights or edit another school's membership, and with
Chinese labels where django-celery-beat writes English that gettext cannot translate
(``beat_labels``).
"""

from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Group, User
from django.utils.translation import gettext_lazy as _
from django_celery_beat.admin import PeriodicTaskInline

from core.admin import SuperuserOnlyAdminMixin
from schools.admin.scoping import SchoolScopedAdmin
from schools.models import StaffMembership


@admin.register(StaffMembership)
class StaffMembershipAdmin(SuperuserOnlyAdminMixin, SchoolScopedAdmin):
    list_display = ["user", "school", "role", "created_at"]
    list_filter = ["school", "role"]
    search_fields = ["user__username", "school__name"]
    list_select_related = ["user", "school"]


class TaskNameFilter(admin.AllValuesFieldListFilter):
    """``PeriodicTask.task``'s filter: its verbose name is a plain English string ("Task Name")."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.title = _("task name")


class TaskInline(PeriodicTaskInline):
    """The schedules' list of their tasks, with the task's name labelled in the user's language."""

    fields = ("name", "task_name", "args", "kwargs")
    readonly_fields = fields

    @admin.display(description=_("task name"))
    def task_name(self, task):
        return task.task


@admin.display(description=_("in words"))
def _human_readable(self, obj):
    return obj.human_readable


@admin.display(description=_("in words"))
def _crontab_translation(self, obj):
    return obj.crontab.human_readable


def beat_labels(admin_class) -> dict:
    """Attributes that label in the user's language what ``admin_class`` (django-celery-beat's)
    labels with a field's English verbose name or a name derived from an attribute."""
    attrs = {}
    if "task" in getattr(admin_class, "list_filter", ()):
        attrs["list_filter"] = [("task", TaskNameFilter) if f == "task" else f for f in admin_class.list_filter]
    if PeriodicTaskInline in getattr(admin_class, "inlines", ()):
        attrs["inlines"] = [TaskInline if i is PeriodicTaskInline else i for i in admin_class.inlines]
    if "human_readable" in (*admin_class.list_display, *(admin_class.readonly_fields or ())):
        attrs["human_readable"] = _human_readable
    if hasattr(admin_class, "crontab_translation"):
        attrs["crontab_translation"] = _crontab_translation
    return attrs


def superuser_only(model) -> None:
    """Re-register ``model``'s admin (if any) for superusers only."""
    model_admin = admin.site._registry.get(model)
    if model_admin is None:
        return
    admin_class = type(model_admin)
    attrs = beat_labels(admin_class) if model._meta.app_label == "django_celery_beat" else {}
    admin.site.unregister(model)
    admin.site.register(
        model, type(f"SuperuserOnly{admin_class.__name__}", (SuperuserOnlyAdminMixin, admin_class), attrs)
    )


for _model in [User, Group, *apps.get_app_config("django_celery_beat").get_models()]:
    superuser_only(_model)
