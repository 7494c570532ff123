"""The complaints and suggestions book: what members tell us, and how we answer.

An item is one thing a member said (a complaint, a suggestion, a question or praise), filed on
the member site or by a partner on the member's behalf. Its deadlines come from the response
policy for its severity. The answer report is the other side of the page: who handled it, what
was done, and what changes so it does not happen again. Writes go through feedback.services.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from loyalty.base.backfill import member_copy_register
from loyalty.base.distribution import member_copy
from loyalty.base.wording import address_form

LANGUAGE_CODES = ("en", "lt", "bg", "da", "ru", "pl")
TEXT_MAX_LENGTH = 4000
ANSWER_MAX_LENGTH = 4000
CASE_MAX_LENGTH = 1000


class Severity(models.TextChoices):
    LOW = "low", _("Low")
    NORMAL = "normal", _("Normal")
    HIGH = "high", _("High")
    CRITICAL = "critical", _("Critical")


# Escalated to the managers as soon as they are filed (or raised to this severity).
SEVERE = (Severity.HIGH, Severity.CRITICAL)


class ResponsePolicy(models.Model):
    """How fast we answer and resolve an item of one severity (hours on the clock)."""

    severity = models.CharField(_("severity"), max_length=10, choices=Severity.choices, unique=True)
    first_answer_hours = models.PositiveIntegerField(_("first answer within (hours)"))
    resolution_hours = models.PositiveIntegerField(_("resolved within (hours)"))

    class Meta:
        verbose_name = _("response policy")
        verbose_name_plural = _("response policies")
        ordering = ["first_answer_hours"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(first_answer_hours__gt=0)
                & models.Q(resolution_hours__gte=models.F("first_answer_hours")),
                name="policy_hours_in_order",
            )
        ]

    def __str__(self) -> str:
        return str(self.get_severity_display())


class FeedbackItem(models.Model):
    class Kind(models.TextChoices):
        COMPLAINT = "complaint", _("Complaint")
        SUGGESTION = "suggestion", _("Suggestion")
        QUESTION = "question", _("Question")
        PRAISE = "praise", _("Praise")

    class Category(models.TextChoices):
        SERVICE = "service", _("Service and staff")
        PRODUCTS = "products", _("Products and quality")
        PRICES = "prices", _("Prices and offers")
        POINTS = "points", _("Points and rewards")
        DELIVERY = "delivery", _("Shop and delivery")
        WEBSITE = "website", _("Website and app")
        OTHER = "other", _("Something else")

    class Status(models.TextChoices):
        # A context of their own: "New" and "Closed" have other genders elsewhere in some languages.
        NEW = "new", pgettext_lazy("feedback item status", "New")
        ASSIGNED = "assigned", pgettext_lazy("feedback item status", "Assigned")
        ANSWERED = "answered", pgettext_lazy("feedback item status", "Answered")
        CLOSED = "closed", pgettext_lazy("feedback item status", "Closed")

    class Channel(models.TextChoices):
        WEB = "web", _("Member site")
        PARTNER = "partner", _("Partner (shop or call centre)")

    member = models.ForeignKey(
        "accounts.Member",
        on_delete=models.PROTECT,
        related_name="feedback_items",
        verbose_name=_("member"),
    )
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    partner = models.ForeignKey(
        "accounts.Partner",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="feedback_items",
        verbose_name=_("filed by partner"),
    )
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    category = models.CharField(_("category"), max_length=12, choices=Category.choices)
    severity = models.CharField(_("severity"), max_length=10, choices=Severity.choices)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.NEW
    )
    text = models.TextField(_("what the member said"), max_length=TEXT_MAX_LENGTH)
    language = models.CharField(_("language"), max_length=8)
    purchase = models.ForeignKey(
        "loyalty.Purchase",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="feedback_items",
        verbose_name=_("purchase"),
    )
    created_at = models.DateTimeField(_("filed at"), default=timezone.now)
    first_answer_due = models.DateTimeField(_("first answer due"))
    resolution_due = models.DateTimeField(_("resolution due"))
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="feedback_assigned",
        verbose_name=_("assigned to"),
    )
    assigned_at = models.DateTimeField(_("assigned at"), null=True, blank=True)
    first_answered_at = models.DateTimeField(_("first answered at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    escalated_at = models.DateTimeField(_("escalated at"), null=True, blank=True)
    escalation_reason = models.CharField(_("escalation reason"), max_length=10, blank=True)
    led_to_change = models.BooleanField(_("led to a change"), default=False)
    thanks_entry = models.OneToOneField(
        "loyalty.LedgerEntry",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="thanked_feedback",
        verbose_name=_("thank-you points"),
    )
    publish_consent = models.BooleanField(
        _("may be published anonymously"),
        default=False,
        help_text=_("The member agrees that an anonymised story of this case may be published."),
    )
    rating = models.PositiveSmallIntegerField(_("answer rating"), null=True, blank=True)
    rating_comment = models.CharField(_("rating comment"), max_length=500, blank=True)
    rated_at = models.DateTimeField(_("rated at"), null=True, blank=True)

    class Meta:
        verbose_name = _("feedback item")
        verbose_name_plural = _("feedback items")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["member", "-created_at"]),
            models.Index(fields=["status", "first_answer_due"]),
            models.Index(fields=["created_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(rating__isnull=True) | models.Q(rating__gte=1, rating__lte=5),
                name="feedback_rating_1_to_5",
            ),
            models.CheckConstraint(
                condition=~models.Q(text=""),
                name="feedback_text_not_blank",
            ),
            models.CheckConstraint(
                condition=models.Q(channel="web") | models.Q(partner__isnull=False),
                name="feedback_partner_channel_names_partner",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_kind_display()}"

    @property
    def is_open(self) -> bool:
        return self.status != self.Status.CLOSED

    def overdue_at(self, now=None) -> bool:
        """Past a deadline it has not met: no first answer in time, or not closed in time."""
        now = now or timezone.now()
        if self.first_answered_at is None and now > self.first_answer_due:
            return True
        return self.closed_at is None and now > self.resolution_due

    @property
    def is_overdue(self) -> bool:
        return self.overdue_at()


def overdue_q(now):
    """The queryset twin of FeedbackItem.overdue_at."""
    return models.Q(first_answered_at__isnull=True, first_answer_due__lt=now) | models.Q(
        closed_at__isnull=True, resolution_due__lt=now
    )


class AnswerTemplate(models.Model):
    """A reusable answer staff start from, written in all six languages.

    `{name}` in a text becomes the member's first name.
    """

    name = models.CharField(_("name"), max_length=100, unique=True)
    kind = models.CharField(
        _("for kind"),
        max_length=12,
        choices=FeedbackItem.Kind.choices,
        blank=True,
        help_text=_("Leave empty for a template that suits any kind."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    done_en = models.TextField(_("what was done (English)"))
    done_lt = models.TextField(_("what was done (Lithuanian)"))
    done_bg = models.TextField(_("what was done (Bulgarian)"))
    done_da = models.TextField(_("what was done (Danish)"))
    done_ru = models.TextField(_("what was done (Russian)"))
    done_pl = models.TextField(_("what was done (Polish)"))
    changes_en = models.TextField(_("what changes (English)"), blank=True)
    changes_lt = models.TextField(_("what changes (Lithuanian)"), blank=True)
    changes_bg = models.TextField(_("what changes (Bulgarian)"), blank=True)
    changes_da = models.TextField(_("what changes (Danish)"), blank=True)
    changes_ru = models.TextField(_("what changes (Russian)"), blank=True)
    changes_pl = models.TextField(_("what changes (Polish)"), blank=True)

    class Meta:
        verbose_name = _("answer template")
        verbose_name_plural = _("answer templates")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def texts(self, language: str, *, name: str = "") -> tuple[str, str]:
        """What was done and what changes, in `language` (English if unknown), name filled in
        as the texts address the member (the vocative in Lithuanian: "Sveiki, Jonai")."""
        language = language[:2] if language[:2] in LANGUAGE_CODES else "en"
        done = getattr(self, f"done_{language}") or self.done_en
        changes = getattr(self, f"changes_{language}") or self.changes_en
        # (a text that falls back to English greets as English does)
        name = address_form(name, language if getattr(self, f"done_{language}") else "en")
        return done.replace("{name}", name), changes.replace("{name}", name)


class FeedbackAnswer(models.Model):
    """The answer report: who handled it, what was done, and what changes."""

    item = models.ForeignKey(
        FeedbackItem, on_delete=models.CASCADE, related_name="answers", verbose_name=_("item")
    )
    member = member_copy()  # the item's (loyalty.base.distribution)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="feedback_answers",
        verbose_name=_("written by"),
    )
    handler_name = models.CharField(_("handled by (as the member sees it)"), max_length=100)
    what_was_done = models.TextField(_("what was done"), max_length=ANSWER_MAX_LENGTH)
    what_changes = models.TextField(
        _("what changes so it does not happen again"), max_length=ANSWER_MAX_LENGTH, blank=True
    )
    language = models.CharField(_("language"), max_length=8)
    template = models.ForeignKey(
        AnswerTemplate,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="answers",
        verbose_name=_("template"),
    )
    created_at = models.DateTimeField(_("written at"), default=timezone.now)

    class Meta:
        verbose_name = _("answer report")
        verbose_name_plural = _("answer reports")
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.item} – {self.handler_name}"


class PublishedCase(models.Model):
    """ "You said, we did": an anonymised case staff publish with the member's consent."""

    item = models.ForeignKey(
        FeedbackItem, on_delete=models.CASCADE, related_name="cases", verbose_name=_("item")
    )
    member = member_copy()  # the item's (loyalty.base.distribution)
    language = models.CharField(
        _("language"), max_length=8, choices=[(code, code) for code in LANGUAGE_CODES]
    )
    problem = models.TextField(_("you said"), max_length=CASE_MAX_LENGTH)
    what_changed = models.TextField(_("we did"), max_length=CASE_MAX_LENGTH)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("published by"),
    )
    published_at = models.DateTimeField(_("published at"), default=timezone.now)

    class Meta:
        verbose_name = _("published case")
        verbose_name_plural = _("published cases")
        ordering = ["-published_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["item", "language"], name="case_once_per_language")
        ]

    def __str__(self) -> str:
        return self.problem[:60]


