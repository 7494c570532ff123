"""What the program knows of each member and how it acts on it: the loyalty ladder, RFM scores,
attrition signals, staff outreach, campaigns with a holdout, and the dashboard's figures.

Everything here is computed by the nightly `insights` job (insights.ladder) from the ledger,
purchases, feedback and referrals; nothing here is a source of truth for points. Texts shown to
people are stored as kinds and numbers and worded when shown (insights.words), except the
campaign card, which staff write in each of the six languages.
"""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loyalty.base.languages import in_language

from .draft_models import RuleDraft, Simulation  # noqa: F401 (the app's models)


class Rung(models.TextChoices):
    """The loyalty ladder (docs/ARCHITECTURE.md, "Insights", has each rule)."""

    PROSPECT = "prospect", _("prospect")
    FIRST_TIME = "first_time", _("first-time customer")
    REPEAT = "repeat", _("repeat customer")
    LOYAL = "loyal", _("loyal customer")
    ADVOCATE = "advocate", _("advocate")
    AT_RISK = "at_risk", _("at risk")
    LAPSED = "lapsed", _("lapsed")


# Up and down the ladder: a move to a higher level is a move up.
RUNG_LEVEL = {
    Rung.LAPSED: 0,
    Rung.AT_RISK: 1,
    Rung.PROSPECT: 2,
    Rung.FIRST_TIME: 3,
    Rung.REPEAT: 4,
    Rung.LOYAL: 5,
    Rung.ADVOCATE: 6,
}


class InsightsPolicy(models.Model):
    """The ladder's thresholds and the point's value, one row (pk 1) that staff edit."""

    point_value = models.DecimalField(
        _("value of one point"),
        max_digits=10,
        decimal_places=6,
        default=Decimal("0.01"),
        validators=[MinValueValidator(0)],
        help_text=_("What one outstanding point costs the program, in the program's currency."),
    )
    loyal_window_months = models.PositiveSmallIntegerField(
        _("loyal: months looked at"),
        default=12,
        validators=[MinValueValidator(1), MaxValueValidator(36)],
    )
    loyal_min_months = models.PositiveSmallIntegerField(
        _("loyal: months with a purchase"),
        default=7,
        validators=[MinValueValidator(1), MaxValueValidator(36)],
        help_text=_("Loyal members bought in at least this many of the months looked at."),
    )
    risk_gap_factor = models.DecimalField(
        _("at risk: times the usual gap"),
        max_digits=4,
        decimal_places=2,
        default=Decimal("2.00"),
        validators=[MinValueValidator(1)],
    )
    risk_min_days = models.PositiveSmallIntegerField(
        _("at risk: never before (days)"),
        default=30,
        help_text=_("However often a member buys, they are not at risk sooner than this."),
    )
    first_gap_days = models.PositiveSmallIntegerField(
        _("usual gap of a member with one purchase (days)"),
        default=45,
        validators=[MinValueValidator(1)],
    )
    lapsed_days = models.PositiveSmallIntegerField(
        _("lapsed after (days without a purchase)"),
        default=365,
        validators=[MinValueValidator(1)],
    )
    updated_at = models.DateTimeField(_("changed at"), auto_now=True)

    class Meta:
        verbose_name = _("insights policy")
        verbose_name_plural = _("insights policy")
        constraints = [
            models.CheckConstraint(condition=models.Q(pk=1), name="insights_policy_single_row"),
            models.CheckConstraint(
                condition=models.Q(loyal_min_months__lte=models.F("loyal_window_months")),
                name="insights_policy_loyal_months_fit",
                violation_error_message=_(
                    "Loyal members cannot need more months than are looked at."
                ),
            ),
        ]

    def __str__(self):
        return str(_("insights policy"))


