"""Platform-level admins: users, groups, staff memberships and beat schedules, superusers only.

Django's and django-celery-beat's own admins are re-registered with ``SuperuserOnlyAdminMixin``,
so that no school's staff can grant itself rights or edit another school's membership.
"""

from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Group, User

from core.admin import SuperuserOnlyAdminMixin
from schools.admin.scoping import SchoolScopedAdmin
from schools.models import StaffMembership


@admin.register(StaffMembership)
class StaffMembershipAdmin(SuperuserOnlyAdminMixin, SchoolScopedAdmin):
    list_display = ["user", "school", "role", "created_at"]
    list_filter = ["school", "role"]
    search_fields = ["user__username", "school__name"]
    list_select_related = ["user", "school"]


def superuser_only(model) -> None:
    """Re-register ``model``'s admin (if any) for superusers only."""
    model_admin = admin.site._registry.get(model)
    if model_admin is None:
        return
    admin.site.unregister(model)
    admin.site.register(
        model, type(f"SuperuserOnly{type(model_admin).__name__}", (SuperuserOnlyAdminMixin, type(model_admin)), {})
    )


for _model in [User, Group, *apps.get_app_config("django_celery_beat").get_models()]:
    superuser_only(_model)