class SurveyResponse(models.Model):
    """A short survey, offered at most once a quarter per member (the unique constraint)."""

    class Trigger(models.TextChoices):
        PURCHASE = "purchase", _("After a purchase")
        FEEDBACK = "feedback", _("After an answered complaint")

    member = models.ForeignKey(
        "accounts.Member",
        on_delete=models.CASCADE,
        related_name="surveys",
        verbose_name=_("member"),
    )
    quarter = models.CharField(_("quarter"), max_length=7, help_text="e.g. 2026-Q4")
    trigger = models.CharField(_("asked after"), max_length=10, choices=Trigger.choices)
    invited_at = models.DateTimeField(_("invited at"), default=timezone.now)
    would_tell = models.PositiveSmallIntegerField(
        _("would tell us if something went wrong (1-5)"), null=True, blank=True
    )
    recommend = models.PositiveSmallIntegerField(
        _("would recommend us (0-10)"), null=True, blank=True
    )
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)

    class Meta:
        verbose_name = _("survey")
        verbose_name_plural = _("surveys")
        ordering = ["-invited_at", "-id"]
        indexes = [models.Index(fields=["answered_at"])]
        constraints = [
            models.UniqueConstraint(fields=["member", "quarter"], name="survey_once_per_quarter"),
            models.CheckConstraint(
                condition=models.Q(would_tell__isnull=True)
                | models.Q(would_tell__gte=1, would_tell__lte=5),
                name="survey_would_tell_1_to_5",
            ),
            models.CheckConstraint(
                condition=models.Q(recommend__isnull=True) | models.Q(recommend__lte=10),
                name="survey_recommend_0_to_10",
            ),
            models.CheckConstraint(
                condition=models.Q(answered_at__isnull=True)
                | models.Q(would_tell__isnull=False, recommend__isnull=False),
                name="survey_answered_has_scores",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member} {self.quarter}"


# How older rows find their member, for `manage.py member_ids_fill` (loyalty.base.backfill).
_BY_ITEM = "SELECT i.member_id FROM feedback_feedbackitem i WHERE i.id = t.item_id"
member_copy_register("feedback_feedbackanswer", _BY_ITEM)
member_copy_register("feedback_publishedcase", _BY_ITEM)
