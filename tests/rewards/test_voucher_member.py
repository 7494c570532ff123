"""A voucher carries its redemption's member (loyalty.base.distribution), written when it is
issued and filled by `manage.py member_ids_fill` for vouchers issued before."""

from rewards.models import Voucher
from tests.member_copies import fill


def test_a_voucher_carries_its_redemptions_member(two_redemptions):
    first, second = two_redemptions
    assert {(v.redemption.member_id, v.member_id) for v in Voucher.objects.all()} == {
        (first.member_id, first.member_id),
        (second.member_id, second.member_id),
    }


def test_the_fill_fills_vouchers_issued_before_it(two_redemptions):
    Voucher.objects.update(member=None)
    fill()
    assert set(Voucher.objects.values_list("redemption__member_id", "member_id")) == {
        (r.member_id, r.member_id) for r in two_redemptions
    }
