"""Drafts of a change to the earning rules or the tiers, and their simulations.

A draft is never read by earning: purchases read the live EarningRule and Tier rows only. A draft
keeps what it changes as JSON, each field as [the live value when drafted, the draft's value]
(insights.drafts), so publishing can tell whether the live row changed meanwhile. A simulation
replays the last 12 months of purchases with the live rules and with the draft
(insights.simulator) and keeps the result as numbers, worded when shown.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class RuleDraft(models.Model):
    class Kind(models.TextChoices):
        RULE = "rule", _("an earning rule")
        TIERS = "tiers", _("the tiers")

    title = models.CharField(
        _("title"), max_length=200, help_text=_("What the change tries, in a few words.")
    )
    kind = models.CharField(_("draft of"), max_length=10, choices=Kind.choices, default=Kind.RULE)
    rule = models.ForeignKey(
        "loyalty.EarningRule",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("rule it changes"),
        help_text=_("Empty: the draft adds a new rule."),
    )
    # {field: [live, draft]} for a rule; {tier id: {field: [live, draft]}} for the tiers.
    changes = models.JSONField(_("changes"), default=dict, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("author"),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("changed at"), default=timezone.now)
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("published by"),
    )

    class Meta:
        verbose_name = _("rule draft")
        verbose_name_plural = _("rule drafts")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind="rule") | models.Q(rule__isnull=True),
                name="rule_draft_tiers_have_no_rule",
            ),
        ]

    def __str__(self):
        return self.title


class Simulation(models.Model):
    """One run of a draft's simulation: what was simulated, by whom, and its result (numbers
    only). Run by a task; the draft's page shows the latest."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("waiting")
        RUNNING = "running", _("running")
        DONE = "done", _("done")
        FAILED = "failed", _("failed")

    draft = models.ForeignKey(RuleDraft, on_delete=models.CASCADE, related_name="simulations")
    # The draft's changes as simulated: a result belongs to this, not to a later edit.
    changes = models.JSONField(default=dict)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    requested_at = models.DateTimeField(_("requested at"), default=timezone.now)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.QUEUED
    )
    result = models.JSONField(_("result"), null=True, blank=True)
    error = models.CharField(_("error"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("simulation")
        verbose_name_plural = _("simulations")
        ordering = ["-requested_at", "-id"]
        default_permissions = ()  # seen on its draft's pages, with the draft's permissions

    def __str__(self):
        return f"{self.draft_id} {self.requested_at:%Y-%m-%d %H:%M}"
