"""Every write of the feedback book: filing, triage, answers, thanks, publication (the surveys
are in surveys.py).

Deadlines: an item's first answer and resolution are due a number of hours after it was filed,
from the ResponsePolicy of its severity (DEFAULT_POLICY when staff have not set one). An item is
overdue when it has no first answer by the first deadline, or is not closed by the second.

Escalation: a severe item (high, critical) is escalated to the managers when it is filed or
raised; any other item when it becomes overdue (the `feedback_escalation` job, every 15
minutes). Either way at most once per item: escalated_at is claimed with a conditional UPDATE,
and the e-mail is sent after that commits.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.errors import MemberNotActive
from accounts.models import Member
from loyalty.base.errors import InvalidInput, NotAllowed
from loyalty.base.text import plain_text
from loyalty.core.errors import PurchaseNotFound
from loyalty.core.ledger import points_credit
from loyalty.core.models import LedgerEntry, Purchase
from notifications.outbox import email_enqueue
from notifications.services import message_send
from notifications.staff import staff_emails

from .errors import (
    AlreadyRated,
    ConsentRequired,
    FeedbackClosed,
    FeedbackNotAnswered,
    FeedbackNotFound,
    NotAnonymous,
)
from .models import (
    ANSWER_MAX_LENGTH,
    CASE_MAX_LENGTH,
    LANGUAGE_CODES,
    SEVERE,
    TEXT_MAX_LENGTH,
    AnswerTemplate,
    FeedbackAnswer,
    FeedbackItem,
    PublishedCase,
    ResponsePolicy,
    Severity,
    overdue_q,
)

# Hours to the first answer and to resolution, when staff have not set a policy.
DEFAULT_POLICY = {
    Severity.CRITICAL: (4, 24),
    Severity.HIGH: (24, 72),
    Severity.NORMAL: (48, 168),
    Severity.LOW: (120, 336),
}
# Praise and questions need no fixing; a complaint starts as a normal one until staff triage it.
DEFAULT_SEVERITY = {
    FeedbackItem.Kind.COMPLAINT: Severity.NORMAL,
    FeedbackItem.Kind.SUGGESTION: Severity.LOW,
    FeedbackItem.Kind.QUESTION: Severity.NORMAL,
    FeedbackItem.Kind.PRAISE: Severity.LOW,
}
# What may earn thank-you points: something that can lead to a change.
THANKABLE = (FeedbackItem.Kind.COMPLAINT, FeedbackItem.Kind.SUGGESTION)


def _choice(value, choices, field: str) -> str:
    if value not in choices.values:
        raise InvalidInput(f"{field} must be one of: {', '.join(choices.values)}.", field=field)
    return value


def _text(value, *, field: str, max_length: int, required: bool = True) -> str:
    if not isinstance(value, str) or "\x00" in value:
        raise InvalidInput(_("Please write plain text."), field=field)
    value = value.replace("\r\n", "\n").strip()
    if required and not value:
        raise InvalidInput(_("Please write a few words."), field=field)
    if len(value) > max_length:
        raise InvalidInput(
            _("Please keep it to %(limit)s characters (this is %(length)s).")
            % {"limit": max_length, "length": len(value)},
            field=field,
        )
    return value


def response_deadlines(severity: str, filed_at: datetime) -> tuple[datetime, datetime]:
    """When the first answer and the resolution are due for an item filed at `filed_at`."""
    policy = ResponsePolicy.objects.filter(severity=severity).first()
    if policy is not None:
        first, resolution = policy.first_answer_hours, policy.resolution_hours
    else:
        first, resolution = DEFAULT_POLICY[severity]
    return filed_at + timedelta(hours=first), filed_at + timedelta(hours=resolution)


def _language(member: Member) -> str:
    return member.language if member.language in LANGUAGE_CODES else "en"


# --- filing ------------------------------------------------------------------------------------


@transaction.atomic
def feedback_file(
    *,
    member: Member,
    kind: str,
    category: str,
    text: str,
    purchase: Purchase | None = None,
    partner=None,
    publish_consent: bool = False,
    at: datetime | None = None,
) -> FeedbackItem:
    """File what a member tells us: on the member site (no partner) or by a partner for them.

    A purchase must be the member's own (and, when a partner files, that partner's); anything
    else is "not found", so nobody learns about other members' purchases.
    """
    kind = _choice(kind, FeedbackItem.Kind, "kind")
    category = _choice(category, FeedbackItem.Category, "category")
    text = _text(text, field="text", max_length=TEXT_MAX_LENGTH)
    if member.status == Member.Status.CLOSED:
        raise MemberNotActive()  # a paused member (a hard time) may still tell us things
    if purchase is not None and (
        purchase.member_id != member.pk
        or (partner is not None and purchase.partner_id != partner.pk)
    ):
        raise PurchaseNotFound()
    at = at or timezone.now()
    severity = DEFAULT_SEVERITY[kind]
    first_due, resolution_due = response_deadlines(severity, at)
    item = FeedbackItem.objects.create(
        member=member,
        channel=FeedbackItem.Channel.PARTNER if partner else FeedbackItem.Channel.WEB,
        partner=partner,
        kind=kind,
        category=category,
        severity=severity,
        text=text,
        language=_language(member),
        purchase=purchase,
        created_at=at,
        first_answer_due=first_due,
        resolution_due=resolution_due,
        publish_consent=bool(publish_consent),
    )
    message_send(
        member,
        "feedback_received",
        {
            "item": {
                "pk": str(item.pk),
                "kind": item.kind,
                "first_answer_due": item.first_answer_due,
            },
            "url": item_url(item),
        },
        dedupe_key=f"item-{item.pk}",
    )
    return item


def item_url(item: FeedbackItem) -> str:
    return settings.SITE_URL + reverse("feedback:item", args=[item.pk])


def member_purchase(*, member: Member, external_id: str, partner=None) -> Purchase:
    """The member's purchase with this id (at this partner when given), or PurchaseNotFound."""
    purchases = Purchase.objects.filter(member=member, external_id=external_id)
    if partner is not None:
        purchases = purchases.filter(partner=partner)
    purchase = purchases.order_by("pk").first()
    if purchase is None:
        raise PurchaseNotFound()
    return purchase


