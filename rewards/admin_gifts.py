"""Staff pages for gifts with a card: the card templates, the "Send a gift" page for one member
(linked from the member's page through loyalty.core.hooks), the list of gifts sent, and the
birthday gift settings (one row).

Sending goes through rewards.gifts.gift_send; a refusal becomes a form error on the page.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.core.validators import MaxValueValidator
from django.http import Http404, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from accounts.models import Member
from loyalty.base.errors import LoyaltyError
from loyalty.base.staff import ReadOnlyAdmin, StaffPages, member_link

from . import errors, gifts
from .models import BirthdayGiftSettings, CardTemplate, Gift, Reward

SEND_PERMISSION = "rewards.add_gift"

# --- card templates ------------------------------------------------------------------------------


@admin.register(CardTemplate)
class CardTemplateAdmin(admin.ModelAdmin):
    list_display = ("name", "title_en", "is_active", "created_at")
    list_filter = ("is_active",)
    search_fields = ("name", *(f"title_{code}" for code, _name in settings.LANGUAGES))

    def get_fieldsets(self, request, obj=None):
        return (
            (None, {"fields": ("name", "is_active")}),
            *(
                (
                    name,
                    {
                        "fields": (f"title_{code}", f"text_{code}"),
                        "description": _("{name} in the text becomes the member's first name."),
                    },
                )
                for code, name in settings.LANGUAGES
            ),
        )


# --- sending a gift ------------------------------------------------------------------------------


class GiftForm(forms.Form):
    required_css_class = "required"

    what = forms.ChoiceField(
        label=_("Gift"), choices=Gift.What.choices, widget=forms.RadioSelect, initial="points"
    )
    points = forms.IntegerField(label=_("Points"), required=False, min_value=1)
    reward = forms.ModelChoiceField(
        label=_("Reward"),
        queryset=Reward.objects.filter(is_active=True),
        required=False,
        help_text=_("For a voucher: the points the reward costs are the gift's."),
    )
    template = forms.ModelChoiceField(
        label=_("Card"), queryset=CardTemplate.objects.filter(is_active=True), empty_label=None
    )
    note = forms.CharField(
        label=_("Personal note"),
        max_length=gifts.NOTE_MAX_CHARS,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Optional: your own words under the card, shown to the member as written."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # (the limit is a setting: read per form, not when the module is imported)
        limit = gifts.gift_max_points()
        points = self.fields["points"]
        points.max_value = limit
        points.validators.append(MaxValueValidator(limit))
        points.widget.attrs["max"] = limit
        points.help_text = _("For a gift of points: 1 to %(limit)d.") % {"limit": limit}

    def clean(self):
        cleaned = super().clean()
        what = cleaned.get("what")
        if what == Gift.What.POINTS and not cleaned.get("points") and "points" not in self.errors:
            self.add_error("points", _("Enter the points to give."))
        if what == Gift.What.VOUCHER and not cleaned.get("reward") and "reward" not in self.errors:
            self.add_error("reward", _("Choose the reward to give as a voucher."))
        # What does not belong to the chosen gift is not sent.
        if what != Gift.What.POINTS:
            cleaned["points"] = 0
        if what != Gift.What.VOUCHER:
            cleaned["reward"] = None
        return cleaned


# Which field a refusal of the service belongs to (the rest go above the form).
_ERROR_FIELDS = {
    errors.GiftPointsInvalid: "points",
    errors.RewardInactive: "reward",
    errors.OutOfStock: "reward",
    errors.TierTooLow: "reward",
    errors.LimitReached: "reward",
    errors.CardTemplateInactive: "template",
}


def _previews(member: Member) -> list[dict]:
    """Each active card as the member will read it: in their language, with their name."""
    name = gifts.card_name(member)
    previews = []
    for template in CardTemplate.objects.filter(is_active=True):
        title, text = template.card(member.language, name)
        previews.append({"pk": template.pk, "title": title, "text": text})
    return previews


@admin.register(Gift)
class GiftAdmin(StaffPages, ReadOnlyAdmin):
    """The gifts sent (history: never changed); sending is the member's "Send a gift" page."""

    send_template = "admin/rewards/gift_send.html"
    list_display = (
        "created_at",
        "member_number",
        "what",
        "points",
        "reward",
        "template",
        "sent_by",
    )
    list_select_related = ("member", "reward", "template", "sent_by")
    list_filter = ("what", "template", "created_at")
    search_fields = ("=member__member_number", "=member__user__email")
    search_help_text = _("The exact member number or e-mail address.")
    date_hierarchy = "created_at"
    fields = (
        "created_at",
        "member_display",
        "what",
        "points",
        "reward",
        "redemption",
        "template",
        "note",
        "sent_by",
    )

    def get_urls(self):
        urls = [
            path(
                "send/<path:member_id>/",
                self.admin_site.admin_view(self.send_view),
                name="rewards_gift_send",
            )
        ]
        return urls + super().get_urls()

    @admin.display(description=_("member number"), ordering="member__member_number")
    def member_number(self, obj):
        return obj.member.member_number

    @admin.display(description=_("member"))
    def member_display(self, obj):
        return member_link(obj.member)

    def send_view(self, request, member_id):
        if not request.user.has_perm(SEND_PERMISSION):
            raise PermissionDenied
        member = Member.objects.select_related("user", "tier").filter(pk=_int(member_id)).first()
        if member is None:
            raise Http404(_("No member with that id."))
        form = GiftForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            try:
                gift = self._send(request, member, form)
            except LoyaltyError as exc:
                form.add_error(_ERROR_FIELDS.get(type(exc)), exc.message)
            else:
                self.message_user(
                    request,
                    _("%(member)s: the gift “%(card)s” was sent.")
                    % {"member": member.member_number, "card": gift.template.name},
                )
                return HttpResponseRedirect(
                    reverse("admin:accounts_member_change", args=[member.pk])
                )
        return self.staff_page(
            request,
            self.send_template,
            title=_("Send a gift"),
            form=form,
            obj=member,
            member=member,
            member_opts=Member._meta,
            closed=member.status == Member.Status.CLOSED,
            previews=_previews(member),
        )

    def _send(self, request, member: Member, form: GiftForm) -> Gift:
        data = form.cleaned_data
        gift = gifts.gift_send(
            member=member,
            what=data["what"],
            points=data["points"] or 0,
            reward=data["reward"],
            template=data["template"],
            note=data["note"],
            staff_user=request.user,
        )
        self.log_addition(request, gift, f"Sent to {member.member_number}.")
        return gift


def _int(value) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None


# --- birthday gift settings ----------------------------------------------------------------------


@admin.register(BirthdayGiftSettings)
class BirthdayGiftSettingsAdmin(admin.ModelAdmin):
    """One row: the list opens it."""

    fields = ("points", "discount_reward", "surprise_rewards", "donation_amount", "donation_cause")
    filter_horizontal = ("surprise_rewards",)

    def has_add_permission(self, request):
        # the row is the migration's (made again by the list if missing); asking the database
        # here would cost a query on every admin page, which lists the apps
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        row = gifts.birthday_settings_row()
        return HttpResponseRedirect(
            reverse("admin:rewards_birthdaygiftsettings_change", args=[row.pk])
        )
