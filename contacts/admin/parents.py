"""Parents and their bearer tokens. A parent is visible to a school's staff only when bound to one
of its students, and its page lists only that school's contacts."""

from django.contrib import admin
from django.db.models import Prefetch
from django.utils.translation import gettext_lazy as _

from contacts.models import Contact, Parent, ParentToken
from core.admin import SuperuserOnlyAdminMixin, masked_openid_display
from schools.admin.scoping import SchoolScopedAdmin, SchoolScopedInline


class ContactInline(SchoolScopedInline):
    model = Contact
    fk_name = "parent"
    fields = ["student", "role", "relation", "bound_via", "bound_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("student")


@admin.register(Parent)
class ParentAdmin(SchoolScopedAdmin):
    list_display = [
        masked_openid_display(Parent, "openid"),
        "contact_names",
        "nickname",
        "voip_scope_granted",
        "voip_scope_updated_at",
        "last_login_at",
        "created_at",
    ]
    list_filter = ["voip_scope_granted"]
    search_fields = ["openid", "nickname"]
    readonly_fields = [
        "openid",
        "unionid",
        "voip_scope_granted",
        "voip_scope_updated_at",
        "last_login_at",
        "created_at",
    ]
    inlines = [ContactInline]

    def get_queryset(self, request):
        # The contacts column names only the staff user's school's (``ContactInline``'s queryset).
        contacts = ContactInline(Parent, self.admin_site).get_queryset(request)
        return super().get_queryset(request).prefetch_related(Prefetch("contacts", queryset=contacts))

    @admin.display(description=_("contacts"))
    def contact_names(self, parent):
        return "、".join(str(contact) for contact in parent.contacts.all()) or "—"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        # A parent is one row for every school it is a contact in: school staff may look, only the
        # platform may change what other schools see too. What is a school's own (the relation to
        # its student) lives on the contact.
        return request.user.is_superuser and super().has_change_permission(request, obj)


@admin.register(ParentToken)
class ParentTokenAdmin(SuperuserOnlyAdminMixin, admin.ModelAdmin):
    """Superusers only: tokens are not a school's business. Revoking works by setting ``revoked_at``."""

    list_display = ["parent", "created_at", "expires_at", "revoked_at"]
    search_fields = ["parent__openid"]
    list_select_related = ["parent"]
    fields = ["parent", "created_at", "expires_at", "revoked_at"]
    readonly_fields = ["parent", "created_at", "expires_at"]

    def has_add_permission(self, request):
        return False
