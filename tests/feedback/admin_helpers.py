"""Helpers for the tests of the feedback admin: the clock, its URLs, messages and answers."""

from datetime import datetime

import time_machine
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from feedback import services

TZ = timezone.get_current_timezone()


T0 = datetime(2026, 11, 23, 9, 0, tzinfo=TZ)  # a Monday morning


CHANGELIST = "admin:feedback_feedbackitem_changelist"


def travel(moment):
    return time_machine.travel(moment, tick=False)


def _messages(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def _url(name: str, item) -> str:
    return reverse(f"admin:feedback_feedbackitem_{name}", args=[item.pk])


def _listed(response) -> list[int]:
    assert response.status_code == 200, response.content[:500]
    return [item.pk for item in response.context["cl"].result_list]


def _answer(item, staff, **kwargs):
    kwargs.setdefault("what_was_done", "We spoke with the team and apologise.")
    return services.feedback_answer(item=item, author=staff, **kwargs)
