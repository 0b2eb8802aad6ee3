"""What parents did, read-only: contacts, share links and bindContact events."""

from django.contrib import admin
from django.db.models import OuterRef
from django.utils.translation import gettext_lazy as _

from contacts.admin.filters import ShareLinkValidityFilter
from contacts.history import bind_event_sentence
from contacts.models import BindEvent, Contact, Parent, ShareLink
from core.admin import MaskedOpenidsMixin, ReadOnlyAdminMixin, details_toggle, masked_openid_display
from schools.admin.scoping import SchoolScopedAdmin


@admin.register(Contact)
class ContactAdmin(ReadOnlyAdminMixin, SchoolScopedAdmin):
    """Contacts named by student and relation (王子涵的妈妈); the openid whole only on the contact's page."""

    list_display = [
        "__str__", "student", masked_openid_display(Contact, "parent__openid"), "role", "state", "relation",
        "bound_via", "bound_at",
    ]  # fmt: skip
    list_filter = ["state", "role", "bound_via", "student__school"]
    search_fields = ["student__user_id", "student__name", "parent__openid", "parent__nickname"]
    list_select_related = ["student", "parent"]
    show_full_result_count = False
    fields = [
        "student", "parent", "openid", "role", "state", "state_changed_at", "relation", "bound_via", "share_link",
        "bound_at", "admin_requested_at", "call_order",
    ]  # fmt: skip

    @admin.display(description=Parent._meta.get_field("openid").verbose_name)
    def openid(self, contact):
        return contact.parent.openid


@admin.register(ShareLink)
class ShareLinkAdmin(ReadOnlyAdminMixin, SchoolScopedAdmin):
    list_display = ["student", "issued_by", "state", "created_at", "expires_at", "revoked_at"]
    list_filter = [ShareLinkValidityFilter, "student__school"]
    search_fields = ["student__user_id", "student__name", "issued_by__openid"]
    list_select_related = ["student", "issued_by"]
    exclude = ["token_hash"]


@admin.register(BindEvent)
class BindEventAdmin(MaskedOpenidsMixin, ReadOnlyAdminMixin, SchoolScopedAdmin):
    """bindContact outcomes as sentences (``contacts.history``), the raw report behind a toggle; the
    parent's openid masked (it is the contact's, shown whole on the contact's page)."""

    masked_openids = ("openid",)

    list_display = ["created_at", "sentence", "type", "source", "details"]
    list_filter = ["type", "source", "created_at"]
    search_fields = ["user_id", "openid", "student__name"]
    list_select_related = ["student"]
    date_hierarchy = "created_at"
    show_full_result_count = False

    def get_queryset(self, request):
        relation = Contact.objects.relation_of(student_id=OuterRef("student_id"), parent__openid=OuterRef("openid"))
        return super().get_queryset(request).annotate(relation=relation)

    @admin.display(description=_("what happened"))
    def sentence(self, event):
        return bind_event_sentence(event, relation=getattr(event, "relation", None) or "")

    @admin.display(description=_("details"))
    def details(self, event):
        fields = ["type", "source", "err_msg", "user_id", "openid", "share_link_id"]
        return details_toggle({name: getattr(event, name) for name in fields})
