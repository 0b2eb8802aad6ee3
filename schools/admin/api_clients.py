"""Device vendors' API clients, the schools each is granted, and their access tokens.

A new secret is shown once, in a message. A client granted to several schools belongs to the
platform: school staff see it (and only their own school's grant) but only a superuser may
change it or reset its secret, so that one school never stops another school's phones.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import FilteredSelectMultiple
from django.utils.translation import gettext_lazy as _

from core.admin import ReadOnlyAdminMixin
from core.errors import ApplicationError
from schools.admin.scoping import SchoolScopedAdmin, SchoolScopedInline
from schools.models import ApiAccessToken, ApiClient, ApiClientGrant, School
from schools.services.api_clients import api_client_create, api_client_issue_secret, api_client_set_schools
from schools.tenancy import ALL_SCHOOLS, staff_school_id


class ApiClientGrantInline(SchoolScopedInline):
    """The schools a client is granted, read-only (a superuser changes them with the form's
    ``schools`` field, through ``api_client_set_schools``, which audits each change)."""

    model = ApiClientGrant
    fields = ["school", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class ApiClientForm(forms.ModelForm):
    grant_schools = forms.ModelMultipleChoiceField(
        label=_("schools"),
        queryset=School.objects.all(),
        required=False,
        widget=FilteredSelectMultiple(_("schools"), is_stacked=False),
        help_text=_("The schools whose phones this client may serve; one appid may serve many schools."),
    )

    class Meta:
        model = ApiClient
        fields = ["name", "is_active"]


@admin.register(ApiClient)
class ApiClientAdmin(SchoolScopedAdmin):
    """Creating a client (granted to the staff user's school, or to the schools a superuser picks)
    or resetting its secret shows the secret once."""

    form = ApiClientForm
    list_display = ["name", "appid", "is_active", "created_at"]
    list_filter = ["grants__school", "is_active"]
    search_fields = ["name", "appid"]
    readonly_fields = ["appid", "created_at"]
    inlines = [ApiClientGrantInline]
    actions = ["reset_secret"]

    def get_fields(self, request, obj=None):
        fields = ["name", "is_active"]
        if request.user.is_superuser:
            fields.append("grant_schools")
        return fields + (["appid", "created_at"] if obj else [])

    def get_inlines(self, request, obj):
        return self.inlines if obj else []

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is not None and "grant_schools" in form.base_fields:
            form.base_fields["grant_schools"].initial = list(obj.grants.values_list("school_id", flat=True))
        return form

    def _shared_with_other_schools(self, request, client) -> bool:
        school_id = staff_school_id(request.user)
        return school_id is not ALL_SCHOOLS and client.grants.exclude(school_id=school_id).exists()

    def has_change_permission(self, request, obj=None):
        if obj is not None and self._shared_with_other_schools(request, obj):
            return False
        return super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        schools = form.cleaned_data.get("grant_schools")
        school_ids = [school.pk for school in schools] if schools is not None else None
        if change:
            super().save_model(request, obj, form, change)
            if school_ids is not None:
                api_client_set_schools(client=obj, school_ids=school_ids, actor_user=request.user)
            return
        if school_ids is None:  # school staff: their own school
            school_ids = [staff_school_id(request.user)]
        client, secret = api_client_create(school_ids=school_ids, name=obj.name, actor_user=request.user)
        if not obj.is_active:
            ApiClient.objects.filter(pk=client.pk).update(is_active=False)  # new: no token cached yet
        obj.pk, obj.appid, obj.created_at, obj.secret_hash = (
            client.pk,
            client.appid,
            client.created_at,
            client.secret_hash,
        )
        self._secret_message(request, client, secret)

    def _secret_message(self, request, client, secret):
        self.message_user(
            request,
            _("appid %(appid)s, secret %(secret)s — copy the secret now; it is stored only as a digest.")
            % {"appid": client.appid, "secret": secret},
            messages.WARNING,
        )

    @admin.action(description=_("Issue a new secret (the old one stops working)"), permissions=["change"])
    def reset_secret(self, request, queryset):
        for client in queryset:
            if self._shared_with_other_schools(request, client):
                self.message_user(
                    request,
                    _("%(client)s serves other schools too: ask the platform operator to reset its secret.")
                    % {"client": client},
                    messages.ERROR,
                )
                continue
            try:
                secret = api_client_issue_secret(client=client, actor_user=request.user)
            except ApplicationError as exc:  # the service checks the role itself
                self.message_user(request, f"{client}: {exc.message}", messages.ERROR)
                continue
            self._secret_message(request, client, secret)


@admin.register(ApiClientGrant)
class ApiClientGrantAdmin(ReadOnlyAdminMixin, SchoolScopedAdmin):
    """Which vendors' clients serve which schools (changed on the client's page)."""

    list_display = ["client", "school", "created_at"]
    list_filter = ["school"]
    search_fields = ["client__appid", "client__name"]
    list_select_related = ["client", "school"]


@admin.register(ApiAccessToken)
class ApiAccessTokenAdmin(ReadOnlyAdminMixin, SchoolScopedAdmin):
    list_display = ["client", "created_at", "expires_at"]
    list_filter = ["client__grants__school"]
    search_fields = ["client__appid", "client__name"]
    list_select_related = ["client"]
