"""The core: tiers, earning rules, purchases and refunds, and the points ledger.

The ledger's invariants (see docs/ARCHITECTURE.md):
- ledger entries are append-only; a correction is a new entry pointing at what it corrects;
- a member's points_balance equals the sum of their entries and the sum of their lots' remainders;
- every balance change is one transaction (loyalty.core.ledger), made with a conditional UPDATE;
- points are integers, money is Decimal with an ISO 4217 currency.
"""

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loyalty.base.backfill import member_copy_register
from loyalty.base.distribution import member_copy
from loyalty.base.languages import in_language

from .adjustment_models import AdjustmentPolicy, AdjustmentRequest  # noqa: F401 (app's models)
from .job_models import JobBatch, JobRun  # noqa: F401 (the app's models)
from .names import NamesInLanguages
from .pause_models import Pause, PausePolicy  # noqa: F401 (the app's models)
from .pending_models import PendingPoints  # noqa: F401 (the app's models)


class Tier(NamesInLanguages):
    """A level members climb by the points they earn from purchases over a rolling window."""

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    rank = models.PositiveSmallIntegerField(
        _("rank"), unique=True, help_text=_("0 is the entry tier; higher is better.")
    )
    qualifying_points = models.PositiveIntegerField(
        _("qualifying points"),
        default=0,
        help_text=_("Points earned from purchases over the last 12 months needed to reach it."),
    )
    earn_multiplier = models.DecimalField(
        _("earn multiplier"), max_digits=5, decimal_places=2, default=1
    )
    discount_percent = models.DecimalField(
        _("member discount percent"),
        max_digits=5,
        decimal_places=2,
        default=0,
        help_text=_("Loyal members pay less: the discount on rewards' points cost."),
    )
    anniversary_bonus_base = models.PositiveIntegerField(
        _("anniversary bonus"),
        default=0,
        help_text=_("Points a member of this tier gets on every membership anniversary."),
    )
    anniversary_bonus_per_year = models.PositiveIntegerField(
        _("anniversary bonus per year"),
        default=0,
        help_text=_("Added for each year of membership (e.g. 3 years × 10 points)."),
    )
    # What the tier gives, beyond the multiplier and discount, in each language: a member reads
    # their own, or the English text where theirs is empty.
    benefits_en = models.TextField(_("benefits (English)"), blank=True)
    benefits_lt = models.TextField(_("benefits (Lithuanian)"), blank=True)
    benefits_bg = models.TextField(_("benefits (Bulgarian)"), blank=True)
    benefits_da = models.TextField(_("benefits (Danish)"), blank=True)
    benefits_ru = models.TextField(_("benefits (Russian)"), blank=True)
    benefits_pl = models.TextField(_("benefits (Polish)"), blank=True)

    class Meta:
        verbose_name = _("tier")
        verbose_name_plural = _("tiers")
        ordering = ["rank"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(earn_multiplier__gt=0), name="tier_multiplier_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(discount_percent__gte=0, discount_percent__lte=100),
                name="tier_discount_percent_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def benefits(self) -> str:
        """The benefits in the active language."""
        return in_language(self, "benefits")


class EarningRule(NamesInLanguages):
    """How purchases turn into points. See loyalty.core.earning for how several rules combine."""

    name = models.CharField(_("name"), max_length=200)
    is_active = models.BooleanField(_("active"), default=True)
    points_per_unit = models.DecimalField(
        _("points per currency unit"),
        max_digits=8,
        decimal_places=3,
        default=0,
        help_text=_("A rate rule: points for each unit of the amount it covers."),
    )
    multiplier = models.DecimalField(
        _("multiplier"),
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("A promotion rule: multiplies the points of the amount it covers."),
    )
    min_amount = models.DecimalField(
        _("minimum purchase amount"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    partner = models.ForeignKey(
        "accounts.Partner",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="earning_rules",
        help_text=_("Only purchases reported by this partner; empty means every partner."),
    )
    category = models.CharField(
        _("product category"),
        max_length=64,
        blank=True,
        help_text=_("Only purchase lines of this category; empty means the whole purchase."),
    )
    valid_from = models.DateField(_("valid from"), null=True, blank=True)
    valid_until = models.DateField(_("valid until"), null=True, blank=True)

    class Meta:
        verbose_name = _("earning rule")
        verbose_name_plural = _("earning rules")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(points_per_unit__gt=0, multiplier__isnull=True)
                    | models.Q(points_per_unit=0, multiplier__gt=0)
                ),
                name="earning_rule_is_rate_or_multiplier",
            ),
            models.CheckConstraint(
                condition=models.Q(valid_from__isnull=True)
                | models.Q(valid_until__isnull=True)
                | models.Q(valid_until__gte=models.F("valid_from")),
                name="earning_rule_window_ordered",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Purchase(models.Model):
    # Indexes are the hot path's write cost: the partner is served by the unique (partner,
    # external_id), the member by (member, -occurred_at), so neither has one of its own.
    partner = models.ForeignKey(
        "accounts.Partner", on_delete=models.PROTECT, related_name="purchases", db_index=False
    )
    external_id = models.CharField(_("partner's purchase id"), max_length=100)
    member = models.ForeignKey(
        "accounts.Member", on_delete=models.PROTECT, related_name="purchases", db_index=False
    )
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3)
    occurred_at = models.DateTimeField(_("occurred at"))
    points_earned = models.PositiveBigIntegerField(_("points earned"), default=0)
    explanation = models.JSONField(_("why these points"), default=list, blank=True)
    # An opaque token of the means of payment (e.g. a processor's card fingerprint), when the
    # partner sends one; never a card number. Referrals compare it (no self-referral).
    payment_fingerprint = models.CharField(
        _("payment fingerprint"), max_length=128, null=True, blank=True
    )
    created_at = models.DateTimeField(_("recorded at"), default=timezone.now)

    class Meta:
        verbose_name = _("purchase")
        verbose_name_plural = _("purchases")
        ordering = ["-occurred_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "external_id"], name="purchase_external_id_unique_per_partner"
            ),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="purchase_amount_pos"),
        ]
        indexes = [
            models.Index(fields=["member", "-occurred_at"]),
            # Only purchases with a fingerprint: most have none and need no index entry.
            models.Index(
                fields=["payment_fingerprint"],
                name="purchase_by_fingerprint",
                condition=models.Q(payment_fingerprint__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.partner} {self.external_id}"


class PurchaseLine(models.Model):
    purchase = models.ForeignKey(Purchase, on_delete=models.CASCADE, related_name="lines")
    member = member_copy()  # the purchase's (loyalty.base.distribution)
    sku = models.CharField(_("SKU"), max_length=64)
    quantity = models.PositiveIntegerField(_("quantity"), default=1)
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    category = models.CharField(_("category"), max_length=64, blank=True)
    # Earned before rounding (rate, promotion, × tier) and why; None on older lines (refunds.py).
    points_earned = models.DecimalField(
        _("points earned"), max_digits=32, decimal_places=9, null=True, blank=True
    )
    earning = models.JSONField(_("how it earned"), default=dict, blank=True)

    class Meta:
        verbose_name = _("purchase line")
        verbose_name_plural = _("purchase lines")
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gte=0), name="line_amount_not_neg"),
        ]

    def __str__(self) -> str:
        return f"{self.sku} × {self.quantity}"