class MemberInsight(models.Model):
    """One member as the last nightly run saw them. Signals are kinds with their numbers,
    e.g. {"kind": "gap", "days": 80, "usual": 21}; insights.words says them in words."""

    member = models.OneToOneField(
        "accounts.Member",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="insight",
        verbose_name=_("member"),
    )
    rung = models.CharField(_("rung"), max_length=12, choices=Rung.choices)
    rung_since = models.DateField(_("on this rung since"))
    purchases = models.PositiveIntegerField(_("purchases"), default=0)
    first_purchase_on = models.DateField(_("first purchase"), null=True, blank=True)
    last_purchase_on = models.DateField(_("last purchase"), null=True, blank=True)
    median_gap_days = models.PositiveIntegerField(_("usual gap (days)"), null=True, blank=True)
    purchases_12m = models.PositiveIntegerField(_("purchases in 12 months"), default=0)
    spend_12m = models.DecimalField(
        _("spend in 12 months"), max_digits=14, decimal_places=2, default=0
    )
    months_active = models.PositiveSmallIntegerField(_("months with a purchase"), default=0)
    recency = models.PositiveSmallIntegerField(_("R"), default=0)
    frequency = models.PositiveSmallIntegerField(_("F"), default=0)
    monetary = models.PositiveSmallIntegerField(_("M"), default=0)
    signals = models.JSONField(_("attrition signals"), default=list, blank=True)
    quiet = models.BooleanField(
        _("quiet"), default=False, help_text=_("Never filed feedback, never answered a survey.")
    )

    class Meta:
        verbose_name = _("member insight")
        # (staff work through it as the outreach list)
        verbose_name_plural = _("outreach list")
        indexes = [models.Index(fields=["rung"], name="insight_rung")]

    def __str__(self):
        return f"{self.member_id}: {self.get_rung_display()}"

    @property
    def rfm(self) -> str:
        return f"{self.recency}{self.frequency}{self.monetary}" if self.recency else "–"


class RungChange(models.Model):
    """A member's move on the ladder, found by the nightly run (their first assessment is not a
    move: MemberInsight.rung_since says since when they stand where they do)."""

    member = models.ForeignKey(
        "accounts.Member", on_delete=models.CASCADE, related_name="rung_changes"
    )
    day = models.DateField(_("day"))
    from_rung = models.CharField(_("from"), max_length=12, choices=Rung.choices, blank=True)
    to_rung = models.CharField(_("to"), max_length=12, choices=Rung.choices)

    class Meta:
        verbose_name = _("rung change")
        verbose_name_plural = _("rung changes")
        ordering = ["-day", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["member", "day"], name="rung_change_once_a_day")
        ]
        indexes = [models.Index(fields=["day"], name="rung_change_day")]

    def __str__(self):
        return f"{self.member_id} {self.day}: {self.from_rung or '–'} → {self.to_rung}"


class Outreach(models.Model):
    """A member staff contacted from the outreach list, with what was said."""

    member = models.ForeignKey("accounts.Member", on_delete=models.CASCADE, related_name="outreach")
    staff = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    note = models.TextField(_("note"), max_length=2000)
    contacted_at = models.DateTimeField(_("contacted at"), default=timezone.now)

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        ordering = ["-contacted_at"]
        indexes = [models.Index(fields=["member", "-contacted_at"], name="outreach_member")]

    def __str__(self):
        return f"{self.member_id} {self.contacted_at:%Y-%m-%d}"


class Snapshot(models.Model):
    """The dashboard's figures as the nightly run computed them (numbers only, worded when
    shown), so a dashboard view reads one row whatever the program's size."""

    day = models.DateField(_("day"), unique=True)
    computed_at = models.DateTimeField(_("computed at"), default=timezone.now)
    figures = models.JSONField(_("figures"), default=dict)

    class Meta:
        verbose_name = _("dashboard snapshot")
        verbose_name_plural = _("dashboard snapshots")
        ordering = ["-day"]

    def __str__(self):
        return str(self.day)


# The most points a campaign may give each member (a typo must not mint a fortune).
MAX_POINTS = 100_000


