"""Members: their page with the newest ledger entries, "Adjust points" (ledger.points_adjust,
or a request for a manager above the staff user's limit: loyalty.core.adjustments)
and "Change status" (a pause or resumption through loyalty.core.pauses, closing through
loyalty.core.closing, reopening through accounts.services.member_set_status), for one member
or for those selected on the list. Only the preferences are edited on the page itself."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.forms.models import BaseInlineFormSet
from django.http import HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from accounts import services as account_services
from accounts.models import Member
from loyalty.base.errors import LoyaltyError
from loyalty.base.staff import StaffPages

from .. import hooks
from ..adjustment_models import AdjustmentRequest
from ..adjustments import points_adjust_or_request
from ..closing import member_close
from ..ledger import MAX_POINTS
from ..models import LedgerEntry
from ..pause_models import LONGEST_MONTHS
from ..pauses import pause_end, pause_start
from ..wording import STAFF, entries_word, entry_words
from .erasure import MemberErasureAdmin

LEDGER_INLINE_LIMIT = 50


class NewestEntriesFormSet(BaseInlineFormSet):
    """Only the newest entries: a long-standing member may have thousands."""

    def get_queryset(self):
        if not hasattr(self, "_newest"):
            # worded for staff in one go (loyalty.core.wording): a query per kind of cause
            self._newest = entries_word(super().get_queryset()[:LEDGER_INLINE_LIMIT], view=STAFF)
        return self._newest


class LedgerEntryInline(admin.TabularInline):
    """The member's newest ledger entries. Append-only: nothing here can be added or changed."""

    model = LedgerEntry
    fk_name = "member"
    formset = NewestEntriesFormSet
    fields = (
        "created_at",
        "kind",
        "points",
        "balance_after",
        "words",
        "reason",
        "staff_user",
    )
    readonly_fields = fields
    ordering = ("-created_at", "-id")
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True
    verbose_name_plural = _("newest ledger entries")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("staff_user", "purchase__partner")

    @admin.display(description=_("what for"))
    def words(self, obj):
        return getattr(obj, "words", None) or entry_words(obj, view=STAFF)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class PointsAdjustForm(forms.Form):
    required_css_class = "required"

    points = forms.IntegerField(
        label=_("Points"),
        min_value=-MAX_POINTS,
        max_value=MAX_POINTS,
        help_text=_("A positive number adds points, a negative number takes them away."),
    )
    reason = forms.CharField(
        label=_("Reason"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Stays on the ledger entry for the member's history and for audits."),
    )

    def clean_points(self):
        points = self.cleaned_data["points"]
        if points == 0:
            raise forms.ValidationError(_("Enter a number other than zero."), code="zero")
        return points


class MemberStatusForm(forms.Form):
    required_css_class = "required"

    status = forms.ChoiceField(label=_("New status"), choices=Member.Status.choices)
    reason = forms.CharField(
        label=_("Reason"),
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Required to pause or close a membership."),
    )

    months = forms.TypedChoiceField(
        label=_("Pause for"),
        coerce=int,
        empty_value=None,
        required=False,
        choices=[("", "—"), *((n, n) for n in range(1, LONGEST_MONTHS + 1))],
        help_text=_("Months, to pause a membership: the pause ends by itself."),
    )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("status") == Member.Status.PAUSED and not cleaned.get("months"):
            self.add_error(
                "months",
                forms.ValidationError(_("Say for how many months to pause."), code="required"),
            )
        if cleaned.get("status") not in (None, Member.Status.ACTIVE) and not cleaned.get("reason"):
            self.add_error(
                "reason",
                forms.ValidationError(
                    _("Give a reason to pause or close a membership."), code="required"
                ),
            )
        return cleaned


@admin.register(Member)
class MemberAdmin(MemberErasureAdmin, StaffPages, admin.ModelAdmin):
    not_found_message = _("No member with that id.")

    list_display = (
        "member_number",
        "email",
        "name",
        "status",
        "tier",
        "points_balance",
        "joined_on",
    )
    list_select_related = ("user", "tier")
    list_filter = ("status", "tier", "language")
    search_fields = ("^member_number", "user__email", "user__first_name", "user__last_name")
    search_help_text = _("Member number (or its beginning), e-mail address, first or last name.")
    ordering = ("-joined_on", "-id")
    show_full_result_count = False
    actions = ("adjust_points", "change_status")
    inlines = (LedgerEntryInline,)
    fieldsets = (
        (
            None,
            {"fields": ("member_number", "user", "email", "name", "joined_on", "created_at")},
        ),
        (_("Membership"), {"fields": ("status", "status_reason")}),
        (
            _("Points and tier"),
            {
                "fields": (
                    "points_balance",
                    "points_pending",
                    "tier",
                    "tier_since",
                    "tier_grace_until",
                    "ledger",
                )
            },
        ),
        (
            _("Preferences"),
            {"fields": ("language", "delight", "birthday", "birthday_set_on")},
        ),
    )
    # Only the preferences are edited here; every other field has a service or is history.
    editable_fields = ("language", "delight")
    readonly_fields = (
        "member_number",
        "user",
        "email",
        "name",
        "joined_on",
        "created_at",
        "status",
        "status_reason",
        "points_balance",
        "points_pending",
        "tier",
        "tier_since",
        "tier_grace_until",
        "ledger",
        "birthday",
        "birthday_set_on",
    )

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user", "tier")

    def has_add_permission(self, request):
        # Members enrol through member_enroll (sign-up, a till, the API), never a bare insert.
        return False

    def has_delete_permission(self, request, obj=None):
        # A membership is closed, not deleted: its ledger is kept.
        return False

    def save_model(self, request, obj, form, change):
        # Save only the edited preferences: a full save would write back the balance as read
        # at the start of the request and could undo a concurrent change of points.
        fields = [name for name in form.changed_data if name in self.editable_fields]
        if fields:
            obj.save(update_fields=fields)

    @admin.display(description=_("e-mail address"), ordering="user__email")
    def email(self, obj):
        return obj.user.email

    @admin.display(description=_("name"), ordering="user__last_name")
    def name(self, obj):
        return obj.user.get_full_name()

    @admin.display(description=_("birthday"))
    def birthday(self, obj):
        if obj.birthday_month is None:
            return "-"
        if obj.birthday_year:
            return f"{obj.birthday_year:04d}-{obj.birthday_month:02d}-{obj.birthday_day:02d}"
        return f"{obj.birthday_month:02d}-{obj.birthday_day:02d}"

    @admin.display(description=_("ledger"))
    def ledger(self, obj):
        url = reverse("admin:loyalty_ledgerentry_changelist")
        return format_html(
            '<a href="{}?member__id__exact={}">{}</a>', url, obj.pk, _("All ledger entries")
        )

    # --- per-member pages (object tools) ---------------------------------------------------

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # Features' pages for this member (loyalty.core.hooks.member_page_link_register).
        links = [
            (link.label, reverse(link.url_name, args=[object_id]))
            for link in hooks.member_page_links()
            if request.user.has_perm(link.permission)
        ]
        extra_context = {**(extra_context or {}), "member_page_links": links}
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        urls = [
            path(
                "<path:object_id>/adjust-points/",
                self.admin_site.admin_view(self.adjust_points_view),
                name="accounts_member_adjust_points",
            ),
            path(
                "<path:object_id>/status/",
                self.admin_site.admin_view(self.change_status_view),
                name="accounts_member_change_status",
            ),
        ]
        return urls + super().get_urls()

    def adjust_points_view(self, request, object_id):
        member = self.object_for_change(request, object_id)
        form = PointsAdjustForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            try:
                entry = self._adjust(request, member, form)
            except LoyaltyError as exc:
                form.add_error(None, exc.message)
            else:
                self.message_user(request, self._adjusted_message(member, entry))
                return HttpResponseRedirect(
                    reverse("admin:accounts_member_change", args=[member.pk])
                )
        return self._render_form(
            request,
            "admin/loyalty/adjust_points.html",
            form=form,
            title=_("Adjust points"),
            members=[member],
            obj=member,
        )

    def change_status_view(self, request, object_id):
        member = self.object_for_change(request, object_id)
        if request.method == "POST":
            form = MemberStatusForm(request.POST)
        else:
            form = MemberStatusForm(initial={"status": member.status})
        if request.method == "POST" and form.is_valid():
            try:
                self._set_status(request, member, form)
            except LoyaltyError as exc:
                form.add_error(None, exc.message)
            else:
                self.message_user(request, self._status_message(member))
                return HttpResponseRedirect(
                    reverse("admin:accounts_member_change", args=[member.pk])
                )
        return self._render_form(
            request,
            "admin/accounts/member_set_status.html",
            form=form,
            title=_("Change membership status"),
            members=[member],
            obj=member,
        )

    # --- actions on the list -----------------------------------------------------------------

    @admin.action(description=_("Adjust points of selected members…"), permissions=["change"])
    def adjust_points(self, request, queryset):
        form = PointsAdjustForm(request.POST if "_apply" in request.POST else None)
        members = list(queryset.select_related("user").order_by("pk"))
        if "_apply" in request.POST and form.is_valid():
            for member in members:
                try:
                    entry = self._adjust(request, member, form)
                except LoyaltyError as exc:
                    self.message_user(
                        request,
                        _("%(member)s: %(error)s Nothing was changed for this member.")
                        % {"member": member.member_number, "error": exc.message},
                        messages.ERROR,
                    )
                else:
                    self.message_user(request, self._adjusted_message(member, entry))
            return None
        return self._render_form(
            request,
            "admin/loyalty/adjust_points.html",
            form=form,
            title=_("Adjust points"),
            members=members,
            action="adjust_points",
        )

    @admin.action(
        description=_("Pause, resume or close selected memberships…"), permissions=["change"]
    )
    def change_status(self, request, queryset):
        form = MemberStatusForm(request.POST if "_apply" in request.POST else None)
        members = list(queryset.select_related("user").order_by("pk"))
        if "_apply" in request.POST and form.is_valid():
            for member in members:
                try:
                    self._set_status(request, member, form)
                except LoyaltyError as exc:
                    self.message_user(
                        request,
                        _("%(member)s: %(error)s Nothing was changed for this member.")
                        % {"member": member.member_number, "error": exc.message},
                        messages.ERROR,
                    )
                else:
                    self.message_user(request, self._status_message(member))
            return None
        return self._render_form(
            request,
            "admin/accounts/member_set_status.html",
            form=form,
            title=_("Change membership status"),
            members=members,
            action="change_status",
        )

    # --- shared by the actions and the per-member pages ----------------------------------------

    def _adjust(
        self, request, member: Member, form: PointsAdjustForm
    ) -> LedgerEntry | AdjustmentRequest:
        """Above the staff user's limit: a request for a manager (loyalty.core.adjustments)."""
        done = points_adjust_or_request(
            member=member,
            points=form.cleaned_data["points"],
            staff_user=request.user,
            reason=form.cleaned_data["reason"],
        )
        verb = "Asked to adjust" if isinstance(done, AdjustmentRequest) else "Adjusted"
        self.log_change(
            request, member, f"{verb} points by {done.points:+d}. Reason: {done.reason}"
        )
        return done

    def _set_status(self, request, member: Member, form: MemberStatusForm) -> None:
        """A pause and a resumption go through loyalty.core.pauses (dates moved, the member
        told); closing through loyalty.core.closing, as when a member closes."""
        status = form.cleaned_data["status"]
        if status == Member.Status.PAUSED:
            pause_start(
                member=member,
                months=form.cleaned_data["months"],
                reason=form.cleaned_data["reason"],
                staff_user=request.user,
            )
        elif status == Member.Status.ACTIVE and member.status == Member.Status.PAUSED:
            pause_end(member=member, staff_user=request.user)
        elif status == Member.Status.CLOSED:
            # as a member closing: vouchers cancelled, points expired, the login ended
            member_close(member=member, by=request.user, reason=form.cleaned_data["reason"])
            member.refresh_from_db()
        else:
            account_services.member_set_status(
                member=member,
                status=status,
                staff_user=request.user,
                reason=form.cleaned_data["reason"],
            )
        message = f"Status set to {member.status}."
        if member.status_reason:
            message += f" Reason: {member.status_reason}"
        self.log_change(request, member, message)

    @staticmethod
    def _adjusted_message(member: Member, entry: LedgerEntry | AdjustmentRequest) -> str:
        if isinstance(entry, AdjustmentRequest):
            return _(
                "%(member)s: %(points)+d points is above your limit: the adjustment waits for a "
                "manager's approval."
            ) % {"member": member.member_number, "points": entry.points}
        return _("%(member)s: %(points)+d points, balance now %(balance)d.") % {
            "member": member.member_number,
            "points": entry.points,
            "balance": entry.balance_after,
        }

    @staticmethod
    def _status_message(member: Member) -> str:
        return _("%(member)s: membership is now %(status)s.") % {
            "member": member.member_number,
            "status": member.get_status_display(),
        }

    def _render_form(self, request, template, *, form, title, members, action=None, obj=None):
        return self.staff_page(
            request,
            template,
            title=title,
            form=form,
            obj=obj,
            **self.selection("members", members, action),
        )
