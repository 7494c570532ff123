"""Helpers for the tests of the member's feedback pages: their URLs, messages and answers."""

from django.urls import reverse

from feedback import services

BOOK = reverse("feedback:book")


NEW = reverse("feedback:new")


SURVEY = reverse("feedback:survey")


PUBLIC = reverse("feedback:public")


def item_url(item) -> str:
    return reverse("feedback:item", args=[item.pk])


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def _answer(item, staff, **kwargs):
    kwargs.setdefault("what_was_done", "We spoke with the cashier and apologise.")
    kwargs.setdefault("what_changes", "A second till opens when the queue is long.")
    return services.feedback_answer(item=item, author=staff, handler_name="Rasa", **kwargs)