class Campaign(models.Model):
    """An offer to a segment of members, with a random holdout that gets nothing, so its effect
    is measured against members who were not asked."""

    class Offer(models.TextChoices):
        POINTS = "points", _("points")
        VOUCHER = "voucher", _("a reward voucher")
        MESSAGE = "message", _("a message only")

    class Status(models.TextChoices):
        DRAFT = "draft", _("draft")
        SENDING = "sending", _("sending")
        SENT = "sent", _("sent")

    name = models.CharField(_("name"), max_length=200)
    segment = models.JSONField(
        _("segment"), default=dict, blank=True, help_text=_("Which members: see the form.")
    )
    offer = models.CharField(_("offer"), max_length=10, choices=Offer.choices)
    points = models.PositiveIntegerField(
        _("points"), default=0, validators=[MaxValueValidator(MAX_POINTS)]
    )
    reward = models.ForeignKey(
        "rewards.Reward",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("reward"),
    )
    holdout_percent = models.PositiveSmallIntegerField(
        _("holdout (%)"), default=10, validators=[MinValueValidator(1), MaxValueValidator(50)]
    )
    reactivation_days = models.PositiveSmallIntegerField(
        _("came back within (days)"), default=30, validators=[MinValueValidator(1)]
    )
    subject_en = models.CharField(_("subject (English)"), max_length=150)
    subject_lt = models.CharField(_("subject (Lithuanian)"), max_length=150)
    subject_bg = models.CharField(_("subject (Bulgarian)"), max_length=150)
    subject_da = models.CharField(_("subject (Danish)"), max_length=150)
    subject_ru = models.CharField(_("subject (Russian)"), max_length=150)
    subject_pl = models.CharField(_("subject (Polish)"), max_length=150)
    card_en = models.TextField(_("card (English)"), max_length=2000)
    card_lt = models.TextField(_("card (Lithuanian)"), max_length=2000)
    card_bg = models.TextField(_("card (Bulgarian)"), max_length=2000)
    card_da = models.TextField(_("card (Danish)"), max_length=2000)
    card_ru = models.TextField(_("card (Russian)"), max_length=2000)
    card_pl = models.TextField(_("card (Polish)"), max_length=2000)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.DRAFT
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    launched_at = models.DateTimeField(_("launched at"), null=True, blank=True)
    launched_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    results = models.JSONField(_("results"), default=dict, blank=True)

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(offer="points", points__gt=0, reward__isnull=True)
                    | models.Q(offer="voucher", points=0, reward__isnull=False)
                    | models.Q(offer="message", points=0, reward__isnull=True)
                ),
                name="campaign_offer_complete",
            )
        ]

    def __str__(self):
        return self.name

    def card(self, language: str) -> tuple[str, str]:
        """The subject and card in a language (English where that one is empty)."""
        return in_language(self, "subject", language), in_language(self, "card", language)


class CampaignMember(models.Model):
    """A member a campaign chose: treated (sent the offer once) or held out (sent nothing)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="members")
    member = models.ForeignKey(
        "accounts.Member", on_delete=models.CASCADE, related_name="campaigns"
    )
    holdout = models.BooleanField(_("held out"))
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    entry = models.OneToOneField(
        "loyalty.LedgerEntry",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    voucher = models.OneToOneField(
        "rewards.Voucher", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    not_given = models.CharField(
        _("not given"),
        max_length=40,
        blank=True,
        help_text=_("Why the offer could not be given (the reward's refusal code)."),
    )

    class Meta:
        verbose_name = _("campaign member")
        verbose_name_plural = _("campaign members")
        constraints = [
            models.UniqueConstraint(fields=["campaign", "member"], name="campaign_member_once"),
            models.CheckConstraint(
                condition=models.Q(holdout=False) | models.Q(sent_at__isnull=True),
                name="campaign_holdout_gets_nothing",
            ),
        ]
        indexes = [
            models.Index(
                fields=["campaign", "id"],
                name="campaign_member_unsent",
                condition=models.Q(holdout=False, sent_at__isnull=True, not_given=""),
            )
        ]

    def __str__(self):
        return f"{self.campaign_id}/{self.member_id}"


class PurchaseStats(models.Model):
    """Scratch space of the nightly run on PostgreSQL: each member's purchase facts, written by
    several connections at once (a range of members each), then read by the assessment. Its
    table is UNLOGGED (migration 0003): rebuilt every night, it need not survive a crash."""

    member_id = models.BigIntegerField(primary_key=True)
    n = models.IntegerField()
    first_on = models.DateField()
    last_on = models.DateField()
    median_gap = models.IntegerField(null=True)
    n12 = models.IntegerField()
    spend12 = models.DecimalField(max_digits=14, decimal_places=2)
    spend_recent = models.DecimalField(max_digits=14, decimal_places=2)
    spend_before = models.DecimalField(max_digits=14, decimal_places=2)
    months_active = models.IntegerField()

    class Meta:
        verbose_name = "purchase facts (scratch)"
        default_permissions = ()

    def __str__(self):
        return str(self.member_id)


class PointsMonth(models.Model):
    """Points earned, spent and expired in one calendar month, kept by the nightly run: the
    ledger is append-only, so a month that has ended is counted once (again only while it is
    recent enough for a back-dated entry to land in it), not every night."""

    month = models.DateField(primary_key=True)
    earned = models.BigIntegerField()
    spent = models.BigIntegerField()
    expired = models.BigIntegerField()
    computed_at = models.DateTimeField()

    class Meta:
        # (the run's own record, never shown to staff: not translated)
        verbose_name = "points in a month"
        verbose_name_plural = "points by month"
        default_permissions = ()

    def __str__(self):
        return f"{self.month:%Y-%m}"
