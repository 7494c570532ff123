"""What the feedback book's staff pages share: labels, service errors on forms, list filters."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loyalty.base.errors import LoyaltyError

from ..models import FeedbackItem, overdue_q

FIGURES_MONTHS = 12
MAX_FIGURES_MONTHS = 36
LANGUAGE_NAMES = dict(settings.LANGUAGES)


def item_label(item: FeedbackItem) -> str:
    return f"#{item.pk}"


def add_service_error(form: forms.Form, exc: LoyaltyError) -> None:
    """Put a service's error on the field it names, or on the form as a whole."""
    field = exc.extra.get("field")
    form.add_error(field if field in form.fields else None, exc.message)


# --- list filters ---------------------------------------------------------------------------


class OverdueFilter(admin.SimpleListFilter):
    title = _("overdue")
    parameter_name = "overdue"

    def lookups(self, request, model_admin):
        return (("yes", _("Yes")), ("no", _("No")))

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "yes":
            return queryset.filter(overdue_q(now))
        if self.value() == "no":
            return queryset.exclude(overdue_q(now))
        return queryset


class AssignedFilter(admin.SimpleListFilter):
    title = _("assigned to")
    parameter_name = "assigned"

    def lookups(self, request, model_admin):
        staff = (
            get_user_model()
            .objects.filter(is_staff=True, is_active=True)
            .order_by("email")
            .values_list("pk", "email")
        )
        return (
            ("mine", _("Me")),
            ("nobody", _("Nobody")),
            *((str(pk), email) for pk, email in staff),
        )

    def queryset(self, request, queryset):
        value = self.value()
        if value == "mine":
            return queryset.filter(assigned_to=request.user)
        if value == "nobody":
            return queryset.filter(assigned_to__isnull=True)
        if value and value.isdigit():
            return queryset.filter(assigned_to_id=int(value))
        return queryset


class EscalatedFilter(admin.SimpleListFilter):
    title = _("escalated")
    parameter_name = "escalated"

    def lookups(self, request, model_admin):
        return (("yes", _("Yes")), ("no", _("No")))

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(escalated_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(escalated_at__isnull=True)
        return queryset


class AnsweredFilter(admin.SimpleListFilter):
    title = _("answered")
    parameter_name = "answered"

    def lookups(self, request, model_admin):
        return (("yes", _("Yes")), ("no", _("No")))

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(answered_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(answered_at__isnull=True)
        return queryset
