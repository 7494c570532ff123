"""Demo data of the feedback book: two answer templates, the demo member's feedback (an answered
complaint that changed something, published with consent; a suggestion waiting for an answer)
and this quarter's survey invitation (the crowd's past answers fill the admin's charts).
Written through the services, with times in the past; skipped when the demo member already has
feedback."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction

from accounts.models import Member
from loyalty.core.demo import SeedReport

from . import services, surveys
from .models import AnswerTemplate, FeedbackItem, SurveyResponse

SeedReport.describe(
    answer_templates=("answer template", "answer templates"),
    feedback_items=("feedback item", "feedback items"),
    surveys=("survey invitation", "survey invitations"),
)

TEMPLATES = [
    {
        "name": "Sorry, and what we fixed",
        "kind": FeedbackItem.Kind.COMPLAINT,
        "done": {
            "en": "Dear {name}, thank you for telling us. We looked into it the same day and "
            "put it right.",
            "lt": "Miela(s) {name}, ačiū, kad pasakėte. Tą pačią dieną tai išsiaiškinome ir "
            "ištaisėme.",
            "bg": "Здравейте, {name}, благодарим, че ни казахте. Проучихме случая още същия ден "
            "и го поправихме.",
            "da": "Kære {name}, tak fordi du sagde det. Vi så på det samme dag og rettede det.",
            "ru": "Здравствуйте, {name}! Спасибо, что рассказали нам. Мы разобрались в тот же "
            "день и всё исправили.",
            "pl": "Drogi/Droga {name}, dziękujemy, że nam o tym powiedziałeś. Sprawdziliśmy to "
            "tego samego dnia i naprawiliśmy.",
        },
        "changes": {
            "en": "We changed how we work so that it does not happen again.",
            "lt": "Pakeitėme savo darbo tvarką, kad tai nepasikartotų.",
            "bg": "Променихме начина, по който работим, за да не се повтори.",
            "da": "Vi har ændret den måde, vi arbejder på, så det ikke sker igen.",
            "ru": "Мы изменили порядок работы, чтобы это не повторилось.",
            "pl": "Zmieniliśmy sposób pracy, aby to się nie powtórzyło.",
        },
    },
    {
        "name": "Thank you for the kind words",
        "kind": FeedbackItem.Kind.PRAISE,
        "done": {
            "en": "Dear {name}, thank you! We passed your words on to the whole team.",
            "lt": "Miela(s) {name}, ačiū! Jūsų žodžius perdavėme visai komandai.",
            "bg": "Здравейте, {name}, благодарим! Предадохме думите ви на целия екип.",
            "da": "Kære {name}, tak! Vi har givet dine ord videre til hele holdet.",
            "ru": "Здравствуйте, {name}! Спасибо! Мы передали ваши слова всей команде.",
            "pl": "Drogi/Droga {name}, dziękujemy! Przekazaliśmy Twoje słowa całemu zespołowi.",
        },
        "changes": {},
    },
]


def seed_templates(*, report) -> dict[str, AnswerTemplate]:
    """Answer templates are configuration, like rewards, and are written directly."""
    templates = {}
    for spec in TEMPLATES:
        fields = {f"done_{code}": text for code, text in spec["done"].items()}
        fields |= {f"changes_{code}": text for code, text in spec["changes"].items()}
        template, created = AnswerTemplate.objects.get_or_create(
            name=spec["name"], defaults={"kind": spec["kind"], **fields}
        )
        report.add("answer_templates", int(created))
        templates[spec["name"]] = template
    return templates


def seed_feedback(*, report, member: Member, staff, partner, now: datetime) -> None:
    seed_templates(report=report)
    if FeedbackItem.objects.filter(member=member).exists():
        return
    complained_at = now - timedelta(days=40)
    # the purchase she complains about: her last one before the complaint
    purchase = (
        member.purchases.filter(partner=partner, occurred_at__lt=complained_at)
        .order_by("-occurred_at")
        .first()
    )
    with transaction.atomic():
        complaint = services.feedback_file(
            member=member,
            kind=FeedbackItem.Kind.COMPLAINT,
            category=FeedbackItem.Category.SERVICE,
            text="I waited twenty minutes at the till because only one was open, "
            "while three people were stacking shelves.",
            purchase=purchase,
            publish_consent=True,
            at=complained_at,
        )
        answered_at = now - timedelta(days=39, hours=20)
        services.feedback_answer(
            item=complaint,
            author=staff,
            handler_name="Rasa, customer care",
            what_was_done="We apologised to the team on shift and opened a second till at "
            "once; your visit that day earns double points.",
            what_changes="From now on a second till opens as soon as three people queue, "
            "before any shelf work.",
            close=True,
            at=answered_at,
        )
        services.feedback_thank(item=complaint, staff_user=staff, at=answered_at)
        services.case_publish(
            item=complaint,
            staff_user=staff,
            language="en",
            problem="A customer waited twenty minutes at the till while staff stacked shelves.",
            what_changed="A second till now opens as soon as three people queue.",
        )
        services.case_publish(
            item=complaint,
            staff_user=staff,
            language="lt",
            problem="Klientas prie kasos laukė dvidešimt minučių, kol darbuotojai dėliojo prekes.",
            what_changed="Dabar antra kasa atidaroma, kai eilėje stovi trys žmonės.",
        )
        services.feedback_rate(member=member, item_id=complaint.pk, rating=5, comment="Fast!")
        services.feedback_file(
            member=member,
            kind=FeedbackItem.Kind.SUGGESTION,
            category=FeedbackItem.Category.PRODUCTS,
            text="Could you sell oat milk in bigger cartons?",
            at=now - timedelta(days=2),
        )
        report.add("feedback_items", 2)
        # this quarter's two questions, asked after her last purchase and still to answer (one
        # invitation: the crowd's answers fill the admin's charts, insights/demo.py)
        if surveys.survey_invite(member=member, trigger=SurveyResponse.Trigger.PURCHASE, at=now):
            report.add("surveys")
