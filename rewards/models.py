"""The reward catalogue, redemptions and their vouchers; occasion gifts, staff gifts with a card
and the birthday gift settings."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import FileExtensionValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loyalty.base.backfill import member_copy_register
from loyalty.base.distribution import member_copy
from loyalty.base.languages import in_language

from .validators import validate_image_size


class Reward(models.Model):
    class Kind(models.TextChoices):
        AMOUNT_OFF = "amount_off", _("Amount off")
        PERCENT_OFF = "percent_off", _("Percent off")
        FREE_ITEM = "free_item", _("Free item")
        DONATION = "donation", _("Donation to a cause")
        EVENT = "event", _("Event invitation")

    # Name and description in each language; a member sees their own, falling back to English.
    name_en = models.CharField(_("name (English)"), max_length=200)
    name_lt = models.CharField(_("name (Lithuanian)"), max_length=200, blank=True)
    name_bg = models.CharField(_("name (Bulgarian)"), max_length=200, blank=True)
    name_da = models.CharField(_("name (Danish)"), max_length=200, blank=True)
    name_ru = models.CharField(_("name (Russian)"), max_length=200, blank=True)
    name_pl = models.CharField(_("name (Polish)"), max_length=200, blank=True)
    description_en = models.TextField(_("description (English)"), blank=True)
    description_lt = models.TextField(_("description (Lithuanian)"), blank=True)
    description_bg = models.TextField(_("description (Bulgarian)"), blank=True)
    description_da = models.TextField(_("description (Danish)"), blank=True)
    description_ru = models.TextField(_("description (Russian)"), blank=True)
    description_pl = models.TextField(_("description (Polish)"), blank=True)
    slug = models.SlugField(_("code"), max_length=64, unique=True)
    image = models.ImageField(
        _("image"),
        upload_to="rewards/",
        blank=True,
        validators=[
            FileExtensionValidator(["jpg", "jpeg", "png", "webp"]),
            validate_image_size,
        ],
        help_text=_("JPEG, PNG or WebP, at most 2 MB."),
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    value = models.DecimalField(
        _("value"),
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("The amount or percent off, or the donation, where the kind has one."),
    )
    points_cost = models.PositiveIntegerField(_("points cost"), validators=[MinValueValidator(1)])
    stock = models.PositiveIntegerField(
        _("stock"), null=True, blank=True, help_text=_("Empty means unlimited.")
    )
    limit_per_member = models.PositiveIntegerField(
        _("limit per member"), null=True, blank=True, help_text=_("Empty means no limit.")
    )
    is_active = models.BooleanField(_("active"), default=True)
    active_from = models.DateTimeField(_("active from"), null=True, blank=True)
    active_until = models.DateTimeField(_("active until"), null=True, blank=True)
    min_tier = models.ForeignKey(
        "loyalty.Tier",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("minimum tier"),
    )
    voucher_valid_days = models.PositiveSmallIntegerField(
        _("voucher valid for (days)"), default=30, validators=[MinValueValidator(1)]
    )
    return_points_on_expiry = models.BooleanField(
        _("return points when the voucher expires unused"), default=True
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("reward")
        verbose_name_plural = _("rewards")
        ordering = ["points_cost", "slug"]
        constraints = [
            models.CheckConstraint(condition=models.Q(points_cost__gt=0), name="reward_cost_pos"),
            models.CheckConstraint(
                condition=models.Q(voucher_valid_days__gt=0), name="reward_validity_pos"
            ),
            models.CheckConstraint(
                condition=models.Q(active_from__isnull=True)
                | models.Q(active_until__isnull=True)
                | models.Q(active_until__gt=models.F("active_from")),
                name="reward_window_ordered",
            ),
        ]

    def __str__(self) -> str:
        return self.name_en

    def localized(self, field: str, language: str | None = None) -> str:
        return in_language(self, field, language)

    @property
    def name(self) -> str:
        return self.localized("name")

    @property
    def description(self) -> str:
        return self.localized("description")

    def is_available(self, at=None) -> bool:
        at = at or timezone.now()
        return (
            self.is_active
            and (self.active_from is None or self.active_from <= at)
            and (self.active_until is None or at < self.active_until)
        )


class Redemption(models.Model):
    """A member spending points on a reward; it issues one voucher."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        CANCELLED = "cancelled", _("Cancelled")

    member = models.ForeignKey(
        "accounts.Member", on_delete=models.PROTECT, related_name="redemptions"
    )
    reward = models.ForeignKey(Reward, on_delete=models.PROTECT, related_name="redemptions")
    partner = models.ForeignKey(
        "accounts.Partner",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="redemptions",
        help_text=_("The partner that asked for it; empty when the member did on the web."),
    )
    points_spent = models.PositiveIntegerField(_("points spent"))
    discount_percent = models.DecimalField(
        _("tier discount applied"), max_digits=5, decimal_places=2, default=0
    )
    took_stock = models.BooleanField(
        _("took one from stock"),
        default=False,
        help_text=_("Only then does a cancellation or expiry put one back."),
    )
    spend_entry = models.OneToOneField(
        "loyalty.LedgerEntry",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="redemption",
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.ACTIVE
    )
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    cancel_reason = models.CharField(_("why cancelled"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("redeemed at"), default=timezone.now)

    class Meta:
        verbose_name = _("redemption")
        verbose_name_plural = _("redemptions")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["member", "reward", "status"])]

    def __str__(self) -> str:
        return f"{self.member.member_number} {self.reward}"


