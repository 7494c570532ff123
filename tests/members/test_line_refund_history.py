"""The member's history says what a refund by lines took back and why (issue 18)."""

from decimal import Decimal

from django.urls import reverse

from accounts.models import Member
from loyalty.core.purchases import purchase_record
from loyalty.core.refunds import purchase_refund

HISTORY = reverse("members:history")


def test_a_line_refund_says_what_the_line_earned(member_client, web_member, rules, shop, tiers):
    # given: silver (× 1.25); coffee 5.00 at 2/€ and wine 45.00 at 1/€ = 68.75 → 68 points
    Member.objects.filter(pk=web_member.pk).update(tier=tiers["silver"])
    web_member.refresh_from_db()
    purchase = purchase_record(
        partner=shop,
        member=web_member,
        external_id="A-1",
        amount=Decimal("50.00"),
        currency="EUR",
        lines=[
            {"sku": "COFFEE", "quantity": 1, "amount": "5.00", "category": "coffee"},
            {"sku": "WINE", "quantity": 1, "amount": "45.00"},
        ],
    ).purchase
    purchase_refund(purchase=purchase, external_id="R-1", lines=[{"sku": "COFFEE", "quantity": 1}])
    purchase_refund(purchase=purchase, external_id="R-2", amount="20.00")

    # when
    html = member_client.get(HISTORY).content.decode()

    # then
    assert "Taken back because a purchase at Corner Shop was refunded" in html
    assert (
        "12.5 points that 1 of 1 × COFFEE earned at “Two points per euro on coffee” (2 per unit)"
        in html
    )
    assert "× 1.25 for being Silver" in html
    assert "Only whole points are taken back." in html
    # the refund by amount: round(68 × 25/50) = 34, less the 12 taken before
    assert "34 of the purchase's 68 points, in proportion to €25.00 refunded of €50.00" in html
    assert "(less 12 taken back before)" in html
