"""Staff pages for users, members, partners and partner API keys.

The admin is thin: every write with a rule behind it goes through a service. Points change only
through loyalty.core.services.points_adjust, a membership's status only through
accounts.services.member_set_status, partners and keys only through partner_create,
api_key_create and api_key_revoke. A raw API key is shown once, on the page that answers its
creation, and is never stored, logged or put in a message.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.forms.models import BaseInlineFormSet
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.cache import add_never_cache_headers
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from loyalty.base.errors import LoyaltyError
from loyalty.core import services as loyalty_services
from loyalty.core.models import LedgerEntry

from . import services
from .models import Member, Partner, PartnerApiKey, User, normalize_email

LEDGER_INLINE_LIMIT = 50
ACTION_LIST_LIMIT = 20


def _copy_saved(target, source) -> None:
    """Make the admin's unsaved instance the object a service created, so the admin's
    log entry and redirect point at it."""
    for field in source._meta.concrete_fields:
        setattr(target, field.attname, getattr(source, field.attname))
    target._state.adding = False
    target._state.db = source._state.db


# --- users -------------------------------------------------------------------------------------


class UserCreationForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email",)

    def clean_email(self):
        email = normalize_email(self.cleaned_data["email"])
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError(
                _("A user with this e-mail address already exists."), code="unique"
            )
        return email


class UserEditForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"

    def clean_email(self):
        email = normalize_email(self.cleaned_data["email"])
        others = User.objects.filter(email__iexact=email).exclude(pk=self.instance.pk)
        if others.exists():
            raise forms.ValidationError(
                _("A user with this e-mail address already exists."), code="unique"
            )
        return email


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    form = UserEditForm
    add_form = UserCreationForm
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Personal info"), {"fields": ("first_name", "last_name", "language", "member_link")}),
        (
            _("Permissions"),
            {
                "fields": (
                    "is_active",
                    "is_staff",
                    "is_superuser",
                    "groups",
                    "user_permissions",
                ),
            },
        ),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "usable_password", "password1", "password2"),
            },
        ),
    )
    readonly_fields = ("member_link", "last_login", "date_joined")
    list_display = ("email", "first_name", "last_name", "is_staff", "is_active", "date_joined")
    list_filter = ("is_staff", "is_superuser", "is_active", "groups")
    search_fields = ("email", "first_name", "last_name")
    ordering = ("email",)

    @admin.display(description=_("member"))
    def member_link(self, obj):
        member = Member.objects.filter(user=obj).only("pk", "member_number").first()
        if member is None:
            return "-"
        url = reverse("admin:accounts_member_change", args=[member.pk])
        return format_html('<a href="{}">{}</a>', url, member.member_number)


# --- members -----------------------------------------------------------------------------------


class NewestEntriesFormSet(BaseInlineFormSet):
    """Only the newest entries: a long-standing member may have thousands."""

    def get_queryset(self):
        if not hasattr(self, "_newest"):
            self._newest = super().get_queryset()[:LEDGER_INLINE_LIMIT]
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
        "description",
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
        return super().get_queryset(request).select_related("staff_user")

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
        min_value=-loyalty_services.MAX_POINTS,
        max_value=loyalty_services.MAX_POINTS,
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

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("status") not in (None, Member.Status.ACTIVE) and not cleaned.get("reason"):
            self.add_error(
                "reason",
                forms.ValidationError(
                    _("Give a reason to pause or close a membership."), code="required"
                ),
            )
        return cleaned


@admin.register(Member)
class MemberAdmin(admin.ModelAdmin):
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
            {"fields": ("points_balance", "tier", "tier_since", "tier_grace_until", "ledger")},
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

    def _member_for_change(self, request, object_id) -> Member:
        member = self.get_object(request, unquote(object_id))
        if member is None:
            raise Http404(_("No member with that id."))
        if not self.has_change_permission(request, member):
            raise PermissionDenied
        return member

    def adjust_points_view(self, request, object_id):
        member = self._member_for_change(request, object_id)
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
        member = self._member_for_change(request, object_id)
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

    def _adjust(self, request, member: Member, form: PointsAdjustForm) -> LedgerEntry:
        entry = loyalty_services.points_adjust(
            member=member,
            points=form.cleaned_data["points"],
            staff_user=request.user,
            reason=form.cleaned_data["reason"],
        )
        self.log_change(
            request, member, f"Adjusted points by {entry.points:+d}. Reason: {entry.reason}"
        )
        return entry

    def _set_status(self, request, member: Member, form: MemberStatusForm) -> None:
        services.member_set_status(
            member=member,
            status=form.cleaned_data["status"],
            staff_user=request.user,
            reason=form.cleaned_data["reason"],
        )
        message = f"Status set to {member.status}."
        if member.status_reason:
            message += f" Reason: {member.status_reason}"
        self.log_change(request, member, message)

    @staticmethod
    def _adjusted_message(member: Member, entry: LedgerEntry) -> str:
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
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.model._meta,
            "form": form,
            "media": self.media + form.media,
            "members": members[:ACTION_LIST_LIMIT],
            "more_count": max(len(members) - ACTION_LIST_LIMIT, 0),
            "selected_pks": [member.pk for member in members],
            "action": action,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            "object": obj,
        }
        return TemplateResponse(request, template, context)


# --- partners and API keys ---------------------------------------------------------------------


class PartnerApiKeyInline(admin.TabularInline):
    model = PartnerApiKey
    fields = ("prefix", "name", "created_at", "last_used_at", "revoked_at")
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class PartnerForm(forms.ModelForm):
    class Meta:
        model = Partner
        fields = ("name", "currency", "is_active")

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        others = Partner.objects.filter(name__iexact=name).exclude(pk=self.instance.pk)
        if others.exists():
            raise forms.ValidationError(_("A partner with this name exists."), code="unique")
        return name

    def clean_currency(self):
        currency = self.cleaned_data["currency"].strip().upper()
        if currency not in loyalty_services.CURRENCIES:
            raise forms.ValidationError(_("Enter an ISO 4217 currency code."), code="currency")
        return currency


@admin.register(Partner)
class PartnerAdmin(admin.ModelAdmin):
    form = PartnerForm
    list_display = ("name", "currency", "is_active", "active_keys", "created_at")
    list_filter = ("is_active", "currency")
    search_fields = ("name",)
    inlines = (PartnerApiKeyInline,)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(_active_keys=Count("api_keys", filter=Q(api_keys__revoked_at__isnull=True)))
        )

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else ()

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("name", "currency")
        return ("name", "currency", "is_active", "created_at", "new_key")

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        # Amounts already reported are in this currency; a partner's currency stays.
        return ("currency", "created_at", "new_key")

    def has_delete_permission(self, request, obj=None):
        # A partner is deactivated, not deleted: its purchases and keys are history.
        return False

    def save_model(self, request, obj, form, change):
        if change:
            fields = [name for name in form.changed_data if name in ("name", "is_active")]
            if fields:
                obj.save(update_fields=fields)
            return
        partner = services.partner_create(name=obj.name, currency=obj.currency)
        _copy_saved(obj, partner)

    @admin.display(description=_("active API keys"), ordering="_active_keys")
    def active_keys(self, obj):
        return obj._active_keys

    @admin.display(description=_("API key"))
    def new_key(self, obj):
        url = reverse("admin:accounts_partnerapikey_add")
        return format_html('<a href="{}?partner={}">{}</a>', url, obj.pk, _("Create an API key"))


class RevokedFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return (("active", _("Active")), ("revoked", _("Revoked")))

    def queryset(self, request, queryset):
        if self.value() == "active":
            return queryset.filter(revoked_at__isnull=True)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


class PartnerApiKeyForm(forms.ModelForm):
    class Meta:
        model = PartnerApiKey
        fields = ("partner", "name")


@admin.register(PartnerApiKey)
class PartnerApiKeyAdmin(admin.ModelAdmin):
    """Keys are made by api_key_create and shown once; they are revoked, never edited or deleted.

    The digest never appears on a page.
    """

    form = PartnerApiKeyForm
    key_created_template = "admin/accounts/partnerapikey/key_created.html"
    list_display = (
        "prefix",
        "partner",
        "name",
        "created_at",
        "created_by",
        "last_used_at",
        "revoked_at",
    )
    list_select_related = ("partner", "created_by")
    list_filter = (RevokedFilter, "partner")
    search_fields = ("^prefix", "name", "partner__name")
    actions = ("revoke",)
    readonly_fields = (
        "partner",
        "name",
        "prefix",
        "created_at",
        "created_by",
        "last_used_at",
        "revoked_at",
    )

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("partner", "name")
        return self.readonly_fields

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.readonly_fields

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_revoke_permission(self, request):
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")

    def save_model(self, request, obj, form, change):
        if change:  # pragma: no cover - the change form is read-only
            raise PermissionDenied
        key, raw_key = services.api_key_create(
            partner=obj.partner, name=obj.name, created_by=request.user
        )
        _copy_saved(obj, key)
        obj.raw_key_shown_once = raw_key

    def response_add(self, request, obj, post_url_continue=None):
        raw_key = getattr(obj, "raw_key_shown_once", None)
        if raw_key is None:  # pragma: no cover - save_model always sets it
            return super().response_add(request, obj, post_url_continue)
        context = {
            **self.admin_site.each_context(request),
            "title": _("API key created"),
            "opts": self.opts,
            "key": obj,
            "raw_key": raw_key,
        }
        response = TemplateResponse(request, self.key_created_template, context)
        add_never_cache_headers(response)
        return response

    @admin.action(description=_("Revoke selected API keys"), permissions=["revoke"])
    def revoke(self, request, queryset):
        count = 0
        for key in queryset.filter(revoked_at__isnull=True).order_by("pk"):
            services.api_key_revoke(key=key)
            self.log_change(request, key, "Revoked.")
            count += 1
        self.message_user(
            request,
            ngettext("Revoked %(count)d API key.", "Revoked %(count)d API keys.", count)
            % {"count": count},
        )
