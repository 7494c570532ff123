"""The CSV exports of redemptions and vouchers in the rewards admin."""

import csv
import io

from django.urls import reverse
from django.utils import timezone

from rewards import services
from rewards.models import Voucher
from tests.factories import give_points, make_partner, make_reward


def _csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode("utf-8"))))


def test_redemption_csv_export(admin_client, member, two_redemptions):
    # given
    mine, other = two_redemptions
    services.voucher_use(code=mine.voucher.code, partner=make_partner("Till"))
    mine.voucher.refresh_from_db()

    # when
    response = admin_client.post(
        reverse("admin:rewards_redemption_changelist"),
        {"action": "export_csv", "_selected_action": [mine.pk, other.pk], "index": "0"},
    )

    # then
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="redemptions-')
    rows = _csv_rows(response)
    assert rows[0] == [
        "redeemed at",
        "member number",
        "e-mail address",
        "reward",
        "points spent",
        "status",
        "voucher code",
        "voucher status",
        "voucher valid until",
        "used at",
    ]
    by_number = {row[1]: row for row in rows[1:]}
    assert len(rows) == 3
    assert by_number[member.member_number] == [
        timezone.localtime(mine.created_at).isoformat(timespec="seconds"),
        member.member_number,
        "ona@example.com",
        "Free coffee",
        "100",
        "Active",
        mine.voucher.display_code,
        "Used",
        mine.voucher.expires_on.isoformat(),
        timezone.localtime(mine.voucher.used_at).isoformat(timespec="seconds"),
    ]
    assert by_number[other.member.member_number][6:] == [
        other.voucher.display_code,
        "Issued",
        other.voucher.expires_on.isoformat(),
        "",
    ]


def test_csv_export_writes_a_formula_as_text(admin_client, member):
    # given
    give_points(member, 100)
    reward = make_reward(name_en="=HYPERLINK(1)")
    redemption = services.reward_redeem(member=member, reward=reward)

    # when
    response = admin_client.post(
        reverse("admin:rewards_redemption_changelist"),
        {"action": "export_csv", "_selected_action": [redemption.pk], "index": "0"},
    )

    # then
    assert _csv_rows(response)[1][3] == "'=HYPERLINK(1)"


def test_voucher_csv_export(admin_client, member, redemption):
    # given
    till = make_partner("Till")
    services.voucher_use(code=redemption.voucher.code, partner=till)
    voucher = Voucher.objects.get()

    # when
    response = admin_client.post(
        reverse("admin:rewards_voucher_changelist"),
        {"action": "export_csv", "_selected_action": [voucher.pk], "index": "0"},
    )

    # then
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert _csv_rows(response) == [
        [
            "code",
            "issued at",
            "member number",
            "e-mail address",
            "reward",
            "status",
            "valid until",
            "used at",
            "used by",
        ],
        [
            voucher.display_code,
            timezone.localtime(voucher.created_at).isoformat(timespec="seconds"),
            member.member_number,
            "ona@example.com",
            "Free coffee",
            "Used",
            voucher.expires_on.isoformat(),
            timezone.localtime(voucher.used_at).isoformat(timespec="seconds"),
            "Till",
        ],
    ]
