"""Rewards when a member leaves (rewards.leaving): vouchers settled under their own row locks,
and a closed member's voucher refused at the till."""

import threading
import time

import pytest
from django.db import connection, transaction

from accounts import services as account_services
from accounts.errors import MemberNotActive
from accounts.models import Member, User
from loyalty.core.closing import member_close
from rewards import services
from rewards.models import Voucher
from tests import factories


def _member_with_a_voucher():
    factories.make_tiers()
    member = factories.make_member(email="ona@example.com")
    factories.give_points(member, 150)
    redemption = services.reward_redeem(member=member, reward=factories.make_reward())
    return Member.objects.get(pk=member.pk), redemption.voucher


@pytest.mark.django_db
def test_a_closed_members_voucher_is_refused_at_the_till():
    # given: staff closed the membership with the status alone; the voucher is still issued
    member, voucher = _member_with_a_voucher()
    staff = User.objects.create_user(email="staff@example.com", password="x", is_staff=True)
    account_services.member_set_status(
        member=member, status=Member.Status.CLOSED, staff_user=staff, reason="Fraud"
    )
    # when / then
    with pytest.raises(MemberNotActive):
        services.voucher_use(code=voucher.code, partner=factories.make_partner("Till"))
    assert Voucher.objects.get(pk=voucher.pk).status == Voucher.Status.ISSUED


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_till_using_the_voucher_while_the_member_closes_does_not_stop_the_closing():
    # given: a till has used the voucher and not yet committed
    member, voucher = _member_with_a_voucher()
    till = factories.make_partner("Till")
    used, release, outcome = threading.Event(), threading.Event(), {}

    def at_the_till():
        try:
            with transaction.atomic():
                services.voucher_use(code=voucher.code, partner=till)
                used.set()
                release.wait(10)
                time.sleep(0.5)  # the closing is waiting for the voucher's row by now
        except Exception as exc:  # asserted below
            outcome["till"] = exc
        finally:
            used.set()
            connection.close()

    thread = threading.Thread(target=at_the_till)
    thread.start()
    assert used.wait(10)
    # when: the member closes meanwhile
    release.set()
    try:
        member_close(member=member, by=member.user)
    finally:
        thread.join(10)
    # then: the till's use stands, and the closing went through
    assert "till" not in outcome, outcome
    assert Voucher.objects.get(pk=voucher.pk).status == Voucher.Status.USED
    member.refresh_from_db()
    assert (member.status, member.points_balance) == (Member.Status.CLOSED, 0)