def member_item(*, member: Member, item_id) -> FeedbackItem:
    """One of the member's own items; someone else's is "not found", like a missing one."""
    try:
        return FeedbackItem.objects.get(pk=int(item_id), member=member)
    except (FeedbackItem.DoesNotExist, TypeError, ValueError):
        raise FeedbackNotFound() from None


# --- staff: triage, answers, thanks, closing ---------------------------------------------------


def _locked(item: FeedbackItem) -> FeedbackItem:
    return FeedbackItem.objects.select_for_update().get(pk=item.pk)


def _staff(user) -> None:
    if user is None or not user.is_staff:
        raise NotAllowed()


@transaction.atomic
def feedback_assign(*, item: FeedbackItem, assignee, staff_user, at: datetime | None = None):
    """Give the item to a staff member (None takes it back to the queue)."""
    _staff(staff_user)
    if assignee is not None:
        _staff(assignee)
    item = _locked(item)
    if item.status == FeedbackItem.Status.CLOSED:
        raise FeedbackClosed()
    item.assigned_to = assignee
    item.assigned_at = (at or timezone.now()) if assignee else None
    if item.status in (FeedbackItem.Status.NEW, FeedbackItem.Status.ASSIGNED):
        item.status = FeedbackItem.Status.ASSIGNED if assignee else FeedbackItem.Status.NEW
    item.save(update_fields=["assigned_to", "assigned_at", "status"])
    return item


@transaction.atomic
def feedback_set_severity(*, item: FeedbackItem, severity: str, staff_user) -> FeedbackItem:
    """Triage: a new severity moves the deadlines (counted from when it was filed)."""
    _staff(staff_user)
    severity = _choice(severity, Severity, "severity")
    item = _locked(item)
    if item.status == FeedbackItem.Status.CLOSED:
        raise FeedbackClosed()
    item.severity = severity
    item.first_answer_due, item.resolution_due = response_deadlines(severity, item.created_at)
    item.save(update_fields=["severity", "first_answer_due", "resolution_due"])
    if severity in SEVERE and item.escalated_at is None:  # the item's row is locked
        item.escalated_at, item.escalation_reason = timezone.now(), "severe"
        _escalate([item.pk], reason="severe", at=item.escalated_at)
    return item


