"""Staff pages for webhooks: partners' endpoints, the events sent, and the delivery log.

Endpoints are created and changed through webhooks.services. The signing secret is
write-only-ish: the add form offers a freshly generated one to copy to the partner (or replace
with theirs); after saving, only its last four characters are shown anywhere, and the change
form replaces it only when a new one is typed. Events and deliveries are a read-only log; the one
write is "Send again", through webhooks.services.delivery_resend.
"""

from __future__ import annotations

import json
import uuid

from django import forms
from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from loyalty.base.errors import LoyaltyError

from . import services
from .models import EVENT_TYPES, WebhookDelivery, WebhookEndpoint, WebhookEvent


def secret_hint(secret: str) -> str:
    """The last four characters of a secret, or nothing of a secret too short to spare them."""
    if len(secret or "") < 12:
        return "…"
    return f"…{secret[-4:]}"


def _copy_saved(target, source) -> None:
    """Make the admin's unsaved instance the object a service created, so the admin's
    log entry and redirect point at it."""
    for field in source._meta.concrete_fields:
        setattr(target, field.attname, getattr(source, field.attname))
    target._state.adding = False
    target._state.db = source._state.db


# --- endpoints ---------------------------------------------------------------------------------


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(label=_("URL"), max_length=500, assume_scheme="https")
    event_types = forms.MultipleChoiceField(
        label=_("events"),
        choices=EVENT_TYPES,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=_("The event types to send; none ticked means all."),
    )
    new_secret = forms.CharField(
        label=_("signing secret"),
        required=False,
        min_length=services.SECRET_MIN_LENGTH,
        max_length=services.SECRET_MAX_LENGTH,
        widget=forms.TextInput(attrs={"autocomplete": "off", "size": 50, "spellcheck": "false"}),
    )

    class Meta:
        model = WebhookEndpoint
        fields = ("partner", "url", "event_types", "is_active")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        secret = self.fields["new_secret"]
        if self.instance.pk is None:
            secret.required = True
            secret.initial = services.secret_generate()
            secret.help_text = _(
                "A new random secret is filled in: give it to the partner over a safe channel, "
                "or enter the one agreed with them. After saving, only its last four characters "
                "are shown."
            )
        else:
            secret.help_text = _(
                "Leave empty to keep the current secret (ending in %(hint)s). Enter a new one to "
                "replace it: every attempt from then on is signed with the new secret."
            ) % {"hint": secret_hint(self.instance.secret)}


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    fields = ("partner", "url", "event_types", "is_active", "new_secret", "created_at")
    list_display = ("url", "partner", "events", "is_active", "secret_ending", "created_at")
    list_filter = ("is_active", "partner")
    list_select_related = ("partner",)
    search_fields = ("url", "partner__name")

    def get_readonly_fields(self, request, obj=None):
        # An endpoint belongs to one partner for good: deliveries already made to it say so.
        return ("partner", "created_at") if obj is not None else ("created_at",)

    def has_delete_permission(self, request, obj=None):
        # Deactivate instead: the endpoint's deliveries stay as the log.
        return False

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            services.endpoint_update(
                endpoint=obj,
                url=data["url"],
                secret=data["new_secret"] or None,
                event_types=data["event_types"],
                is_active=data["is_active"],
            )
            return
        endpoint = services.endpoint_create(
            partner=data["partner"],
            url=data["url"],
            secret=data["new_secret"],
            event_types=data["event_types"],
            is_active=data["is_active"],
        )
        _copy_saved(obj, endpoint)

    @admin.display(description=_("events"))
    def events(self, obj):
        return ", ".join(obj.event_types) if obj.event_types else _("all")

    @admin.display(description=_("signing secret"))
    def secret_ending(self, obj):
        return secret_hint(obj.secret)


# --- events ------------------------------------------------------------------------------------


class ReadOnlyMixin:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class DeliveryInline(ReadOnlyMixin, admin.TabularInline):
    model = WebhookDelivery
    fields = (
        "endpoint",
        "status",
        "attempts",
        "last_status_code",
        "last_error",
        "next_attempt_at",
        "delivered_at",
    )
    readonly_fields = fields
    extra = 0
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("endpoint__partner")


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyMixin, admin.ModelAdmin):
    fields = ("id", "type", "partner", "created_at", "pretty_payload")
    readonly_fields = fields
    list_display = ("type", "partner", "created_at", "id")
    list_filter = ("type", "partner")
    list_select_related = ("partner",)
    search_fields = ("=id",)
    inlines = (DeliveryInline,)

    def get_search_results(self, request, queryset, search_term):
        # Search by an event id, as a partner quotes it from Loyalty-Event-Id.
        term = search_term.strip()
        if not term:
            return queryset, False
        try:
            return queryset.filter(pk=uuid.UUID(term)), False
        except ValueError:
            return queryset.none(), False

    @admin.display(description=_("payload"))
    def pretty_payload(self, obj):
        text = json.dumps(obj.payload, indent=2, ensure_ascii=False, sort_keys=True)
        return format_html('<pre style="white-space: pre-wrap">{}</pre>', text)


# --- deliveries --------------------------------------------------------------------------------


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyMixin, admin.ModelAdmin):
    fields = (
        "event_link",
        "event_type",
        "endpoint_link",
        "status",
        "attempts",
        "last_attempt_at",
        "last_status_code",
        "last_error",
        "next_attempt",
        "retry_until",
        "delivered_at",
        "created_at",
    )
    readonly_fields = fields
    list_display = (
        "id",
        "event_type",
        "endpoint",
        "status",
        "attempts",
        "last_status_code",
        "last_error",
        "next_attempt",
        "delivered_at",
    )
    list_filter = ("status", "endpoint__partner", "event__type")
    actions = ("send_again",)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("event", "endpoint__partner")
            .defer("event__payload")
        )

    def has_resend_permission(self, request):
        return request.user.has_perm(f"{self.opts.app_label}.change_{self.opts.model_name}")

    @admin.action(description=_("Send again"), permissions=["resend"])
    def send_again(self, request, queryset):
        resent = skipped = 0
        for delivery in queryset.order_by("pk"):
            try:
                services.delivery_resend(delivery=delivery)
            except LoyaltyError:
                skipped += 1
            else:
                resent += 1
        if resent:
            self.message_user(
                request,
                ngettext(
                    "%(count)d delivery will be sent again, with a new 24-hour retry window.",
                    "%(count)d deliveries will be sent again, with a new 24-hour retry window.",
                    resent,
                )
                % {"count": resent},
                messages.SUCCESS,
            )
        if skipped:
            self.message_user(
                request,
                ngettext(
                    "%(count)d delivery was skipped: its endpoint is not active.",
                    "%(count)d deliveries were skipped: their endpoints are not active.",
                    skipped,
                )
                % {"count": skipped},
                messages.WARNING,
            )

    @admin.display(description=_("event type"), ordering="event__type")
    def event_type(self, obj):
        return obj.event.type

    @admin.display(description=_("next attempt"), ordering="next_attempt_at")
    def next_attempt(self, obj):
        if obj.status != WebhookDelivery.Status.PENDING:
            return "-"
        return obj.next_attempt_at

    @admin.display(description=_("event"))
    def event_link(self, obj):
        url = reverse("admin:webhooks_webhookevent_change", args=[obj.event_id])
        return format_html('<a href="{}">{}</a>', url, obj.event_id)

    @admin.display(description=_("endpoint"))
    def endpoint_link(self, obj):
        url = reverse("admin:webhooks_webhookendpoint_change", args=[obj.endpoint_id])
        return format_html('<a href="{}">{}</a>', url, obj.endpoint)
