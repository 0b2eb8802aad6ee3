"""The school itself: staff see and set their own school's settings."""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from schools.admin.scoping import SchoolScopedAdmin
from schools.models import School


@admin.register(School)
class SchoolAdmin(SchoolScopedAdmin):
    """Staff see and set their own school's settings; only platform operators add or remove schools."""

    list_display = ["name", "code", "contact_limit", "share_link_ttl", "require_claim_code", "is_active", "created_at"]
    list_filter = ["is_active", "require_claim_code"]
    search_fields = ["name", "code"]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and not obj.require_claim_code and request.method == "GET":
            self.message_user(
                request,
                _(
                    "This school binds admin contacts first-come: whoever learns a student's user_id first "
                    "becomes its admin contact. Require claim codes unless every family binds at school."
                ),
                messages.WARNING,
            )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def get_readonly_fields(self, request, obj=None):
        return [] if request.user.is_superuser else ["code", "is_active"]

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser
