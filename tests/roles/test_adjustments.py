"""Adjustments above the support limit wait for a manager: asked, approved or refused, never
written twice, and nothing reaches the ledger before approval."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from accounts.models import Member
from loyalty.base.errors import NotAllowed
from loyalty.core.adjustment_models import AdjustmentPolicy, AdjustmentRequest
from loyalty.core.adjustments import (
    adjustment_approve,
    adjustment_policy_update,
    adjustment_refuse,
    points_adjust_or_request,
)
from loyalty.core.errors import AdjustmentDecided, InsufficientPoints
from loyalty.core.models import LedgerEntry
from tests.concurrency import run_at_once
from tests.ledger import assert_ledger_invariants
from tests.roles.conftest import staff_in

pytestmark = pytest.mark.django_db

REQUESTS = reverse("admin:loyalty_adjustmentrequest_changelist")


def _adjust_page(client, member, points, reason="Till fault"):
    url = reverse("admin:accounts_member_adjust_points", args=[member.pk])
    return client.post(url, {"points": points, "reason": reason})


def _action(client, requests, action):
    return client.post(
        REQUESTS, {"action": action, "_selected_action": [r.pk for r in requests], "index": "0"}
    )


def _balance(member) -> int:
    return Member.objects.get(pk=member.pk).points_balance


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_support_adjusts_within_the_limit_at_once(client, support, ona):
    # given: the default limit, 500 points per action
    client.force_login(support)
    # when
    _adjust_page(client, ona, 500)
    _adjust_page(client, ona, -500)
    # then
    entries = LedgerEntry.objects.filter(member=ona, kind=LedgerEntry.Kind.ADJUST)
    assert sorted(entries.values_list("points", flat=True)) == [-500, 500]
    assert {e.staff_user_id for e in entries} == {support.pk}
    assert not AdjustmentRequest.objects.exists()
    assert _balance(ona) == 2000


@pytest.mark.parametrize("points", [501, -501])
def test_support_above_the_limit_asks_a_manager_and_nothing_is_written(
    client, support, ona, points
):
    # given
    client.force_login(support)
    # when
    response = _adjust_page(client, ona, points)
    # then
    assert response.status_code == 302
    request = AdjustmentRequest.objects.get()
    assert (request.member_id, request.points, request.reason) == (ona.pk, points, "Till fault")
    assert (request.status, request.requested_by_id, request.entry_id) == (
        "pending",
        support.pk,
        None,
    )
    assert not LedgerEntry.objects.filter(kind=LedgerEntry.Kind.ADJUST).exists()
    assert _balance(ona) == 2000
    assert "waits for a manager's approval" in " ".join(_messages(response))


def test_the_list_action_asks_too(client, support, ona):
    # given
    client.force_login(support)
    # when
    client.post(
        reverse("admin:accounts_member_changelist"),
        {
            "action": "adjust_points",
            "_selected_action": [ona.pk],
            "_apply": "1",
            "points": 800,
            "reason": "Lost receipt",
        },
    )
    # then
    assert AdjustmentRequest.objects.get().points == 800
    assert _balance(ona) == 2000


def test_a_manager_adjusts_any_amount_at_once(client, manager, ona):
    client.force_login(manager)
    _adjust_page(client, ona, 5000)
    assert _balance(ona) == 7000
    assert not AdjustmentRequest.objects.exists()


def test_the_limit_is_the_managers_to_set(client, manager, support, ona):
    # given: a manager raises the limit on the policy's page
    client.force_login(manager)
    client.post(reverse("admin:loyalty_adjustmentpolicy_change", args=[1]), {"support_limit": 1000})
    assert AdjustmentPolicy.objects.get().support_limit == 1000
    # when
    entry = points_adjust_or_request(member=ona, points=900, staff_user=support, reason="Fault")
    # then
    assert isinstance(entry, LedgerEntry)
    assert _balance(ona) == 2900
    with pytest.raises(NotAllowed):
        adjustment_policy_update(staff_user=support, support_limit=10_000)
    assert AdjustmentPolicy.objects.get().support_limit == 1000


def test_approval_end_to_end(client, support, manager, ona):
    # given: support asks for 1,200 points
    client.force_login(support)
    _adjust_page(client, ona, 1200, reason="Double charge on 3 May")
    request = AdjustmentRequest.objects.get()
    # when: a manager approves on the list
    client.force_login(manager)
    response = _action(client, [request], "approve")
    # then: one entry, by the approver, with the asker's reason, linked from the request
    request.refresh_from_db()
    assert request.status == "approved"
    assert (request.decided_by_id, request.decided_at is not None) == (manager.pk, True)
    entry = request.entry
    assert (entry.points, entry.staff_user_id, entry.reason) == (
        1200,
        manager.pk,
        "Double charge on 3 May",
    )
    assert _balance(ona) == 3200
    assert "adjustment approved." in " ".join(_messages(response))
    assert_ledger_invariants()
    # and: the asker sees the result on their list
    client.force_login(support)
    page = client.get(REQUESTS)
    assert list(page.context["cl"].result_list) == [request]
    assert "Approved" in page.content.decode()


def test_refusal_writes_nothing(client, support, manager, ona):
    # given
    request = points_adjust_or_request(member=ona, points=-900, staff_user=support, reason="X")
    # when
    client.force_login(manager)
    _action(client, [request], "refuse")
    # then
    request.refresh_from_db()
    assert (request.status, request.decided_by_id, request.entry_id) == (
        "refused",
        manager.pk,
        None,
    )
    assert _balance(ona) == 2000
    assert not LedgerEntry.objects.filter(kind=LedgerEntry.Kind.ADJUST).exists()
    # and it cannot be approved afterwards
    with pytest.raises(AdjustmentDecided):
        adjustment_approve(request_id=request.pk, staff_user=manager)
    assert _balance(ona) == 2000


def test_support_cannot_approve_and_sees_only_their_own_requests(client, support, ona):
    # given: two agents' requests
    other = staff_in("Support", email="other@example.com")
    mine = points_adjust_or_request(member=ona, points=600, staff_user=support, reason="Mine")
    points_adjust_or_request(member=ona, points=700, staff_user=other, reason="Theirs")
    client.force_login(support)
    # when
    _action(client, [mine], "approve")
    page = client.get(REQUESTS)
    # then
    mine.refresh_from_db()
    assert mine.status == "pending"
    assert _balance(ona) == 2000
    assert list(page.context["cl"].result_list) == [mine]
    assert page.context["action_form"] is None  # no actions offered
    with pytest.raises(NotAllowed):
        adjustment_approve(request_id=mine.pk, staff_user=support)
    with pytest.raises(NotAllowed):
        adjustment_refuse(request_id=mine.pk, staff_user=support)


def test_approving_twice_writes_once(manager, support, ona):
    # given
    request = points_adjust_or_request(member=ona, points=600, staff_user=support, reason="X")
    # when
    adjustment_approve(request_id=request.pk, staff_user=manager)
    with pytest.raises(AdjustmentDecided):
        adjustment_approve(request_id=request.pk, staff_user=manager)
    # then
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.ADJUST).count() == 1
    assert _balance(ona) == 2600


def test_a_debit_the_member_cannot_cover_stays_pending(manager, support, ona):
    # given: asked for more than the member has
    request = points_adjust_or_request(member=ona, points=-2500, staff_user=support, reason="X")
    # when
    with pytest.raises(InsufficientPoints):
        adjustment_approve(request_id=request.pk, staff_user=manager)
    # then
    request.refresh_from_db()
    assert (request.status, request.entry_id) == ("pending", None)
    assert _balance(ona) == 2000


def test_bad_input_is_refused_before_anything_is_asked(support, ona):
    from loyalty.base.errors import InvalidInput

    with pytest.raises(InvalidInput):
        points_adjust_or_request(member=ona, points=900, staff_user=support, reason="  ")
    with pytest.raises(InvalidInput):
        points_adjust_or_request(member=ona, points=0, staff_user=support, reason="X")
    assert not AdjustmentRequest.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_managers_approving_at_once_write_once(ona, support):
    # given
    first, second = staff_in("Managers", "m1@example.com"), staff_in("Managers", "m2@example.com")
    request = points_adjust_or_request(member=ona, points=600, staff_user=support, reason="X")
    # when
    results = run_at_once(
        [
            lambda: adjustment_approve(request_id=request.pk, staff_user=first),
            lambda: adjustment_approve(request_id=request.pk, staff_user=second),
        ]
    )
    # then
    assert sorted(type(r).__name__ for r in results) == ["AdjustmentDecided", "AdjustmentRequest"]
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.ADJUST).count() == 1
    assert _balance(ona) == 2600
    assert_ledger_invariants()
