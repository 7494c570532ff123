"""Forms of the feedback pages. They validate and word errors for people; services write."""

from __future__ import annotations

from django import forms
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from accounts.models import Member
from loyalty.base.formats import money, num
from loyalty.base.web import LongTextField, NoColon
from loyalty.core.models import Purchase

from .models import TEXT_MAX_LENGTH, FeedbackItem

# How many of the member's purchases the form offers to tie the feedback to.
RECENT_PURCHASES = 20
RATING_COMMENT_MAX_LENGTH = 500


def _kind_choices():
    """The four kinds in warm words: what a person wants to say, not a ticket type."""
    return [
        (FeedbackItem.Kind.COMPLAINT, _("Something went wrong")),
        (FeedbackItem.Kind.SUGGESTION, _("I have an idea to make things better")),
        (FeedbackItem.Kind.QUESTION, _("I have a question")),
        (FeedbackItem.Kind.PRAISE, _("Something went well and I want to say so")),
    ]


def purchase_label(purchase: Purchase) -> str:
    """ "12 March 2026 · Corner Shop · €25.00", in the reader's language."""
    day = formats.date_format(timezone.localtime(purchase.occurred_at).date(), "DATE_FORMAT")
    amount = money(purchase.amount, purchase.currency)
    return f"{day} · {purchase.partner.name} · {amount}"


class FeedbackForm(NoColon, forms.Form):
    kind = forms.ChoiceField(
        label=gettext_lazy("What would you like to tell us?"),
        choices=_kind_choices,
        widget=forms.RadioSelect,
        error_messages={
            "required": gettext_lazy("Choose what you would like to tell us."),
            "invalid_choice": gettext_lazy("Choose what you would like to tell us."),
        },
    )
    category = forms.ChoiceField(
        label=gettext_lazy("What is it about?"),
        choices=[("", "—"), *FeedbackItem.Category.choices],
        error_messages={
            "required": gettext_lazy("Choose what it is about."),
            "invalid_choice": gettext_lazy("Choose what it is about."),
        },
    )
    text = LongTextField(
        label=gettext_lazy("In your own words"),
        max_length=TEXT_MAX_LENGTH,
        rows=8,
        error_messages={"required": gettext_lazy("Please write a few words.")},
    )
    purchase = forms.ModelChoiceField(
        label=gettext_lazy("Is it about a purchase? (optional)"),
        queryset=Purchase.objects.none(),
        required=False,
        empty_label=gettext_lazy("No, not about a particular purchase"),
        error_messages={
            "invalid_choice": gettext_lazy(
                "Unknown purchase: choose one of your purchases from the list, or none."
            )
        },
    )
    publish_consent = forms.BooleanField(
        label=gettext_lazy(
            "You may tell others about this case on the “You said, we did” page, without my "
            "name. I can withdraw this at any time."
        ),
        required=False,
    )

    def __init__(self, *args, member: Member, **kwargs):
        super().__init__(*args, **kwargs)
        text = self.fields["text"]
        text.help_text = _(
            "Up to %(limit)s characters. Please leave out card numbers and passwords."
        ) % {"limit": num(TEXT_MAX_LENGTH)}
        # Any of the member's own purchases is accepted; the list offers the latest ones.
        purchase = self.fields["purchase"]
        purchase.queryset = Purchase.objects.filter(member=member).select_related("partner")
        recent = purchase.queryset.order_by("-occurred_at", "-id")[:RECENT_PURCHASES]
        purchase.choices = [("", purchase.empty_label)] + [
            (p.pk, purchase_label(p)) for p in recent
        ]


class RatingForm(NoColon, forms.Form):
    rating = forms.TypedChoiceField(
        label=gettext_lazy("How good was our answer?"),
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={
            "required": gettext_lazy("Choose from 1 to 5 stars."),
            "invalid_choice": gettext_lazy("Choose from 1 to 5 stars."),
        },
    )
    comment = LongTextField(
        label=gettext_lazy("Anything you would like to add? (optional)"),
        max_length=RATING_COMMENT_MAX_LENGTH,
        required=False,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        words = {1: _("poor"), 5: _("excellent")}
        choices = []
        for stars in range(1, 6):
            label = ngettext("%(count)d star", "%(count)d stars", stars) % {"count": stars}
            if stars in words:
                label = _("%(stars)s: %(word)s") % {"stars": label, "word": words[stars]}
            choices.append((stars, label))
        self.fields["rating"].choices = choices


def _scale(low: int, high: int, low_word: str, high_word: str) -> list[tuple[int, str]]:
    """A numbered scale whose two ends say what they mean (a screen reader reads it too)."""
    choices = [(n, str(n)) for n in range(low, high + 1)]
    choices[0] = (low, _("%(number)d: %(word)s") % {"number": low, "word": low_word})
    choices[-1] = (high, _("%(number)d: %(word)s") % {"number": high, "word": high_word})
    return choices


class SurveyForm(NoColon, forms.Form):
    would_tell = forms.TypedChoiceField(
        label=gettext_lazy("If something went wrong, would you tell us?"),
        coerce=int,
        widget=forms.RadioSelect(attrs={"class": "scale"}),
        error_messages={
            "required": gettext_lazy("Choose a number from 1 to 5."),
            "invalid_choice": gettext_lazy("Choose a number from 1 to 5."),
        },
    )
    recommend = forms.TypedChoiceField(
        label=gettext_lazy("How likely are you to recommend us to a friend?"),
        coerce=int,
        widget=forms.RadioSelect(attrs={"class": "scale"}),
        error_messages={
            "required": gettext_lazy("Choose a number from 0 to 10."),
            "invalid_choice": gettext_lazy("Choose a number from 0 to 10."),
        },
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["would_tell"].choices = _scale(1, 5, _("certainly not"), _("yes, certainly"))
        self.fields["recommend"].choices = _scale(
            0, 10, _("not at all likely"), _("extremely likely")
        )