@transaction.atomic
def feedback_answer(
    *,
    item: FeedbackItem,
    author,
    what_was_done: str = "",
    what_changes: str = "",
    handler_name: str = "",
    template: AnswerTemplate | None = None,
    close: bool = False,
    at: datetime | None = None,
) -> FeedbackAnswer:
    """Write the answer report and tell the member, in their language.

    With a template, empty texts are taken from it in the item's language. The first answer
    sets first_answered_at (the figure the first-answer deadline is measured by).
    """
    _staff(author)
    item = _locked(item)
    if item.status == FeedbackItem.Status.CLOSED:
        raise FeedbackClosed()
    name = item.member.user.first_name
    if template is not None and not (what_was_done.strip() or what_changes.strip()):
        # Texts staff wrote (perhaps starting from the template) are kept as they are.
        what_was_done, what_changes = template.texts(item.language, name=name)
    what_was_done = _text(what_was_done, field="what_was_done", max_length=ANSWER_MAX_LENGTH)
    what_changes = _text(
        what_changes, field="what_changes", max_length=ANSWER_MAX_LENGTH, required=False
    )
    handler_name = _text(
        handler_name or author.get_short_name() or author.email.split("@")[0],
        field="handler_name",
        max_length=100,
    )
    at = at or timezone.now()
    answer = FeedbackAnswer.objects.create(
        item=item,
        member_id=item.member_id,
        author=author,
        handler_name=handler_name,
        what_was_done=what_was_done,
        what_changes=what_changes,
        language=item.language,
        template=template,
        created_at=at,
    )
    fields = ["status"]
    if item.first_answered_at is None:
        item.first_answered_at = at
        fields.append("first_answered_at")
    if item.assigned_to_id is None:
        item.assigned_to, item.assigned_at = author, at
        fields += ["assigned_to", "assigned_at"]
    item.status = FeedbackItem.Status.CLOSED if close else FeedbackItem.Status.ANSWERED
    if close:
        item.closed_at = at
        fields.append("closed_at")
    item.save(update_fields=fields)
    message_send(
        item.member,
        "feedback_answered",
        {
            "item": {"pk": str(item.pk)},
            "answer": {
                "handler_name": answer.handler_name,
                "what_was_done": answer.what_was_done,
                "what_changes": answer.what_changes,
            },
            "url": item_url(item),
        },
        dedupe_key=f"answer-{answer.pk}",
    )
    return answer


@transaction.atomic
def feedback_close(*, item: FeedbackItem, staff_user, at: datetime | None = None) -> FeedbackItem:
    """Close an answered item (an item is closed only once it has an answer)."""
    _staff(staff_user)
    item = _locked(item)
    if item.status == FeedbackItem.Status.CLOSED:
        return item
    if item.first_answered_at is None:
        raise FeedbackNotAnswered()
    item.status = FeedbackItem.Status.CLOSED
    item.closed_at = at or timezone.now()
    item.save(update_fields=["status", "closed_at"])
    return item


@transaction.atomic
def feedback_thank(
    *, item: FeedbackItem, staff_user, points: int | None = None, at: datetime | None = None
) -> LedgerEntry | None:
    """A prize for a complaint: mark that it led to a change and pay the thank-you points once.

    The ledger entry names the item as its cause; the item keeps it in thanks_entry (one to one),
    so a second call (a double click, two staff at once) pays nothing more. Returns the entry,
    or None when the thank-you is set to 0 points.
    """
    _staff(staff_user)
    item = _locked(item)
    if item.kind not in THANKABLE:
        raise InvalidInput(
            _("Only a complaint or a suggestion can lead to a change."), field="kind"
        )
    if item.thanks_entry_id is not None:
        return item.thanks_entry
    already_marked = item.led_to_change
    points = settings.FEEDBACK_THANKS_POINTS if points is None else points
    item.led_to_change = True
    entry = None
    if points and points > 0 and not already_marked:
        entry = points_credit(
            member=item.member,
            points=points,
            kind=LedgerEntry.Kind.GIFT,
            cause=item,
            at=at,
        )
        item.thanks_entry = entry
    item.save(update_fields=["led_to_change", "thanks_entry"])
    if not already_marked:
        message_send(
            item.member,
            "feedback_thanks",
            {
                "item": {"pk": str(item.pk)},
                "points": entry.points if entry else 0,
                "url": item_url(item),
            },
            dedupe_key=f"item-{item.pk}",
        )
    return entry


# --- the member's side: rating and consent ------------------------------------------------------


@transaction.atomic
def feedback_rate(*, member: Member, item_id, rating, comment: str = "") -> FeedbackItem:
    """The member rates the answer they got (1 to 5), once."""
    item = member_item(member=member, item_id=item_id)
    try:
        rating = int(rating)
    except (TypeError, ValueError):
        rating = 0
    if not 1 <= rating <= 5:
        raise InvalidInput(_("Choose from 1 to 5 stars."), field="rating")
    comment = _text(comment or "", field="comment", max_length=500, required=False)
    item = _locked(item)
    if item.first_answered_at is None:
        raise FeedbackNotAnswered()
    if item.rated_at is not None:
        raise AlreadyRated()
    item.rating, item.rating_comment, item.rated_at = rating, comment, timezone.now()
    item.save(update_fields=["rating", "rating_comment", "rated_at"])
    return item


@transaction.atomic
def feedback_set_consent(*, member: Member, item_id, consent: bool) -> FeedbackItem:
    """The member agrees to (or withdraws from) publication; withdrawing unpublishes at once."""
    item = _locked(member_item(member=member, item_id=item_id))
    item.publish_consent = bool(consent)
    item.save(update_fields=["publish_consent"])
    if not consent:
        item.cases.all().delete()
    return item


# --- "You said, we did" --------------------------------------------------------------------------