class Refund(models.Model):
    """Money a partner gave back on a purchase, and the points taken back for it: those the
    member had spent already are points_unrecovered; pending ones are cancelled (no debt)."""

    purchase = models.ForeignKey(Purchase, on_delete=models.PROTECT, related_name="refunds")
    member = member_copy()  # the purchase's (loyalty.base.distribution)
    external_id = models.CharField(_("partner's refund id"), max_length=100)
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    points_reversed = models.PositiveBigIntegerField(_("points taken back"), default=0)
    points_unrecovered = models.PositiveBigIntegerField(_("points not recovered"), default=0)
    points_cancelled = models.PositiveBigIntegerField(_("pending points cancelled"), default=0)
    explanation = models.JSONField(_("why these points"), default=list, blank=True)
    created_at = models.DateTimeField(_("recorded at"), default=timezone.now)

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["purchase", "external_id"], name="refund_external_id_unique_per_purchase"
            ),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="refund_amount_pos"),
        ]

    def __str__(self) -> str:
        return f"{self.purchase} refund {self.external_id}"


class RefundLine(models.Model):
    """Which purchase lines, and how many of each, a refund gave back."""

    refund = models.ForeignKey(Refund, on_delete=models.CASCADE, related_name="lines")
    member = member_copy()  # the purchase's (loyalty.base.distribution)
    purchase_line = models.ForeignKey(
        PurchaseLine, on_delete=models.PROTECT, related_name="refund_lines"
    )
    quantity = models.PositiveIntegerField(_("quantity"))
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)

    class Meta:
        verbose_name = _("refund line")
        verbose_name_plural = _("refund lines")

    def __str__(self) -> str:
        return f"{self.purchase_line.sku} × {self.quantity}"


