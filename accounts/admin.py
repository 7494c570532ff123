"""Staff pages for users, partners and partner API keys (members, with their points, are the
core's: loyalty/core/admin/members.py).

The admin is thin: every write with a rule behind it goes through a service. Partners and keys
change only through partner_create, api_key_create, api_key_set_scopes and api_key_revoke. A raw
API key is shown once, on the page that answers its creation, and is never stored, logged or put
in a message.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.db.models import Count, Q
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from loyalty.base.money import CURRENCIES
from loyalty.base.staff import ReadOnlyAdmin, StaffPages, member_link

from . import services
from .models import ApiScope, Erasure, Member, Partner, PartnerApiKey, User, normalize_email


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


# --- partners and API keys ---------------------------------------------------------------------


def _scope_names(key: PartnerApiKey) -> str:
    labels = dict(ApiScope.choices)
    return ", ".join(str(labels.get(scope, scope)) for scope in key.scopes) or "-"


class PartnerApiKeyInline(admin.TabularInline):
    model = PartnerApiKey
    fields = ("prefix", "name", "scope_names", "created_at", "last_used_at", "revoked_at")
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

    @admin.display(description=_("scopes"))
    def scope_names(self, obj):
        return _scope_names(obj)


PARTNER_FIELDS = ("name", "currency", "is_active", *services.PARTNER_LIMITS, "return_window_days")


class PartnerForm(forms.ModelForm):
    class Meta:
        model = Partner
        fields = PARTNER_FIELDS

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "return_window_days" in self.fields:
            # Left empty: no window (points available at once), as before windows existed.
            self.fields["return_window_days"].required = False

    def clean_return_window_days(self):
        return self.cleaned_data.get("return_window_days") or 0

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        others = Partner.objects.filter(name__iexact=name).exclude(pk=self.instance.pk)
        if others.exists():
            raise forms.ValidationError(_("A partner with this name exists."), code="unique")
        return name

    def clean_currency(self):
        currency = self.cleaned_data["currency"].strip().upper()
        if currency not in CURRENCIES:
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
        return (*PARTNER_FIELDS, "created_at", "new_key")

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
            changes = {
                name: form.cleaned_data[name]
                for name in form.changed_data
                if name in services.PARTNER_EDITABLE
            }
            if changes:
                services.partner_update(partner=obj, changes=changes)
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
    scopes = forms.TypedMultipleChoiceField(
        label=_("scopes"),
        choices=ApiScope.choices,
        initial=ApiScope.values,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("What the key may do; a request outside them is refused."),
        error_messages={"required": _("Choose at least one scope.")},
    )

    class Meta:
        model = PartnerApiKey
        fields = ("partner", "name")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.fields["scopes"].initial = list(self.instance.scopes)


@admin.register(PartnerApiKey)
class PartnerApiKeyAdmin(StaffPages, admin.ModelAdmin):
    """Keys are made by api_key_create and shown once; only an active key's scopes change
    (api_key_set_scopes); keys are revoked, never deleted.

    The digest never appears on a page.
    """

    form = PartnerApiKeyForm
    key_created_template = "admin/accounts/partnerapikey/key_created.html"
    list_display = (
        "prefix",
        "partner",
        "name",
        "scope_names",
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
            return ("partner", "name", "scopes")
        if obj.is_active:
            return (*self.readonly_fields, "scopes")
        return (*self.readonly_fields, "scope_names")

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return self.readonly_fields if obj.is_active else (*self.readonly_fields, "scope_names")

    def has_change_permission(self, request, obj=None):
        # Only the scopes of an active key change.
        if obj is not None and not obj.is_active:
            return False
        return super().has_change_permission(request, obj)

    @admin.display(description=_("scopes"))
    def scope_names(self, obj):
        return _scope_names(obj)

    def has_delete_permission(self, request, obj=None):
        return False

    def has_revoke_permission(self, request):
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")

    def save_model(self, request, obj, form, change):
        if change:
            if "scopes" in form.changed_data:
                services.api_key_set_scopes(key=obj, scopes=form.cleaned_data["scopes"])
            return
        key, raw_key = services.api_key_create(
            partner=obj.partner,
            name=obj.name,
            created_by=request.user,
            scopes=form.cleaned_data["scopes"],
        )
        _copy_saved(obj, key)
        obj.raw_key_shown_once = raw_key

    def response_add(self, request, obj, post_url_continue=None):
        raw_key = getattr(obj, "raw_key_shown_once", None)
        if raw_key is None:  # pragma: no cover - save_model always sets it
            return super().response_add(request, obj, post_url_continue)
        response = self.staff_page(
            request, self.key_created_template, title=_("API key created"), key=obj, raw_key=raw_key
        )
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


@admin.register(Erasure)
class ErasureAdmin(ReadOnlyAdmin):
    """The record of each erasure (done from the member's page, "Erase personal data")."""

    list_display = ("erased_at", "member_number", "erased_by", "reason")
    list_select_related = ("member", "erased_by")
    fields = ("member", "erased_by", "reason", "erased_at")
    ordering = ("-erased_at",)

    @admin.display(description=_("member"))
    def member_number(self, obj):
        return member_link(obj.member)
