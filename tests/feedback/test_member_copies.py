"""Answer reports and published cases carry their item's member (loyalty.base.distribution),
written by the services and filled by `manage.py member_ids_fill` for older rows."""

from feedback.models import FeedbackAnswer, PublishedCase
from tests.member_copies import fill


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


def test_the_fill_fills_answers_and_cases_written_before_it(publish):
    member_id = publish().item.member_id
    FeedbackAnswer.objects.update(member=None)
    PublishedCase.objects.update(member=None)
    fill()
    assert copies() == {(member_id, member_id)}