class Voucher(models.Model):
    class Status(models.TextChoices):
        ISSUED = "issued", _("Issued")
        USED = "used", _("Used")
        EXPIRED = "expired", _("Expired")
        CANCELLED = "cancelled", _("Cancelled")

    redemption = models.OneToOneField(Redemption, on_delete=models.PROTECT, related_name="voucher")
    member = member_copy()  # the redemption's (loyalty.base.distribution)
    code = models.CharField(_("code"), max_length=16, unique=True)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.ISSUED
    )
    expires_on = models.DateField(_("valid until"))
    used_at = models.DateTimeField(_("used at"), null=True, blank=True)
    used_by = models.ForeignKey(
        "accounts.Partner",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="used_vouchers",
    )
    created_at = models.DateTimeField(_("issued at"), default=timezone.now)

    class Meta:
        verbose_name = _("voucher")
        verbose_name_plural = _("vouchers")
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["expires_on"],
                name="voucher_issued_by_expiry",
                condition=models.Q(status="issued"),
            )
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status="used", used_at__isnull=False)
                | (~models.Q(status="used") & models.Q(used_at__isnull=True)),
                name="voucher_used_has_time",
            ),
        ]

    def __str__(self) -> str:
        return self.display_code

    @property
    def display_code(self) -> str:
        return "-".join(self.code[i : i + 4] for i in range(0, len(self.code), 4))


