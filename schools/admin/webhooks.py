"""Webhooks in the admin: receivers with their delivery figures, the events, and the deliveries.

A receiver's signing secret is shown once, in a message, when it is created or rotated
(``schools.services.webhooks``). School administrators manage their school's receivers; a
vendor client's receivers (for every school it serves) are the platform's. Deliveries can be
sent again (a receiver that lost them, or dead letters), keeping their event ids.
"""

from django import forms
from django.contrib import admin, messages
from django.db.models import Avg, Count, F, Max, Q
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from core.admin import ReadOnlyAdminMixin
from core.errors import ApplicationError
from core.local_time import local_display
from schools.admin.scoping import SchoolScopedAdmin, SchoolScopedInline
from schools.models import OutboxEvent, WebhookDelivery, WebhookEndpoint
from schools.services.events import webhook_url_check
from schools.services.webhooks import (
    webhook_deliveries_redeliver,
    webhook_endpoint_create,
    webhook_endpoint_update,
    webhook_secret_rotate,
)
from schools.tenancy import ALL_SCHOOLS, staff_may_change, staff_school_id

DELIVERED, PENDING, DEAD = (WebhookDelivery.State.DELIVERED, WebhookDelivery.State.PENDING, WebhookDelivery.State.DEAD)


class WebhookEndpointForm(forms.ModelForm):
    """The receiver's URL is checked as the service checks it (https, a public address), so that a
    refusal shows on the field."""

    class Meta:
        model = WebhookEndpoint
        fields = ["school", "client", "url", "is_active"]

    def clean_url(self):
        url = self.cleaned_data["url"]
        try:
            webhook_url_check(url)
        except ApplicationError as exc:
            raise forms.ValidationError(exc.message) from exc
        return url

    def clean(self):
        data = super().clean()
        if {"school", "client"} <= set(self.fields) and bool(data.get("school")) == bool(data.get("client")):
            raise forms.ValidationError(_("Choose a school or an API client (one of them)."))
        return data


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(SchoolScopedAdmin):
    """Receivers and how their deliveries fare: delivered, pending, failed for good, the mean
    latency of the delivered (ms), the last attempt and its error."""

    form = WebhookEndpointForm
    list_display = [
        "url",
        "owner",
        "is_active",
        "delivered_count",
        "pending_count",
        "dead_count",
        "mean_latency",
        "last_attempt",
        "deliveries_link",
    ]
    list_filter = ["is_active", "school"]
    search_fields = ["url"]
    list_select_related = ["school", "client"]
    readonly_fields = ["secret_version", "created_at", "deliveries_link", "last_error"]
    actions = ["rotate_secret"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                delivered=Count("deliveries", filter=Q(deliveries__state=DELIVERED)),
                pending=Count("deliveries", filter=Q(deliveries__state=PENDING)),
                dead=Count("deliveries", filter=Q(deliveries__state=DEAD)),
                latency=Avg("deliveries__latency_ms", filter=Q(deliveries__state=DELIVERED)),
                last_attempt_at=Max("deliveries__last_attempt_at"),
            )
        )

    def get_fields(self, request, obj=None):
        if obj is not None:  # the owner never changes: a new receiver gets a new secret
            return ["owner", "url", "is_active", "secret_version", "created_at", "last_error", "deliveries_link"]
        if staff_school_id(request.user) is ALL_SCHOOLS:
            return ["school", "client", "url", "is_active"]
        return ["url", "is_active"]

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "owner"] if obj is not None else []

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.client_id is not None and not request.user.is_superuser:
            return False  # a vendor's receiver serves other schools too: the platform's
        return super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        if change:
            webhook_endpoint_update(endpoint=obj, url=obj.url, is_active=obj.is_active, actor_user=request.user)
            return
        if staff_school_id(request.user) is not ALL_SCHOOLS:  # staff add to their own school
            obj.school, obj.client = request.user.staff_membership.school, None
        endpoint, secret = webhook_endpoint_create(
            url=obj.url, school=obj.school, client=obj.client, is_active=obj.is_active, actor_user=request.user
        )
        obj.pk, obj.secret_version, obj.created_at = endpoint.pk, endpoint.secret_version, endpoint.created_at
        self._secret_message(request, endpoint, secret)

    def _secret_message(self, request, endpoint, secret):
        self.message_user(
            request,
            _(
                "Signing secret of %(url)s: %(secret)s — copy it now; it is not shown again. Verify "
                'X-Portal-Signature (t=…,v1=HMAC-SHA256 of "t.body") with it.'
            )
            % {"url": endpoint.url, "secret": secret},
            messages.WARNING,
        )

    @admin.action(description=_("Issue a new signing secret (the old one stops at once)"), permissions=["change"])
    def rotate_secret(self, request, queryset):
        for endpoint in queryset:
            try:
                secret = webhook_secret_rotate(endpoint=endpoint, actor_user=request.user)
            except ApplicationError as exc:  # the service checks the role itself
                self.message_user(request, f"{endpoint}: {exc.message}", messages.ERROR)
                continue
            self._secret_message(request, endpoint, secret)

    @admin.display(description=_("owner"))
    def owner(self, endpoint):
        return endpoint.school or endpoint.client

    @admin.display(description=_("delivered"), ordering="delivered")
    def delivered_count(self, endpoint):
        return endpoint.delivered

    @admin.display(description=_("pending"), ordering="pending")
    def pending_count(self, endpoint):
        return endpoint.pending

    @admin.display(description=_("failed for good"), ordering="dead")
    def dead_count(self, endpoint):
        return endpoint.dead

    @admin.display(description=_("mean latency (ms)"), ordering="latency")
    def mean_latency(self, endpoint):
        return round(endpoint.latency) if endpoint.latency is not None else "-"

    @admin.display(description=_("last attempt at"), ordering="last_attempt_at")
    def last_attempt(self, endpoint):
        return endpoint.last_attempt_at or "-"

    @admin.display(description=_("last error"))
    def last_error(self, endpoint):
        failed = endpoint.deliveries.exclude(last_error="").order_by(F("last_attempt_at").desc(nulls_last=True)).first()
        if failed is None:
            return "-"
        return (
            f"{local_display(failed.last_attempt_at)} {failed.last_error}"
            if failed.last_attempt_at
            else failed.last_error
        )

    @admin.display(description=_("deliveries"))
    def deliveries_link(self, endpoint):
        url = reverse("admin:schools_webhookdelivery_changelist") + f"?endpoint__id__exact={endpoint.pk}"
        return format_html('<a href="{}">{}</a>', url, _("deliveries"))


