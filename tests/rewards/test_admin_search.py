"""Searching and filtering redemptions and vouchers in the rewards admin."""

import pytest
from django.urls import reverse

from rewards import services


@pytest.mark.parametrize(
    "term",
    [
        lambda r: r.voucher.display_code.lower(),
        lambda r: r.voucher.code,
        lambda r: " ".join(r.voucher.display_code.split("-")),
        lambda r: r.member.member_number,
        lambda r: "ONA@example.com",
    ],
    ids=["dashed-lower-case-code", "stored-code", "code-with-spaces", "member-number", "e-mail"],
)
def test_redemption_search_finds_the_one(admin_client, two_redemptions, term):
    # given
    mine, _other = two_redemptions

    # when
    response = admin_client.get(reverse("admin:rewards_redemption_changelist"), {"q": term(mine)})

    # then
    assert [r.pk for r in response.context["cl"].result_list] == [mine.pk]


@pytest.mark.parametrize(
    "term",
    [
        lambda r: r.voucher.display_code.lower(),
        lambda r: r.voucher.code,
        lambda r: r.member.member_number,
    ],
    ids=["dashed-lower-case-code", "stored-code", "member-number"],
)
def test_voucher_search_finds_the_one(admin_client, two_redemptions, term):
    # given
    mine, _other = two_redemptions

    # when
    response = admin_client.get(reverse("admin:rewards_voucher_changelist"), {"q": term(mine)})

    # then
    assert [v.pk for v in response.context["cl"].result_list] == [mine.voucher.pk]


def test_code_search_keeps_the_list_filter(admin_client, two_redemptions):
    # given: the voucher searched for is issued, the filter asks for used ones
    mine, _other = two_redemptions

    # when
    response = admin_client.get(
        reverse("admin:rewards_voucher_changelist"),
        {"q": mine.voucher.display_code.lower(), "status__exact": "used"},
    )

    # then
    assert list(response.context["cl"].result_list) == []


def test_search_for_an_unknown_code_finds_nothing(admin_client, two_redemptions):
    # when
    response = admin_client.get(
        reverse("admin:rewards_redemption_changelist"), {"q": "zzzz-zzzz-zzzz"}
    )

    # then
    assert list(response.context["cl"].result_list) == []


def test_redemption_list_filters_by_status(admin_client, two_redemptions):
    # given
    mine, other = two_redemptions
    services.redemption_cancel(redemption=other, reason="x")

    # when
    response = admin_client.get(
        reverse("admin:rewards_redemption_changelist"), {"status__exact": "active"}
    )

    # then
    assert [r.pk for r in response.context["cl"].result_list] == [mine.pk]