class LedgerEntry(models.Model):
    """One change of a member's points. Append-only: never updated, never deleted."""

    class Kind(models.TextChoices):
        EARN = "earn", _("Earned")
        SPEND = "spend", _("Spent")
        REVERSAL = "reversal", _("Reversed")
        EXPIRE = "expire", _("Expired")
        ADJUST = "adjust", _("Adjusted by staff")
        GIFT = "gift", _("Gift")
        REFERRAL = "referral", _("Referral bonus")

    # The member's index is (member, -created_at, -id) below. The optional causes, empty on
    # most entries, have partial indexes: an entry without one writes no index entry for it.
    member = models.ForeignKey(
        "accounts.Member", on_delete=models.PROTECT, related_name="ledger_entries", db_index=False
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    points = models.BigIntegerField(_("points"))
    balance_after = models.BigIntegerField(_("balance after"))
    description = models.CharField(_("description"), max_length=500, blank=True)
    # The cause: a purchase (fast path for refunds and tier counting), any other object
    # (refund, redemption, gift, lot, referral), or a staff user with a reason.
    purchase = models.ForeignKey(
        Purchase, on_delete=models.PROTECT, null=True, blank=True, related_name="ledger_entries"
    )
    cause_type = models.ForeignKey(
        ContentType,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    cause_id = models.PositiveBigIntegerField(null=True, blank=True)
    cause = GenericForeignKey("cause_type", "cause_id")
    staff_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    reason = models.CharField(_("staff reason"), max_length=500, blank=True)
    reverses = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reversals",
        db_index=False,
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["member", "-created_at", "-id"]),
            models.Index(
                fields=["cause_type", "cause_id"],
                name="entry_by_cause",
                condition=models.Q(cause_type__isnull=False),
            ),
            models.Index(
                fields=["staff_user"],
                name="entry_by_staff_user",
                condition=models.Q(staff_user__isnull=False),
            ),
            models.Index(
                fields=["reverses"],
                name="entry_by_reversed_entry",
                condition=models.Q(reverses__isnull=False),
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=~models.Q(points=0), name="entry_points_not_zero"),
            models.CheckConstraint(
                condition=models.Q(balance_after__gte=0), name="entry_balance_after_not_negative"
            ),
            models.CheckConstraint(
                condition=(models.Q(kind="adjust", staff_user__isnull=False) & ~models.Q(reason=""))
                | (
                    ~models.Q(kind="adjust")
                    & (models.Q(purchase__isnull=False) | models.Q(cause_type__isnull=False))
                ),
                name="entry_names_its_cause",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member_id} {self.kind} {self.points:+d}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.get("force_insert"):
            raise TypeError("Ledger entries are append-only; record a reversal instead.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("Ledger entries are append-only; record a reversal instead.")


class PointLot(models.Model):
    """Points earned together, what remains of them and when they expire.

    Spending takes from the soonest-expiring lots first; expiry takes what remains.
    """

    member = models.ForeignKey(
        "accounts.Member", on_delete=models.PROTECT, related_name="point_lots"
    )
    entry = models.OneToOneField(LedgerEntry, on_delete=models.PROTECT, related_name="lot")
    points = models.PositiveBigIntegerField(_("points"))
    remaining = models.BigIntegerField(_("remaining"))
    earned_at = models.DateTimeField(_("earned at"))
    expires_on = models.DateField(_("expires on"), null=True, blank=True)

    class Meta:
        verbose_name = _("point lot")
        verbose_name_plural = _("point lots")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(remaining__gte=0, remaining__lte=models.F("points")),
                name="lot_remaining_within_points",
            ),
        ]
        indexes = [
            models.Index(
                fields=["member", "expires_on", "id"],
                name="lot_open_by_member",
                condition=models.Q(remaining__gt=0),
            ),
            models.Index(
                fields=["expires_on"],
                name="lot_open_by_expiry",
                condition=models.Q(remaining__gt=0),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.remaining}/{self.points} until {self.expires_on or '∞'}"


class LotMovement(models.Model):
    """Which lots a ledger entry took points from (or gave back to): the audit of every lot."""

    entry = models.ForeignKey(LedgerEntry, on_delete=models.PROTECT, related_name="movements")
    member = member_copy()  # the entry's (loyalty.base.distribution)
    lot = models.ForeignKey(PointLot, on_delete=models.PROTECT, related_name="movements")
    points = models.BigIntegerField(_("points"))

    class Meta:
        verbose_name = _("lot movement")
        verbose_name_plural = _("lot movements")
        constraints = [
            models.CheckConstraint(condition=~models.Q(points=0), name="movement_not_zero"),
        ]

    def __str__(self) -> str:
        return f"{self.entry_id} {self.points:+d} on lot {self.lot_id}"


class TierChange(models.Model):
    """The history of a member's tier: every upgrade and downgrade with why."""

    member = models.ForeignKey(
        "accounts.Member", on_delete=models.PROTECT, related_name="tier_changes"
    )
    from_tier = models.ForeignKey(
        Tier, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    to_tier = models.ForeignKey(Tier, on_delete=models.PROTECT, related_name="+")
    qualifying_points = models.BigIntegerField(_("qualifying points"))
    reason = models.CharField(_("reason"), max_length=200)
    created_at = models.DateTimeField(_("changed at"), default=timezone.now)

    class Meta:
        verbose_name = _("tier change")
        verbose_name_plural = _("tier changes")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.member_id}: {self.from_tier} → {self.to_tier}"


class Anomaly(models.Model):
    """Something a partner did that staff should look at: a request past the partner's sanity
    limits (refused), a purchase near them, points spent at another partner minutes after a
    large earn. A kind and its numbers; rendered when shown (loyalty.core.anomalies)."""

    class Kind(models.TextChoices):
        OVER_LIMIT = "over_limit", _("Refused: over the partner's limits")
        LARGE_PURCHASE = "large_purchase", _("Large purchase")
        SPENT_ELSEWHERE = "spent_elsewhere", _("Spent at another partner after a large earn")

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    partner = models.ForeignKey(
        "accounts.Partner", on_delete=models.CASCADE, related_name="+", verbose_name=_("partner")
    )
    member = models.ForeignKey(
        "accounts.Member",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("member"),
    )
    # The numbers of the kind: amount, points, limit, earned_at_partner_id, minutes...
    params = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(_("noticed at"), default=timezone.now, db_index=True)
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    alerted = models.BooleanField(_("staff alerted"), default=False, editable=False)

    class Meta:
        verbose_name = _("anomaly")
        verbose_name_plural = _("anomalies")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["member", "kind", "created_at"], name="anomaly_member")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.created_at:%Y-%m-%d %H:%M}"


