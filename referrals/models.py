"""Referral codes, invitations, sign-up fingerprints and referrals.

The workflows (who may refer whom, when a referral qualifies, the abuse rules) live in
referrals.services; here are the data and the rules the database itself keeps:
- one referral per referee (a unique one-to-one), never a member referring themselves (CHECK);
- a qualified or reversed referral names its qualifying purchase and when it qualified (CHECK);
- each bonus is one ledger entry that at most one referral can point at (one-to-one), so a
  bonus cannot be paid twice even if the status guard in the service were bypassed.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ReferralCode(models.Model):
    """A member's own code: 8 characters from an alphabet without look-alikes (no 0/O, 1/I/L,
    U), about 39 random bits, so it is short to type and read aloud yet not guessable."""

    member = models.OneToOneField(
        "accounts.Member", on_delete=models.CASCADE, related_name="referral_code"
    )
    code = models.CharField(_("code"), max_length=16, unique=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("referral code")
        verbose_name_plural = _("referral codes")

    def __str__(self) -> str:
        return self.code

    @property
    def display_code(self) -> str:
        """Grouped for reading aloud: ABCD-EFGH."""
        return f"{self.code[:4]}-{self.code[4:]}" if len(self.code) == 8 else self.code


class SignupFingerprint(models.Model):
    """What sign-up tells about who someone is, for the self-referral and "new friend" rules.

    email_canonical is the address as the provider delivers it (see referrals.emails); the
    device and address hashes are opaque values the sign-up page computes (keyed hashes, never
    the raw device id or postal address).
    """

    member = models.OneToOneField(
        "accounts.Member", on_delete=models.CASCADE, related_name="signup_fingerprint"
    )
    email_canonical = models.CharField(_("canonical e-mail address"), max_length=254)
    device_hash = models.CharField(_("device hash"), max_length=128, blank=True)
    address_hash = models.CharField(_("address hash"), max_length=128, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("sign-up fingerprint")
        verbose_name_plural = _("sign-up fingerprints")
        indexes = [models.Index(fields=["email_canonical"], name="signup_email_canonical")]

    def __str__(self) -> str:
        return self.email_canonical


class Invitation(models.Model):
    """A member invited a friend by e-mail, and perhaps vouched for them ("I know them")."""

    referrer = models.ForeignKey(
        "accounts.Member", on_delete=models.CASCADE, related_name="referral_invitations"
    )
    email = models.EmailField(_("e-mail address"), max_length=254)
    # The address as the provider delivers it: a friend joining under an alias still matches.
    email_canonical = models.CharField(_("canonical e-mail address"), max_length=254)
    vouched = models.BooleanField(_("vouched"), default=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    sent_at = models.DateTimeField(_("e-mailed at"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["referrer", "email_canonical"], name="invitation_once_per_friend"
            )
        ]
        indexes = [models.Index(fields=["referrer", "-created_at"], name="invitation_by_day")]

    def __str__(self) -> str:
        return f"{self.referrer_id} → {self.email}"


class Referral(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        FLAGGED = "flagged", _("Waiting for review")
        QUALIFIED = "qualified", _("Qualified")
        REJECTED = "rejected", _("Rejected")
        EXPIRED = "expired", _("Expired")
        REVERSED = "reversed", _("Reversed")

    referrer = models.ForeignKey(
        "accounts.Member", on_delete=models.PROTECT, related_name="referrals_made"
    )
    referee = models.OneToOneField(
        "accounts.Member", on_delete=models.PROTECT, related_name="referral"
    )
    invitation = models.ForeignKey(
        Invitation, on_delete=models.SET_NULL, null=True, blank=True, related_name="referrals"
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    vouched = models.BooleanField(
        _("vouched"), default=False, help_text=_("The referrer vouched for the friend.")
    )
    # Abuse rules that fired (codes from referrals.services.FLAGS), kept for staff to see.
    flags = models.JSONField(_("flags"), default=list, blank=True)
    expires_on = models.DateField(_("qualify by"))
    qualifying_purchase = models.ForeignKey(
        "loyalty.Purchase",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="qualified_referrals",
    )
    qualified_at = models.DateTimeField(_("qualified at"), null=True, blank=True)
    referrer_entry = models.OneToOneField(
        "loyalty.LedgerEntry",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="referral_as_referrer_bonus",
    )
    friend_entry = models.OneToOneField(
        "loyalty.LedgerEntry",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="referral_as_friend_bonus",
    )
    reversed_at = models.DateTimeField(_("reversed at"), null=True, blank=True)
    referrer_points_unrecovered = models.PositiveIntegerField(
        _("referrer's points not recovered"), default=0
    )
    friend_points_unrecovered = models.PositiveIntegerField(
        _("friend's points not recovered"), default=0
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    review_note = models.CharField(_("review note"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("referral")
        verbose_name_plural = _("referrals")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(referrer=models.F("referee")), name="referral_not_self"
            ),
            models.CheckConstraint(
                condition=~models.Q(status__in=["qualified", "reversed"])
                | models.Q(qualifying_purchase__isnull=False, qualified_at__isnull=False),
                name="referral_qualified_names_purchase",
            ),
        ]
        indexes = [
            models.Index(fields=["referrer", "-created_at"], name="referral_by_referrer"),
            models.Index(
                fields=["expires_on"],
                name="referral_open_by_expiry",
                condition=models.Q(status__in=["pending", "flagged"]),
            ),
            models.Index(fields=["status", "-created_at"], name="referral_by_status"),
        ]

    def __str__(self) -> str:
        return f"{self.referrer_id} → {self.referee_id} ({self.status})"


class FlaggedReferral(Referral):
    """The staff review queue: referrals waiting for approval (a proxy of Referral)."""

    class Meta:
        proxy = True
        verbose_name = _("referral waiting for review")
        verbose_name_plural = _("referrals waiting for review")
