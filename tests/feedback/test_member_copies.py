"""Answer reports and published cases carry their item's member (loyalty.base.distribution),
written by the services and filled by migration feedback/0003 for older rows."""

import importlib
from types import SimpleNamespace

from django.apps import apps
from django.db import connection

from feedback.models import FeedbackAnswer, PublishedCase

fill = importlib.import_module("feedback.migrations.0003_member_on_answers_and_cases").fill


def copies() -> set:
    return {
        *FeedbackAnswer.objects.values_list("item__member_id", "member_id"),
        *PublishedCase.objects.values_list("item__member_id", "member_id"),
    }


def test_answers_and_cases_carry_their_items_member(publish):
    case = publish()
    member_id = case.item.member_id
    assert FeedbackAnswer.objects.filter(item=case.item).exists()
    assert copies() == {(member_id, member_id)}


def test_the_migration_fills_answers_and_cases_written_before_it(publish):
    member_id = publish().item.member_id
    FeedbackAnswer.objects.update(member=None)
    PublishedCase.objects.update(member=None)
    fill(apps, SimpleNamespace(connection=connection))  # (it reads only the connection)
    assert copies() == {(member_id, member_id)}
