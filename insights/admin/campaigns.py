"""Campaigns in the admin: a draft is edited (segment, offer, the card in six languages), its
audience previewed, then launched once from its own page; its results are read on it after."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin
from django.http import HttpResponseRedirect
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.models import Partner
from loyalty.base.errors import LoyaltyError
from loyalty.base.staff import StaffPages
from loyalty.core.models import Tier

from .. import campaigns, services, words
from ..models import Campaign, Rung

SCORES = [(n, str(n)) for n in range(1, 6)]
MONTHS = [(n, str(n)) for n in range(1, 13)]
SEGMENT_FIELDS = ("rungs", "tiers", "r", "f", "m", "birthday_month", "languages", "partner")


class CampaignForm(forms.ModelForm):
    """The segment is kept as JSON; here it is a field per criterion (empty: anyone)."""

    rungs = forms.MultipleChoiceField(
        label=_("rungs"), choices=Rung.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    tiers = forms.ModelMultipleChoiceField(
        label=_("tiers"),
        queryset=Tier.objects.order_by("rank"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    r = forms.TypedMultipleChoiceField(
        label=_("recency score"), choices=SCORES, coerce=int, required=False,
        widget=forms.CheckboxSelectMultiple,
    )  # fmt: skip
    f = forms.TypedMultipleChoiceField(
        label=_("frequency score"), choices=SCORES, coerce=int, required=False,
        widget=forms.CheckboxSelectMultiple,
    )  # fmt: skip
    m = forms.TypedMultipleChoiceField(
        label=_("monetary score"), choices=SCORES, coerce=int, required=False,
        widget=forms.CheckboxSelectMultiple,
    )  # fmt: skip
    birthday_month = forms.TypedChoiceField(
        label=_("birthday month"),
        choices=[("", "—"), *MONTHS],
        coerce=int,
        empty_value=None,
        required=False,
    )
    languages = forms.MultipleChoiceField(
        label=_("languages"),
        choices=settings.LANGUAGES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    partner = forms.ModelChoiceField(
        label=_("bought at (last 12 months)"),
        queryset=Partner.objects.order_by("name"),
        required=False,
    )

    class Meta:
        model = Campaign
        fields = (
            "name", "offer", "points", "reward", "holdout_percent", "reactivation_days",
            "subject_en", "card_en", "subject_lt", "card_lt", "subject_bg", "card_bg",
            "subject_da", "card_da", "subject_ru", "card_ru", "subject_pl", "card_pl",
        )  # fmt: skip

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        segment = self.instance.segment or {}
        for name in SEGMENT_FIELDS:
            if name in segment:
                self.initial[name] = segment[name]

    def clean(self):
        cleaned = super().clean()
        offer = cleaned.get("offer")
        if offer == Campaign.Offer.POINTS and not cleaned.get("points"):
            self.add_error("points", _("A points offer needs points."))
        if offer == Campaign.Offer.VOUCHER:
            reward = cleaned.get("reward")
            if reward is None or not reward.is_active:
                self.add_error("reward", _("A voucher offer needs an active reward."))
        return cleaned

    def segment(self) -> dict:
        data = self.cleaned_data
        segment = {
            "rungs": list(data.get("rungs") or []),
            "tiers": [tier.pk for tier in data.get("tiers") or []],
            "r": list(data.get("r") or []),
            "f": list(data.get("f") or []),
            "m": list(data.get("m") or []),
            "birthday_month": data.get("birthday_month"),
            "languages": list(data.get("languages") or []),
            "partner": data["partner"].pk if data.get("partner") else None,
        }
        return {key: value for key, value in segment.items() if value}


@admin.register(Campaign)
class CampaignAdmin(StaffPages, admin.ModelAdmin):
    form = CampaignForm
    list_display = ("name", "offer", "status", "launched_at", "result")
    list_filter = ("status", "offer")
    readonly_fields = ("status", "launched_at", "audience", "result_words")

    def get_fieldsets(self, request, obj=None):
        cards = [(f"subject_{code}", f"card_{code}") for code, _name in settings.LANGUAGES]
        draft = obj is None or obj.status == Campaign.Status.DRAFT
        return (
            (None, {"fields": ("name", "status", "launched_at")}),
            (_("Who"), {"fields": (SEGMENT_FIELDS if draft else ("segment",)) + ("audience",)}),
            (
                _("The offer"),
                {"fields": ("offer", "points", "reward", "holdout_percent", "reactivation_days")},
            ),
            (_("The card, in each language"), {"fields": [f for pair in cards for f in pair]}),
            (_("Results"), {"fields": ("result_words",)}),
        )

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.status != Campaign.Status.DRAFT:
            return [f for _n, opts in self.get_fieldsets(request, obj) for f in opts["fields"]]
        return self.readonly_fields

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is not None and obj.status != Campaign.Status.DRAFT:
            kwargs["fields"] = ()
        return super().get_form(request, obj, change, **kwargs)

    def has_delete_permission(self, request, obj=None):
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or obj.status == Campaign.Status.DRAFT)

    def delete_model(self, request, obj):
        try:
            services.campaign_delete(campaign=obj, staff=request.user)
        except LoyaltyError as exc:
            self.message_user(request, exc.message, level="error")

    def delete_queryset(self, request, queryset):
        for campaign in queryset:
            self.delete_model(request, campaign)

    def save_model(self, request, obj, form, change):
        obj.segment = form.segment()
        try:
            services.campaign_save(campaign=obj, staff=request.user)
        except LoyaltyError as exc:
            # (launched by someone else meanwhile: nothing was saved)
            self.message_user(request, exc.message, level="error")

    def get_urls(self):
        urls = super().get_urls()
        launch = path(
            "<path:object_id>/launch/",
            self.admin_site.admin_view(self.launch_view),
            name="insights_campaign_launch",
        )
        return [launch, *urls]

    @admin.display(description=_("audience now"))
    def audience(self, obj):
        if obj is None or obj.pk is None:
            return _("Save the draft to see who it reaches.")
        if obj.status != Campaign.Status.DRAFT:
            members = obj.members.count()
            return ngettext(
                "%(n)s member, %(held)s of them held out.",
                "%(n)s members, %(held)s of them held out.",
                members,
            ) % {
                "n": members,
                "held": obj.members.filter(holdout=True).count(),
            }
        count, sample = campaigns.campaign_preview(obj)
        return render_to_string(
            "admin/insights/_audience.html",
            {
                "count": count,
                "held": campaigns.holdout_size(count, obj.holdout_percent),
                "sample": sample,
                "launch_url": reverse("admin:insights_campaign_launch", args=[obj.pk]),
            },
        )

    @admin.display(description=_("result"))
    def result(self, obj):
        return words.came_back_words(obj.results) if obj.results else "–"

    @admin.display(description=_("results"))
    def result_words(self, obj):
        if obj is None or obj.launched_at is None:
            return _("Not launched yet.")
        results = campaigns.campaign_results(obj)
        return render_to_string(
            "admin/insights/_results.html",
            {
                "results": results,
                "words": words.came_back_words(results),
                "treated_spend": campaigns.spend_per_member(results["treated"]),
                "held_spend": campaigns.spend_per_member(results["held"]),
            },
        )

    def launch_view(self, request, object_id):
        campaign = self.object_for_change(request, object_id)
        if request.method == "POST":
            try:
                count = campaigns.campaign_launch(campaign=campaign, staff=request.user)
            except LoyaltyError as exc:
                self.message_user(request, exc.message, level="error")
            else:
                self.message_user(
                    request,
                    ngettext(
                        "Launched to %(n)s member; the offer is on its way.",
                        "Launched to %(n)s members; the offer is on its way.",
                        count,
                    )
                    % {"n": count},
                )
            return HttpResponseRedirect(
                reverse("admin:insights_campaign_change", args=[campaign.pk])
            )
        count, sample = campaigns.campaign_preview(campaign)
        return self.staff_page(
            request,
            "admin/insights/launch.html",
            title=_("Launch the campaign"),
            obj=campaign,
            count=count,
            held=campaigns.holdout_size(count, campaign.holdout_percent),
            sample=sample,
            link=format_html("<strong>{}</strong>", campaign.name),
        )