class WebhookDeliveryInline(SchoolScopedInline):
    model = WebhookDelivery
    fields = ["endpoint", "state", "attempts", "last_status", "latency_ms", "last_error", "delivered_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(OutboxEvent)
class OutboxEventAdmin(ReadOnlyAdminMixin, SchoolScopedAdmin):
    """Every event the portal told (or will tell) the school's systems, in the order vendors read them."""

    list_display = ["created_at", "type", "school", "position", "event_id"]
    list_filter = ["type", "school"]
    search_fields = ["=event_id"]
    list_select_related = ["school"]
    fields = ["event_id", "type", "school", "created_at", "position", "audit_log", "data"]
    readonly_fields = fields
    inlines = [WebhookDeliveryInline]
    show_full_result_count = False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdminMixin, SchoolScopedAdmin):
    """Each event's delivery to each receiver: attempts, the last HTTP status, latency and error.
    "Send again" re-queues the chosen deliveries (dead letters included) with their event ids."""

    list_display = [
        "event",
        "endpoint",
        "state",
        "attempts",
        "last_status",
        "latency_ms",
        "last_error",
        "last_attempt_at",
        "next_attempt_at",
        "delivered_at",
    ]
    list_filter = ["state", "endpoint", "event__type"]
    search_fields = ["=event__event_id"]
    list_select_related = ["event", "endpoint"]
    actions = ["redeliver"]
    show_full_result_count = False

    def has_redeliver_permission(self, request):
        return staff_may_change(request.user) and request.user.has_perm("schools.change_webhookendpoint")

    @admin.action(description=_("Send again"), permissions=["redeliver"])
    def redeliver(self, request, queryset):
        try:
            count = webhook_deliveries_redeliver(deliveries=queryset, actor_user=request.user)
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return
        self.message_user(request, _("%(count)d deliveries queued again.") % {"count": count}, messages.SUCCESS)