class IdempotencyRecord(models.Model):
    """A partner's Idempotency-Key and the response it got, kept at least 24 hours.

    Written in the same transaction as the ledger entries the request caused: either both exist
    or neither. The unique (partner, key) makes a concurrent request with the same key wait for
    the first one's commit and then replay its response.
    """

    # (No index of its own: the unique (partner, key) serves the partner.)
    partner = models.ForeignKey(
        "accounts.Partner", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField(null=True)
    # The answer's JSON text as first sent: a replay sends the same bytes (jsonb would not keep
    # the order of the keys).
    response_body = models.TextField(null=True)
    response_content_type = models.CharField(max_length=100, default="application/json")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("idempotency key")
        verbose_name_plural = _("idempotency keys")
        constraints = [
            models.UniqueConstraint(fields=["partner", "key"], name="idempotency_key_per_partner")
        ]

    def __str__(self) -> str:
        return f"{self.partner_id}:{self.key}"


# How older rows find their member, for `manage.py member_ids_fill` (loyalty.base.backfill).
_BY_PURCHASE = "SELECT p.member_id FROM loyalty_purchase p WHERE p.id = t.purchase_id"
member_copy_register("loyalty_purchaseline", _BY_PURCHASE)
member_copy_register("loyalty_refund", _BY_PURCHASE)
member_copy_register(
    "loyalty_refundline",
    "SELECT p.member_id FROM loyalty_refund r JOIN loyalty_purchase p ON p.id = r.purchase_id "
    "WHERE r.id = t.refund_id",
)
member_copy_register(
    "loyalty_lotmovement",
    "SELECT e.member_id FROM loyalty_ledgerentry e WHERE e.id = t.entry_id",
    append_only=True,
)
