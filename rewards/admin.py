"""Staff pages for the reward catalogue, redemptions and vouchers.

Rewards are configuration and are edited here. Redemptions and vouchers are history: staff can
look, search and export, never add, change or delete. The one change staff can make is to cancel
a redemption whose voucher is unused, and that goes through rewards.services.redemption_cancel,
which gives the points and the stock back.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from loyalty.base.errors import LoyaltyError
from loyalty.base.formats import short_datetime
from loyalty.base.languages import LANGUAGE_CODES
from loyalty.base.staff import ReadOnlyAdmin, StaffPages, csv_response, member_link

from . import (
    admin_gifts,  # noqa: F401 (the gift pages and birthday settings register there)
    services,
)
from .models import OccasionGrant, Redemption, Reward, Voucher
from .validators import validate_image_size

# --- shared helpers ------------------------------------------------------------------------------


def _voucher_of(redemption: Redemption) -> Voucher | None:
    try:
        return redemption.voucher
    except Voucher.DoesNotExist:
        return None


class VoucherCodeSearchMixin:
    """Also find a voucher by its code as a person types it: any case, with dashes or spaces.

    Codes are stored upper-case without dashes, so the term is normalized and matched exactly.
    """

    voucher_code_lookup = "code"

    def get_search_results(self, request, queryset, search_term):
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        code = services.normalize_voucher_code(search_term)
        if code:
            results = results | queryset.filter(**{self.voucher_code_lookup: code})
        return results, may_have_duplicates


# --- rewards -------------------------------------------------------------------------------------


class RewardImageField(forms.ImageField):
    """An upload that Pillow can open as an image; the size is checked first, so an oversize
    file is refused without being decoded. The model field's validators (the extension, the
    size) still run when the form validates the model."""

    def to_python(self, data):
        if data and getattr(data, "size", None) is not None:
            validate_image_size(data)
        return super().to_python(data)


class RewardForm(forms.ModelForm):
    class Meta:
        model = Reward
        fields = (
            "slug",
            "kind",
            "value",
            "image",
            *(f"name_{code}" for code in LANGUAGE_CODES),
            *(f"description_{code}" for code in LANGUAGE_CODES),
            "points_cost",
            "stock",
            "limit_per_member",
            "min_tier",
            "is_active",
            "active_from",
            "active_until",
            "voucher_valid_days",
            "return_points_on_expiry",
        )
        field_classes = {"image": RewardImageField}
        widgets = {
            "image": forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}),
            **{
                f"description_{code}": forms.Textarea(attrs={"rows": 3, "cols": 60})
                for code in LANGUAGE_CODES
            },
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The stock as the form showed it is posted back, so an unchanged stock counts as
        # unchanged even if redemptions took some meanwhile (see RewardAdmin.save_model).
        self.fields["stock"].show_hidden_initial = True


def _image_tag(reward: Reward, style: str) -> str:
    if not reward.image:
        return "-"
    return format_html(
        '<img src="{}" alt="{}" style="{}">', reward.image.url, reward.name_en, style
    )


@admin.register(Reward)
class RewardAdmin(admin.ModelAdmin):
    form = RewardForm
    list_display = (
        "thumbnail",
        "name_en",
        "kind",
        "points_cost",
        "stock",
        "limit_per_member",
        "is_active",
        "availability",
        "min_tier",
    )
    list_display_links = ("name_en",)
    list_select_related = ("min_tier",)
    list_filter = ("kind", "is_active", "min_tier")
    search_fields = ("slug", *(f"name_{code}" for code in LANGUAGE_CODES))
    search_help_text = _("The code or a part of the name in any language.")
    prepopulated_fields = {"slug": ("name_en",)}
    readonly_fields = ("image_preview", "created_at")
    fieldsets = (
        (None, {"fields": ("slug", "kind", "value", "image", "image_preview")}),
        *(
            (
                name,
                {
                    "fields": (f"name_{code}", f"description_{code}"),
                    "classes": () if code == "en" else ("collapse",),
                },
            )
            for code, name in settings.LANGUAGES
        ),
        (
            _("Cost and availability"),
            {
                "fields": (
                    "points_cost",
                    "stock",
                    "limit_per_member",
                    "min_tier",
                    "is_active",
                    "active_from",
                    "active_until",
                ),
            },
        ),
        (
            _("Voucher"),
            {"fields": ("voucher_valid_days", "return_points_on_expiry", "created_at")},
        ),
    )

    def save_model(self, request, obj, form, change):
        # Save only what staff changed: a full save would write back the stock as it was when
        # the form was opened and undo the redemptions made since (they take stock with an
        # UPDATE). The form posts the stock it showed, so an untouched stock is not "changed".
        if not change:
            super().save_model(request, obj, form, change)
            return
        model_fields = {f.name for f in obj._meta.concrete_fields}
        fields = [name for name in form.changed_data if name in model_fields]
        if fields:
            obj.save(update_fields=fields)

    @admin.display(description=_("image"))
    def thumbnail(self, obj):
        return _image_tag(obj, "width: 60px; height: 40px; object-fit: cover; border-radius: 4px;")

    @admin.display(description=_("image preview"))
    def image_preview(self, obj):
        return _image_tag(obj, "max-width: 100%; width: 480px; height: auto; border-radius: 6px;")

    @admin.display(description=_("availability"))
    def availability(self, obj):
        now = timezone.now()
        if not obj.is_active:
            return _("Off")
        if obj.active_from and now < obj.active_from:
            return _("From %(when)s") % {"when": short_datetime(obj.active_from)}
        if obj.active_until and obj.active_until <= now:
            return _("Ended %(when)s") % {"when": short_datetime(obj.active_until)}
        if obj.active_until:
            return _("Until %(when)s") % {"when": short_datetime(obj.active_until)}
        return _("On")


# --- redemptions ---------------------------------------------------------------------------------


class CancelRedemptionsForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Stays on the redemption for the member's history and for audits."),
    )


@admin.register(Redemption)
class RedemptionAdmin(StaffPages, VoucherCodeSearchMixin, ReadOnlyAdmin):
    cancel_template = "admin/rewards/redemption_cancel.html"
    voucher_code_lookup = "voucher__code"
    list_display = (
        "created_at",
        "member_number",
        "reward",
        "points_spent",
        "status",
        "voucher_code",
        "voucher_status",
    )
    list_select_related = ("member", "reward", "voucher")
    list_filter = ("status", "reward", "created_at")
    search_fields = ("=member__member_number", "=member__user__email")
    search_help_text = _("A voucher code, or the exact member number or e-mail address.")
    actions = ("cancel_redemptions", "export_csv")
    fields = (
        "created_at",
        "member_display",
        "reward",
        "partner",
        "points_spent",
        "discount_percent",
        "spend_entry",
        "status",
        "cancelled_at",
        "cancel_reason",
        "voucher_code",
        "voucher_status",
        "voucher_expires_on",
    )

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("member__user", "reward", "partner", "voucher", "spend_entry")
        )

    def has_cancel_permission(self, request):
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")

    @admin.display(description=_("member number"), ordering="member__member_number")
    def member_number(self, obj):
        return obj.member.member_number

    @admin.display(description=_("member"))
    def member_display(self, obj):
        return member_link(obj.member)

    @admin.display(description=_("voucher"), ordering="voucher__code")
    def voucher_code(self, obj):
        voucher = _voucher_of(obj)
        return voucher.display_code if voucher else "-"

    @admin.display(description=_("voucher status"), ordering="voucher__status")
    def voucher_status(self, obj):
        voucher = _voucher_of(obj)
        return voucher.get_status_display() if voucher else "-"

    @admin.display(description=_("voucher valid until"))
    def voucher_expires_on(self, obj):
        voucher = _voucher_of(obj)
        return voucher.expires_on if voucher else "-"

    # --- actions ---------------------------------------------------------------------------

    @admin.action(description=_("Cancel selected redemptions…"), permissions=["cancel"])
    def cancel_redemptions(self, request, queryset):
        form = CancelRedemptionsForm(request.POST if "_apply" in request.POST else None)
        redemptions = list(queryset.select_related("member", "reward", "voucher").order_by("pk"))
        if "_apply" in request.POST and form.is_valid():
            reason = form.cleaned_data["reason"]
            for redemption in redemptions:
                label = _label(redemption)
                try:
                    services.redemption_cancel(redemption=redemption, reason=reason)
                except LoyaltyError as exc:
                    self.message_user(
                        request,
                        _("%(redemption)s: %(error)s Nothing was changed for this redemption.")
                        % {"redemption": label, "error": exc.message},
                        messages.ERROR,
                    )
                else:
                    self.log_change(request, redemption, f"Cancelled. Reason: {reason}")
                    self.message_user(
                        request,
                        _("%(redemption)s: cancelled, %(points)d points returned.")
                        % {"redemption": label, "points": redemption.points_spent},
                    )
            return None
        return self.staff_page(
            request,
            self.cancel_template,
            title=_("Cancel redemptions"),
            form=form,
            **self.selection("redemptions", redemptions, "cancel_redemptions"),
        )

    @admin.action(description=_("Export selected as CSV"), permissions=["view"])
    def export_csv(self, request, queryset):
        header = (
            _("redeemed at"),
            _("member number"),
            _("e-mail address"),
            _("reward"),
            _("points spent"),
            _("status"),
            _("voucher code"),
            _("voucher status"),
            _("voucher valid until"),
            _("used at"),
        )
        rows = (
            (
                r.created_at,
                r.member.member_number,
                r.member.user.email,
                r.reward.name_en,
                r.points_spent,
                r.get_status_display(),
                v.display_code if (v := _voucher_of(r)) else None,
                v.get_status_display() if v else None,
                v.expires_on if v else None,
                v.used_at if v else None,
            )
            for r in queryset.select_related("member__user", "reward", "voucher")
        )
        return csv_response(f"redemptions-{timezone.localdate():%Y-%m-%d}.csv", header, rows)


def _label(redemption: Redemption) -> str:
    voucher = _voucher_of(redemption)
    code = f" ({voucher.display_code})" if voucher else ""
    return f"{redemption.member.member_number} {redemption.reward.name_en}{code}"


# --- vouchers ------------------------------------------------------------------------------------


@admin.register(Voucher)
class VoucherAdmin(VoucherCodeSearchMixin, ReadOnlyAdmin):
    list_display = (
        "display_code",
        "member_number",
        "reward",
        "status",
        "expires_on",
        "used_at",
        "used_by",
    )
    list_select_related = ("redemption__member", "redemption__reward", "used_by")
    list_filter = ("status", "redemption__reward", "expires_on")
    search_fields = ("=redemption__member__member_number",)
    search_help_text = _("A voucher code or the exact member number.")
    actions = ("export_csv",)
    fields = (
        "display_code",
        "redemption_link",
        "member_display",
        "reward",
        "status",
        "created_at",
        "expires_on",
        "used_at",
        "used_by",
    )

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("redemption__member__user", "redemption__reward", "used_by")
        )

    @admin.display(description=_("code"), ordering="code")
    def display_code(self, obj):
        return obj.display_code

    @admin.display(description=_("member number"), ordering="redemption__member__member_number")
    def member_number(self, obj):
        return obj.redemption.member.member_number

    @admin.display(description=_("member"))
    def member_display(self, obj):
        return member_link(obj.redemption.member)

    @admin.display(description=_("reward"), ordering="redemption__reward__name_en")
    def reward(self, obj):
        return obj.redemption.reward

    @admin.display(description=_("redemption"))
    def redemption_link(self, obj):
        url = reverse("admin:rewards_redemption_change", args=[obj.redemption_id])
        return format_html(
            '<a href="{}">{}</a>',
            url,
            short_datetime(obj.redemption.created_at),
        )

    @admin.action(description=_("Export selected as CSV"), permissions=["view"])
    def export_csv(self, request, queryset):
        header = (
            _("code"),
            _("issued at"),
            _("member number"),
            _("e-mail address"),
            _("reward"),
            _("status"),
            _("valid until"),
            _("used at"),
            _("used by"),
        )
        rows = (
            (
                v.display_code,
                v.created_at,
                v.redemption.member.member_number,
                v.redemption.member.user.email,
                v.redemption.reward.name_en,
                v.get_status_display(),
                v.expires_on,
                v.used_at,
                v.used_by.name if v.used_by else None,
            )
            for v in queryset.select_related(
                "redemption__member__user", "redemption__reward", "used_by"
            )
        )
        return csv_response(f"vouchers-{timezone.localdate():%Y-%m-%d}.csv", header, rows)


@admin.register(OccasionGrant)
class OccasionGrantAdmin(ReadOnlyAdmin):
    """Every anniversary and birthday gift; donations made in members' names are listed here."""

    list_display = (
        "created_at",
        "member",
        "occasion",
        "period",
        "gift",
        "points",
        "donation_amount",
        "donation_cause",
    )
    list_filter = ("occasion", "gift", "period")
    search_fields = ("member__member_number", "member__user__email")
    list_select_related = ("member__user",)
    date_hierarchy = "created_at"