class OccasionGrant(models.Model):
    """A gift for an occasion (anniversary, birthday): once per member, occasion and period.

    The unique constraint is what makes a job run twice, two beat processes or a redelivered
    task pay nothing twice. The grant is the cause of its ledger entry (a `gift` credit) and is
    written in the same transaction.
    """

    class Occasion(models.TextChoices):
        ANNIVERSARY = "anniversary", _("Membership anniversary")
        BIRTHDAY = "birthday", _("Birthday")

    class Gift(models.TextChoices):
        POINTS = "points", _("Bonus points")
        VOUCHER = "voucher", _("Discount voucher")
        SURPRISE = "surprise", _("Surprise reward")
        DONATION = "donation", _("Donation in the member's name")
        CARD = "card", _("A card only")

    member = models.ForeignKey(
        "accounts.Member", on_delete=models.PROTECT, related_name="occasion_grants"
    )
    occasion = models.CharField(_("occasion"), max_length=16, choices=Occasion.choices)
    period = models.CharField(
        _("period"), max_length=16, help_text=_("The year of the occasion, paid once.")
    )
    occasion_date = models.DateField(_("occasion date"))
    years = models.PositiveSmallIntegerField(_("years of membership"), null=True, blank=True)
    gift = models.CharField(_("gift"), max_length=10, choices=Gift.choices)
    points = models.PositiveIntegerField(_("points"), default=0)
    redemption = models.OneToOneField(
        Redemption,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="occasion_grant",
        help_text=_("The voucher given (its points were the gift's)."),
    )
    donation_amount = models.DecimalField(
        _("donation"), max_digits=10, decimal_places=2, null=True, blank=True
    )
    donation_currency = models.CharField(_("donation currency"), max_length=3, blank=True)
    donation_cause = models.CharField(_("donated to"), max_length=200, blank=True)
    job_run = models.ForeignKey(
        "loyalty.JobRun",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="occasion_grants",
    )
    created_at = models.DateTimeField(_("granted at"), default=timezone.now)

    class Meta:
        verbose_name = _("occasion gift")
        verbose_name_plural = _("occasion gifts")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["member", "occasion", "period"], name="occasion_grant_once_per_period"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member_id} {self.occasion} {self.period}"


class CardTemplate(models.Model):
    """A card staff send with a gift: a title and a text in each of the six languages, all
    required, since a member reads the card in their own. `{name}` in the text becomes the
    member's first name when the card is sent."""

    name = models.CharField(
        _("name for staff"), max_length=100, unique=True, help_text=_("Members never see it.")
    )
    title_en = models.CharField(_("title (English)"), max_length=150)
    title_lt = models.CharField(_("title (Lithuanian)"), max_length=150)
    title_bg = models.CharField(_("title (Bulgarian)"), max_length=150)
    title_da = models.CharField(_("title (Danish)"), max_length=150)
    title_ru = models.CharField(_("title (Russian)"), max_length=150)
    title_pl = models.CharField(_("title (Polish)"), max_length=150)
    text_en = models.TextField(_("text (English)"), max_length=2000)
    text_lt = models.TextField(_("text (Lithuanian)"), max_length=2000)
    text_bg = models.TextField(_("text (Bulgarian)"), max_length=2000)
    text_da = models.TextField(_("text (Danish)"), max_length=2000)
    text_ru = models.TextField(_("text (Russian)"), max_length=2000)
    text_pl = models.TextField(_("text (Polish)"), max_length=2000)
    is_active = models.BooleanField(
        _("active"), default=True, help_text=_("Only active cards can be sent.")
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("card template")
        verbose_name_plural = _("card templates")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def title(self, language: str | None = None) -> str:
        return in_language(self, "title", language)

    def card(self, language: str, name: str) -> tuple[str, str]:
        """The title and text in a language, `{name}` replaced by the member's first name
        (a plain replacement: other braces staff write stay as written)."""
        return self.title(language), in_language(self, "text", language).replace("{name}", name)


class Gift(models.Model):
    """A gift staff sent one member: points, a reward as a voucher, or only a card, always with
    a card. It is the cause of its ledger entry (a `gift` credit) and of its message."""

    class What(models.TextChoices):
        POINTS = "points", _("Points")
        VOUCHER = "voucher", _("A reward as a voucher")
        CARD = "card", _("Only a card")

    member = models.ForeignKey(
        "accounts.Member", on_delete=models.PROTECT, related_name="gifts", verbose_name=_("member")
    )
    what = models.CharField(_("gift"), max_length=8, choices=What.choices)
    points = models.PositiveIntegerField(
        _("points"), default=0, help_text=_("For a voucher: the points its reward cost.")
    )
    reward = models.ForeignKey(
        Reward,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("reward"),
    )
    redemption = models.OneToOneField(
        Redemption,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="gift",
        verbose_name=_("voucher given"),
    )
    template = models.ForeignKey(
        CardTemplate, on_delete=models.PROTECT, related_name="gifts", verbose_name=_("card")
    )
    note = models.CharField(
        _("personal note"),
        max_length=500,
        blank=True,
        help_text=_("Your own words under the card, shown as written."),
    )
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("sent by"),
    )
    created_at = models.DateTimeField(_("sent at"), default=timezone.now)

    class Meta:
        verbose_name = _("gift")
        verbose_name_plural = _("gifts")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(what="points", points__gt=0, reward__isnull=True)
                    | models.Q(what="voucher", reward__isnull=False)
                    | models.Q(what="card", points=0, reward__isnull=True)
                ),
                name="gift_fits_its_kind",
            ),
            models.CheckConstraint(
                condition=models.Q(redemption__isnull=True) | models.Q(what="voucher"),
                name="gift_voucher_only_for_voucher",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.template} ({self.get_what_display()})"