EMAIL_PATTERN = re.compile(r"[^\s@]+@[^\s@]+\.[^\s@]+")
# A member number (9 digits), a phone number or any other long run of digits.
DIGITS_PATTERN = re.compile(r"(?:\d[\s\-/().]*){7,}")


def personal_data_in(text: str, member: Member) -> bool:
    """Whether the text names the member or holds an e-mail, a phone or a member number."""
    lowered = text.casefold()
    if EMAIL_PATTERN.search(text) or DIGITS_PATTERN.search(text):
        return True
    user = member.user
    words = [user.first_name, user.last_name, user.email.split("@")[0], member.member_number]
    return any(
        re.search(rf"(?<!\w){re.escape(word.casefold())}(?!\w)", lowered)
        for word in words
        if word and len(word) >= 2
    )


@transaction.atomic
def case_publish(
    *, item: FeedbackItem, staff_user, language: str, problem: str, what_changed: str
) -> PublishedCase:
    """Publish the anonymised case in one language (again: replace that language's text)."""
    _staff(staff_user)
    item = _locked(item)
    if not item.publish_consent:
        raise ConsentRequired()
    if item.first_answered_at is None:
        raise FeedbackNotAnswered()
    if language not in LANGUAGE_CODES:
        raise InvalidInput(
            f"language must be one of: {', '.join(LANGUAGE_CODES)}.", field="language"
        )
    problem = _text(problem, field="problem", max_length=CASE_MAX_LENGTH)
    what_changed = _text(what_changed, field="what_changed", max_length=CASE_MAX_LENGTH)
    for field, text in (("problem", problem), ("what_changed", what_changed)):
        if personal_data_in(text, item.member):
            raise NotAnonymous(field=field)
    case, _created = PublishedCase.objects.update_or_create(
        item=item,
        language=language,
        defaults={
            "member_id": item.member_id,
            "problem": problem,
            "what_changed": what_changed,
            "published_by": staff_user,
            "published_at": timezone.now(),
        },
    )
    return case


@transaction.atomic
def case_unpublish(*, case: PublishedCase, staff_user) -> None:
    _staff(staff_user)
    PublishedCase.objects.filter(pk=case.pk).delete()


# --- escalation ----------------------------------------------------------------------------------


def _escalate(item_ids: list[int], *, reason: str, at: datetime) -> list[int]:
    """Escalate items the caller has locked and read as not escalated yet; e-mail the managers
    after commit. The row locks make it once per item, however many runs race."""
    if not item_ids:
        return []
    FeedbackItem.objects.filter(pk__in=item_ids).update(escalated_at=at, escalation_reason=reason)
    for item_id in item_ids:
        email_enqueue(kind="escalation", object_id=item_id)
    return item_ids


def feedback_escalate_due(*, now: datetime | None = None) -> dict[str, int]:
    """Escalate open items that are severe or overdue and were not escalated yet (once each)."""
    now = now or timezone.now()
    waiting = FeedbackItem.objects.filter(escalated_at__isnull=True).exclude(
        status=FeedbackItem.Status.CLOSED
    )
    counts = {}
    with transaction.atomic():
        locked = waiting.select_for_update(skip_locked=True)
        severe = list(locked.filter(severity__in=SEVERE).values_list("pk", flat=True))
        counts["severe"] = len(_escalate(severe, reason="severe", at=now))
        overdue = list(locked.filter(overdue_q(now)).values_list("pk", flat=True))
        counts["overdue"] = len(_escalate(overdue, reason="overdue", at=now))
    return counts


def escalation_emails(item_id: int) -> list[EmailMessage]:
    """The escalation's e-mails to the managers (the "escalation" kind of the outbox), each in
    their own language (a manager without one reads the site's): one e-mail per language, to all
    who read it. What the member wrote is plain text there."""
    item = FeedbackItem.objects.select_related("member__user").filter(pk=item_id).first()
    if item is None or item.escalated_at is None:
        return []
    context = {
        "item": item,
        "text": plain_text(item.text),
        "admin_url": settings.SITE_URL
        + reverse("admin:feedback_feedbackitem_change", args=[item.pk]),
    }

    def render() -> tuple[str, str]:
        reasons = {"severe": _("severe"), "overdue": _("overdue")}
        context["reason"] = reasons.get(item.escalation_reason, item.escalation_reason)
        subject = render_to_string("feedback/escalation_subject.txt", context).strip()
        return subject, render_to_string("feedback/escalation_body.txt", context)

    return staff_emails(settings.FEEDBACK_MANAGERS_GROUP, render)


def items_overdue(now: datetime | None = None):
    """Open items past a deadline, soonest-due first."""
    return (
        FeedbackItem.objects.exclude(status=FeedbackItem.Status.CLOSED)
        .filter(overdue_q(now or timezone.now()))
        .order_by("first_answer_due")
    )
