"""Users, members, partners and partner API keys.

The user logs in with an e-mail address. A member is the loyalty profile of a user; it may exist
without a usable password (enrolled at a till) until the person claims the web account.
"""

from decimal import Decimal

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra_fields):
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=normalize_email(email), **extra_fields)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email: str, password: str | None = None, **extra_fields):
        extra_fields["is_staff"] = True
        extra_fields["is_superuser"] = True
        return self._create_user(email, password, **extra_fields)

    def get_by_natural_key(self, username):
        return self.get(email__iexact=normalize_email(username))


def normalize_email(email: str) -> str:
    """The stored form of an address: trimmed and lower-cased, so one person has one account."""
    return email.strip().lower()


class User(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField(_("e-mail address"), max_length=254, unique=True)
    first_name = models.CharField(_("first name"), max_length=150, blank=True)
    last_name = models.CharField(_("last name"), max_length=150, blank=True)
    is_staff = models.BooleanField(_("staff status"), default=False)
    is_active = models.BooleanField(_("active"), default=True)
    date_joined = models.DateTimeField(_("date joined"), default=timezone.now)
    # A member reads the program in Member.language; this is for staff: the staff pages
    # (accounts.middleware) and the e-mails to staff.
    language = models.CharField(
        _("language"),
        max_length=8,
        blank=True,
        choices=settings.LANGUAGES,
        help_text=_("The staff pages and e-mails to staff; empty means the site's language."),
    )

    objects = UserManager()

    EMAIL_FIELD = "email"
    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            models.UniqueConstraint(Lower("email"), name="user_email_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.email

    def get_full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def get_short_name(self) -> str:
        return self.first_name or self.email


class Member(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        PAUSED = "paused", _("Paused")
        CLOSED = "closed", _("Closed")

    class Delight(models.TextChoices):
        """What pleases the member most; occasion gifts (birthday, surprises) follow it."""

        DISCOUNT = "discount", _("A discount")
        GREETING = "greeting", _("A personal greeting")
        SURPRISE = "surprise", _("A surprise gift")
        DONATION = "donation", _("A donation to a cause")

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="member"
    )
    member_number = models.CharField(_("member number"), max_length=12, unique=True)
    joined_on = models.DateField(_("joined on"))
    birthday_month = models.PositiveSmallIntegerField(_("birthday month"), null=True, blank=True)
    birthday_day = models.PositiveSmallIntegerField(_("birthday day"), null=True, blank=True)
    birthday_year = models.PositiveSmallIntegerField(_("birth year"), null=True, blank=True)
    birthday_set_on = models.DateField(_("birthday set on"), null=True, blank=True)
    language = models.CharField(
        _("preferred language"), max_length=8, choices=settings.LANGUAGES, default="en"
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.ACTIVE
    )
    status_reason = models.CharField(_("reason for the status"), max_length=500, blank=True)
    delight = models.CharField(
        _("what delights the member"),
        max_length=10,
        choices=Delight.choices,
        default=Delight.GREETING,
    )
    email_messages = models.BooleanField(
        _("send me messages by e-mail"),
        default=True,
        help_text=_("Thank-you cards, greetings and notices also arrive by e-mail."),
    )
    email_offers = models.BooleanField(_("send me offers by e-mail"), default=False)
    # The cached balance: equal to the sum of the member's ledger entries and to the sum of the
    # remainders of their point lots. Changed only by the core's ledger, with a conditional UPDATE.
    points_balance = models.BigIntegerField(_("points balance"), default=0, editable=False)
    # Points purchases earned that wait out their partner's return window: not in the balance,
    # not spendable. Equal to the sum of the member's open pending points (loyalty.core.pending).
    points_pending = models.BigIntegerField(_("points pending"), default=0, editable=False)
    tier = models.ForeignKey(
        "loyalty.Tier",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="members",
        editable=False,
    )
    tier_since = models.DateField(_("in this tier since"), null=True, blank=True, editable=False)
    # The monthly tier review (loyalty.core.jobs): a member whose qualifying points fell below their
    # tier keeps it until this day; the first review on or after it moves them down one tier if
    # they are still below. Cleared when they earn the tier back.
    tier_grace_until = models.DateField(
        _("keeps the tier at least until"), null=True, blank=True, editable=False
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("member")
        verbose_name_plural = _("members")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(points_balance__gte=0), name="member_balance_not_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(points_pending__gte=0), name="member_pending_not_negative"
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(birthday_month__isnull=True, birthday_day__isnull=True)
                    | models.Q(
                        birthday_month__gte=1,
                        birthday_month__lte=12,
                        birthday_day__gte=1,
                        birthday_day__lte=31,
                    )
                ),
                name="member_birthday_month_day_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(birthday_year__isnull=True) | models.Q(birthday_month__gte=1),
                name="member_birth_year_needs_day",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member_number} {self.user.email}"

    @property
    def email(self) -> str:
        return self.user.email

    @property
    def display_name(self) -> str:
        return self.user.get_full_name() or self.user.email

    @property
    def has_web_account(self) -> bool:
        return self.user.has_usable_password()


MAX_RETURN_WINDOW_DAYS = 365


class Partner(models.Model):
    """A till, web shop or CRM that reports purchases and redeems vouchers over the API."""

    name = models.CharField(_("name"), max_length=200)
    currency = models.CharField(
        _("currency"),
        max_length=3,
        default="EUR",
        help_text=_("ISO 4217 code of the amounts this partner reports."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    # Sanity limits: what one partner (one leaked key) can do to the program. Beyond them a
    # request is refused and staff are alerted (loyalty.core.anomalies).
    max_purchase_amount = models.DecimalField(
        _("largest purchase amount"),
        max_digits=12,
        decimal_places=2,
        default=Decimal("10000.00"),
        validators=[MinValueValidator(Decimal("0.01"))],
        help_text=_("A purchase above this amount is refused and staff are alerted."),
    )
    max_points_per_purchase = models.PositiveBigIntegerField(
        _("most points per purchase"),
        default=20000,
        validators=[MinValueValidator(1)],
        help_text=_("A purchase that would earn more points is refused and staff are alerted."),
    )
    max_points_redeemed_per_day = models.PositiveBigIntegerField(
        _("most points redeemed a day"),
        default=200000,
        validators=[MinValueValidator(1)],
        help_text=_(
            "Points this partner may redeem for members in one day, all members together; "
            "beyond it redemptions are refused and staff are alerted."
        ),
    )
    # Points a purchase earns wait this long, pending (loyalty.core.pending): a return inside
    # the window cancels them, and the member never owes points for a returned purchase.
    return_window_days = models.PositiveSmallIntegerField(
        _("return window (days)"),
        default=0,
        validators=[MaxValueValidator(MAX_RETURN_WINDOW_DAYS)],
        help_text=_(
            "Points a purchase earns become available this many days after it, and a refund "
            "before then cancels them. 0: available at once."
        ),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("partner")
        verbose_name_plural = _("partners")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(Lower("name"), name="partner_name_ci_unique"),
            models.CheckConstraint(
                condition=models.Q(return_window_days__lte=MAX_RETURN_WINDOW_DAYS),
                name="partner_return_window_at_most_a_year",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ApiScope(models.TextChoices):
    """What a partner API key may do; each API view declares the one it needs (HasScope)."""

    READ = "read", _("read (members, ledgers, rewards, referrals, feedback)")
    PURCHASES = "purchases", _("purchases and refunds")
    REDEMPTIONS = "redemptions", _("redemptions")
    VOUCHERS = "vouchers", _("vouchers")
    FEEDBACK = "feedback", _("feedback")
    MEMBERS = "members", _("enrolment")


def all_api_scopes() -> list[str]:
    return list(ApiScope.values)


class PartnerApiKey(models.Model):
    """A partner's API key. Only a SHA-256 digest and a short prefix are stored.

    The key carries 256 random bits, so a fast digest is safe; a slow password hash on every
    request would cap the API at a few requests a second.
    """

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(_("name"), max_length=100, blank=True)
    prefix = models.CharField(_("prefix"), max_length=16, editable=False)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True, editable=False)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True, editable=False)
    # A list of ApiScope values (a JSON list, not an ArrayField: the demo runs on SQLite too);
    # written only by api_key_create and api_key_set_scopes, which validate it.
    scopes = models.JSONField(_("scopes"), default=all_api_scopes)

    class Meta:
        verbose_name = _("partner API key")
        verbose_name_plural = _("partner API keys")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.partner} {self.prefix}…"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes


class Erasure(models.Model):
    """A member's personal data erased at their request (loyalty.core.erasure): who did it, when
    and why. It names the member by id only, so it keeps no personal value itself."""

    member = models.OneToOneField(
        Member, on_delete=models.PROTECT, related_name="erasure", verbose_name=_("member")
    )
    erased_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("erased by"),
    )
    reason = models.CharField(
        _("reason"),
        max_length=500,
        help_text=_("Why, e.g. the request's reference; never the person's name or address."),
    )
    erased_at = models.DateTimeField(_("erased at"), default=timezone.now)
    # SHA-256 of the old member number (retired_number_digest): partners were told to drop it,
    # so it is never given to a new member (accounts.services.member_number_unused)
    retired_number = models.CharField(
        _("retired number digest"), max_length=64, blank=True, db_index=True, editable=False
    )

    class Meta:
        verbose_name = _("erasure")
        verbose_name_plural = _("erasures")
        ordering = ["-erased_at"]
        permissions = [("erase_member", _("Can erase a member's personal data"))]

    def __str__(self) -> str:
        return f"{self.member_id} {self.erased_at:%Y-%m-%d}"