class BirthdayGiftSettings(models.Model):
    """What the birthday job gives (rewards.occasions), one row staff edit in the admin. The
    migration that made it took the first values from the environment (LOYALTY_BIRTHDAY_*)."""

    SINGLETON = 1

    id = models.PositiveSmallIntegerField(primary_key=True, default=SINGLETON, editable=False)
    points = models.PositiveIntegerField(
        _("birthday points"),
        default=100,
        help_text=_(
            "The gift of a member who likes a greeting, and what another gift falls back to "
            "when it cannot be given. 0: a card only."
        ),
    )
    discount_reward = models.ForeignKey(
        Reward,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("discount reward"),
        help_text=_("Given as a voucher to members who like a discount."),
    )
    surprise_rewards = models.ManyToManyField(
        Reward,
        blank=True,
        related_name="+",
        verbose_name=_("surprise rewards"),
        help_text=_("A member who likes a surprise gets one of these as a voucher."),
    )
    donation_amount = models.DecimalField(
        _("donation amount"),
        max_digits=10,
        decimal_places=2,
        default=Decimal("5.00"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("In the program's currency, given in the name of a member who likes that."),
    )
    donation_cause = models.CharField(
        _("donated to"),
        max_length=200,
        blank=True,
        help_text=_("Empty: no donations; those members get the points."),
    )
    updated_at = models.DateTimeField(_("changed at"), auto_now=True)

    class Meta:
        verbose_name = _("birthday gift settings")
        verbose_name_plural = _("birthday gift settings")
        constraints = [
            models.CheckConstraint(condition=models.Q(id=1), name="birthday_gift_settings_one_row"),
            models.CheckConstraint(
                condition=models.Q(donation_amount__gte=0), name="birthday_donation_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return str(_("Birthday gifts"))

    @classmethod
    def current(cls) -> BirthdayGiftSettings:
        """The row (unsaved defaults if it is missing: a database flushed by a test)."""
        found = cls.objects.select_related("discount_reward").filter(pk=cls.SINGLETON).first()
        return found or cls(pk=cls.SINGLETON)


class SavingGoal(models.Model):
    """The reward a member is saving for; the dashboard shows how far they are. One at most
    per member: choosing another replaces it (rewards.goals)."""

    member = models.OneToOneField(
        "accounts.Member",
        on_delete=models.CASCADE,
        related_name="saving_goal",
        verbose_name=_("member"),
    )
    reward = models.ForeignKey(
        Reward, on_delete=models.CASCADE, related_name="+", verbose_name=_("reward")
    )
    created_at = models.DateTimeField(_("chosen at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("saving goal")
        verbose_name_plural = _("saving goals")

    def __str__(self) -> str:
        return f"{self.member_id} → {self.reward_id}"


# How older rows find their member, for `manage.py member_ids_fill` (loyalty.base.backfill).
member_copy_register(
    "rewards_voucher", "SELECT r.member_id FROM rewards_redemption r WHERE r.id = t.redemption_id"
)
