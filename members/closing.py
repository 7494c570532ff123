"""A member closes their account: the confirmation page (what happens, said plainly), then
loyalty.core.closing.member_close, then a goodbye page. Linked from the profile."""

from __future__ import annotations

from django import forms
from django.contrib.auth import logout
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _

from loyalty.base.errors import LoyaltyError
from loyalty.base.web import NoColon, member_required
from loyalty.core.closing import member_close
from rewards.leaving import unused_vouchers


class CloseAccountForm(NoColon, forms.Form):
    """A tick that the member understood, and their password when they have one (a till-only
    member has none), so a phone left logged in cannot close the account."""

    confirm = forms.BooleanField(
        label=_("I understand: my points expire, my vouchers are cancelled, and this is final."),
        error_messages={"required": _("Tick the box to confirm that you want to close.")},
    )
    password = forms.CharField(
        label=_("Your password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        if not user.has_usable_password():
            del self.fields["password"]

    def clean_password(self):
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError(
                _("That is not your password; your account is still open."), code="wrong"
            )
        return password


@member_required
def account_close(request):
    member = request.member
    form = CloseAccountForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            member_close(member=member, by=request.user)
        except LoyaltyError as error:
            form.add_error(None, error.message)
        else:
            logout(request)
            return redirect("members:account_closed")
    return render(
        request,
        "members/account_close.html",
        {
            "form": form,
            "points": member.points_balance,
            "vouchers": unused_vouchers(member=member).count(),
        },
    )


def account_closed(request):
    """The goodbye page, for whoever has just closed (no login: they are logged out)."""
    return render(request, "members/account_closed.html")
