"""The school itself: staff see and set their own school's settings."""

from django.contrib import admin

from schools.admin.scoping import SchoolScopedAdmin
from schools.models import School


@admin.register(School)
class SchoolAdmin(SchoolScopedAdmin):
    """Staff see and set their own school's settings; only platform operators add or remove schools."""

    list_display = ["name", "code", "contact_limit", "share_link_ttl", "is_active", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "code"]

    def get_readonly_fields(self, request, obj=None):
        return [] if request.user.is_superuser else ["code", "is_active"]

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser
