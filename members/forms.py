"""Forms of the member pages. They validate and word errors for people; services write."""

from __future__ import annotations

import calendar
from datetime import date

from django import forms
from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.forms import (
    AuthenticationForm,
    PasswordChangeForm,
    PasswordResetForm,
    SetPasswordForm,
)
from django.urls import reverse
from django.utils import dates, timezone, translation
from django.utils.translation import gettext_lazy as _

from accounts import services as account_services
from accounts.models import Member, User, normalize_email
from loyalty.base.web import LongTextField, NoColon

from .auth import address_blocked

NO_CHOICE = [("", "—")]


def _language_choices():
    """Each language in its own words: a reader finds theirs whatever the page's language."""
    return [
        (code, translation.get_language_info(code)["name_local"].capitalize())
        for code, _name in settings.LANGUAGES
    ]


def _current_language() -> str:
    language = translation.get_language() or settings.LANGUAGE_CODE
    return language if language in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE


# --- joining and logging in ----------------------------------------------------------------


class SignupForm(NoColon, forms.Form):
    email = forms.EmailField(
        label=_("E-mail address"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    first_name = forms.CharField(
        label=_("First name"),
        max_length=150,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "given-name"}),
    )
    password1 = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label=_("Password again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    language = forms.ChoiceField(label=_("Language"), choices=_language_choices)
    referral_code = forms.CharField(
        label=_("Referral code"),
        max_length=32,
        required=False,
        help_text=_("If a friend invited you, enter their code."),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["language"].initial = _current_language()

    def clean_email(self) -> str:
        return normalize_email(self.cleaned_data["email"])

    def clean(self):
        cleaned = super().clean()
        password1, password2 = cleaned.get("password1"), cleaned.get("password2")
        if password1 and password2 and password1 != password2:
            self.add_error("password2", _("The two passwords are not the same."))
        elif password1:
            user = User(email=cleaned.get("email") or "", first_name=cleaned.get("first_name", ""))
            try:
                password_validation.validate_password(password1, user)
            except forms.ValidationError as error:
                self.add_error("password1", error)
        return cleaned


class LoginForm(NoColon, AuthenticationForm):
    """Django's login form, asking for the e-mail address (the field keeps its name, which
    django-axes counts failures by)."""

    username = forms.CharField(
        label=_("E-mail address"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )
    # Django's own message says both fields may be case-sensitive; e-mail addresses are not here
    # (stored and looked up lower-cased), so only the password is named.
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": _(
            "Please enter a correct e-mail address and password. The password is case-sensitive; "
            "the e-mail address is not."
        ),
    }

    def clean(self):
        # (the authentication backend refuses too; this says why)
        if address_blocked(self.request):
            raise forms.ValidationError(
                _("Too many failed logins from your network. Please try again in an hour."),
                code="address_blocked",
            )
        return super().clean()


# --- e-mails with a one-time link ----------------------------------------------------------


class _InMemberLanguage:
    """Send the account e-mail in the member's language (the request's for others)."""

    def send_mail(
        self,
        subject_template_name,
        email_template_name,
        context,
        from_email,
        to_email,
        html_email_template_name=None,
    ):
        member = Member.objects.filter(user=context["user"]).only("language").first()
        language = member.language if member is not None else _current_language()
        with translation.override(language):
            super().send_mail(
                subject_template_name,
                email_template_name,
                context,
                from_email,
                to_email,
                html_email_template_name,
            )


class MemberPasswordResetForm(NoColon, _InMemberLanguage, PasswordResetForm):
    email = forms.EmailField(
        label=_("E-mail address"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )


class ClaimForm(NoColon, _InMemberLanguage, PasswordResetForm):
    """Claim a membership made at a till: a one-time link to set a password.

    Only a member without a usable password gets the link; one who has a password gets a note
    pointing to the password reset instead; an unknown address gets nothing. The page says the
    same in all three cases, so it tells nobody whether an address is a member's.
    """

    email = forms.EmailField(
        label=_("E-mail address"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )

    def _members_users(self, email: str):
        # Staff set their passwords in the admin, never through a member's claim link.
        return User.objects.filter(
            email__iexact=normalize_email(email),
            is_active=True,
            member__isnull=False,
            is_staff=False,
            is_superuser=False,
        )

    def get_users(self, email):
        return (u for u in self._members_users(email) if not u.has_usable_password())

    def save(self, *, request=None, from_email=None, **kwargs):
        super().save(request=request, from_email=from_email, **kwargs)
        email = self.cleaned_data["email"]
        for user in self._members_users(email):
            if user.has_usable_password():
                context = {
                    "user": user,
                    "email": user.email,
                    "reset_url": request.build_absolute_uri(reverse("members:password_reset")),
                }
                self.send_mail(
                    "registration/claim_already_subject.txt",
                    "registration/claim_already_email.txt",
                    context,
                    from_email,
                    user.email,
                )


# Django's "The two password fields didn’t match." is missing from its Lithuanian catalogue.
_MISMATCH = {"password_mismatch": _("The two passwords are not the same.")}


class ClaimSetPasswordForm(NoColon, SetPasswordForm):
    """The password of a claimed membership, set through accounts.services."""

    error_messages = {**SetPasswordForm.error_messages, **_MISMATCH}

    def save(self, commit=True):
        account_services.member_claim_account(
            member=self.user.member, password=self.cleaned_data["new_password1"]
        )
        return self.user


class MemberSetPasswordForm(NoColon, SetPasswordForm):
    error_messages = {**SetPasswordForm.error_messages, **_MISMATCH}


class MemberPasswordChangeForm(NoColon, PasswordChangeForm):
    error_messages = {**PasswordChangeForm.error_messages, **_MISMATCH}


# --- the profile ---------------------------------------------------------------------------


def _month_choices():
    return NO_CHOICE + [(str(m), dates.MONTHS[m]) for m in range(1, 13)]


def _day_choices():
    return NO_CHOICE + [(str(d), str(d)) for d in range(1, 32)]


class ProfileForm(NoColon, forms.Form):
    first_name = forms.CharField(
        label=_("First name"),
        max_length=150,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "given-name"}),
    )
    last_name = forms.CharField(
        label=_("Last name"),
        max_length=150,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "family-name"}),
    )
    language = forms.ChoiceField(label=_("Language"), choices=_language_choices)
    birthday_month = forms.TypedChoiceField(
        label=_("Birthday: month"),
        choices=_month_choices,
        coerce=int,
        empty_value=None,
        required=False,
        widget=forms.Select(attrs={"autocomplete": "bday-month"}),
    )
    birthday_day = forms.TypedChoiceField(
        label=_("Birthday: day"),
        choices=_day_choices,
        coerce=int,
        empty_value=None,
        required=False,
        widget=forms.Select(attrs={"autocomplete": "bday-day"}),
    )
    birthday_year = forms.IntegerField(
        label=_("Year of birth (optional)"),
        required=False,
        widget=forms.NumberInput(attrs={"autocomplete": "bday-year", "inputmode": "numeric"}),
    )
    delight = forms.ChoiceField(
        label=_("What delights you most?"),
        choices=Member.Delight.choices,
        widget=forms.RadioSelect,
        help_text=_("Your birthday and surprise gifts follow your choice."),
    )
    email_messages = forms.BooleanField(
        label=_("Send my messages (thank-you cards, greetings, notices) by e-mail too"),
        required=False,
    )
    email_offers = forms.BooleanField(label=_("Send me offers by e-mail"), required=False)

    @classmethod
    def for_member(cls, member: Member, data=None) -> ProfileForm:
        initial = {
            "first_name": member.user.first_name,
            "last_name": member.user.last_name,
            "language": member.language,
            "birthday_month": member.birthday_month,
            "birthday_day": member.birthday_day,
            "birthday_year": member.birthday_year,
            "delight": member.delight,
            "email_messages": member.email_messages,
            "email_offers": member.email_offers,
        }
        return cls(data=data, initial=initial)

    def clean(self):
        cleaned = super().clean()
        month = cleaned.get("birthday_month")
        day = cleaned.get("birthday_day")
        year = cleaned.get("birthday_year")
        if self.has_error("birthday_month") or self.has_error("birthday_day"):
            return cleaned
        if (month is None) != (day is None):
            self.add_error(
                "birthday_day" if day is None else "birthday_month",
                _("Choose both the month and the day of your birthday, or neither."),
            )
            return cleaned
        if year is not None:
            this_year = timezone.localdate().year
            if month is None:
                self.add_error("birthday_year", _("Choose the month and day first."))
                return cleaned
            if not this_year - 130 <= year <= this_year:
                self.add_error(
                    "birthday_year",
                    _("Enter a year between %(first)s and %(last)s.")
                    % {"first": this_year - 130, "last": this_year},
                )
                return cleaned
        if month is not None:
            # 29 February is a real birthday: without a year, check against a leap year.
            if day > calendar.monthrange(year or 2000, month)[1]:
                self.add_error("birthday_day", _("That day does not exist in that month."))
                return cleaned
            if year is not None and date(year, month, day) > timezone.localdate():
                self.add_error("birthday_year", _("A birthday cannot be in the future."))
                return cleaned
            cleaned["birthday"] = account_services.Birthday(month, day, year)
        else:
            cleaned["birthday"] = None
        return cleaned


class InviteForm(NoColon, forms.Form):
    email = forms.EmailField(label=_("Your friend's e-mail address"), max_length=254)
    vouched = forms.BooleanField(
        label=_("I know them personally and vouch for them"),
        required=False,
        help_text=_("Your word lets their welcome bonus through without a manual check."),
    )


class PauseRequestForm(NoColon, forms.Form):
    """A member asks for a break (loyalty.core.pauses): how long, and why if they wish."""

    months = forms.TypedChoiceField(label=_("How long"), coerce=int)
    reason = LongTextField(
        label=_("Anything you would like us to know (optional)"),
        max_length=500,
        required=False,
    )

    def __init__(self, *args, longest: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["months"].choices = [
            (n, translation.ngettext("%(months)d month", "%(months)d months", n) % {"months": n})
            for n in range(1, longest + 1)
        ]
