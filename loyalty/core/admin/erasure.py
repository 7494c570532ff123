"""The member admin's "Erase personal data" page (loyalty.core.erasure.member_erase): for staff
with the permission accounts.erase_member only (a manager), with a reason and a confirmation.
A mixin of MemberAdmin, kept apart so the member admin stays about points and status."""

from __future__ import annotations

from django import forms
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from loyalty.base.errors import LoyaltyError

from ..erasure import PERMISSION, member_erase


class MemberEraseForm(forms.Form):
    required_css_class = "required"

    reason = forms.CharField(
        label=_("Reason"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "Why, e.g. the reference of the person's request. Do not write their name or "
            "address here: this record is kept."
        ),
    )
    confirm = forms.BooleanField(
        label=_("I have checked the request; this cannot be undone"),
        error_messages={"required": _("Tick the box to confirm the erasure.")},
    )


class MemberErasureAdmin:
    """Adds the page /<id>/erase/ to the member admin."""

    def get_urls(self):
        urls = [
            path(
                "<path:object_id>/erase/",
                self.admin_site.admin_view(self.erase_view),
                name="accounts_member_erase",
            )
        ]
        return urls + super().get_urls()

    def erase_view(self, request, object_id):
        if not request.user.has_perm(PERMISSION):
            raise PermissionDenied
        member = self.get_object(request, unquote(object_id))
        if member is None:
            raise Http404(self.not_found_message)
        form = MemberEraseForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            try:
                member_erase(
                    member=member, staff_user=request.user, reason=form.cleaned_data["reason"]
                )
            except LoyaltyError as exc:
                form.add_error(None, exc.message)
            else:
                member = self.get_object(request, unquote(object_id))  # as it is now
                self.log_change(request, member, "Personal data erased.")
                self.message_user(
                    request,
                    _("The member's personal data is erased; their number is now %(number)s.")
                    % {"number": member.member_number},
                )
                return HttpResponseRedirect(
                    reverse("admin:accounts_member_change", args=[member.pk])
                )
        return self.staff_page(
            request,
            "admin/accounts/member_erase.html",
            title=_("Erase personal data"),
            form=form,
            obj=member,
            **self.selection("members", [member], None),
        )
