"""Device vendors' API clients and their access tokens. A new secret is shown once, in a message."""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from core.admin import ReadOnlyAdminMixin
from schools.admin.scoping import SchoolScopedAdmin
from schools.models import ApiAccessToken, ApiClient
from schools.services import api_client_create, api_client_issue_secret


@admin.register(ApiClient)
class ApiClientAdmin(SchoolScopedAdmin):
    """Creating a client or resetting its secret shows the secret once, in a message."""

    list_display = ["name", "appid", "school", "is_active", "created_at"]
    list_filter = ["school", "is_active"]
    search_fields = ["name", "appid"]
    list_select_related = ["school"]
    readonly_fields = ["appid", "created_at"]
    actions = ["reset_secret"]

    def get_fields(self, request, obj=None):
        return ["school", "name", "is_active"] + (["appid", "created_at"] if obj else [])

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        client, secret = api_client_create(school=obj.school, name=obj.name, actor_user=request.user)
        obj.pk, obj.appid = client.pk, client.appid
        self._secret_message(request, client, secret)

    def _secret_message(self, request, client, secret):
        self.message_user(
            request,
            _("appid %(appid)s, secret %(secret)s — copy the secret now; it is stored only as a digest.")
            % {"appid": client.appid, "secret": secret},
            messages.WARNING,
        )

    @admin.action(description=_("Issue a new secret (the old one stops working)"))
    def reset_secret(self, request, queryset):
        for client in queryset:
            self._secret_message(request, client, api_client_issue_secret(client=client, actor_user=request.user))


@admin.register(ApiAccessToken)
class ApiAccessTokenAdmin(ReadOnlyAdminMixin, SchoolScopedAdmin):
    list_display = ["client", "created_at", "expires_at"]
    list_filter = ["client__school"]
    search_fields = ["client__appid", "client__name"]
    list_select_related = ["client"]
