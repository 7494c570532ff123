import json
from datetime import UTC, date, datetime

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from accounts.models import Member
from rewards.services import reward_redeem
from tests import factories

from .conftest import PASSWORD

PROFILE = reverse("members:profile")


def _form(**changes) -> dict:
    data = {
        "first_name": "Ieva",
        "last_name": "Kazlauskė",
        "language": "en",
        "birthday_month": "",
        "birthday_day": "",
        "birthday_year": "",
        "delight": "surprise",
        "email_messages": "on",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_the_profile_saves_name_language_birthday_delight_and_email_choices(
    member_client, web_member
):
    # when
    with time_machine.travel(date(2026, 3, 1)):
        response = member_client.post(
            PROFILE,
            _form(
                language="pl",
                birthday_month="2",
                birthday_day="29",
                email_messages=None,
                email_offers="on",
            ),
        )

    # then
    assert response.status_code == 302
    assert response["Location"] == PROFILE
    member = Member.objects.select_related("user").get(pk=web_member.pk)
    assert member.user.last_name == "Kazlauskė"
    assert member.language == "pl"
    assert (member.birthday_month, member.birthday_day, member.birthday_year) == (2, 29, None)
    assert member.birthday_set_on == date(2026, 3, 1)
    assert member.delight == "surprise"
    assert member.email_messages is False
    assert member.email_offers is True


def test_saving_the_same_birthday_again_keeps_when_it_was_set(member_client, web_member):
    # given
    Member.objects.filter(pk=web_member.pk).update(
        birthday_month=5, birthday_day=14, birthday_year=1990, birthday_set_on=date(2024, 1, 1)
    )

    # when
    member_client.post(PROFILE, _form(birthday_month="5", birthday_day="14", birthday_year="1990"))

    # then
    web_member.refresh_from_db()
    assert web_member.birthday_set_on == date(2024, 1, 1)
    assert web_member.delight == "surprise"


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"birthday_month": "2", "birthday_day": "30"}, "birthday_day", "That day does not exist"),
        (
            {"birthday_month": "2", "birthday_day": "29", "birthday_year": "2023"},
            "birthday_day",
            "That day does not exist",
        ),
        ({"birthday_month": "4"}, "birthday_day", "Choose both the month and the day"),
        ({"birthday_day": "4"}, "birthday_month", "Choose both the month and the day"),
        ({"birthday_year": "1990"}, "birthday_year", "Choose the month and day first"),
        (
            {"birthday_month": "4", "birthday_day": "4", "birthday_year": "1700"},
            "birthday_year",
            "Enter a year between",
        ),
        ({"birthday_month": "13", "birthday_day": "4"}, "birthday_month", "Select a valid choice"),
    ],
)
def test_an_impossible_birthday_is_shown_in_the_form_and_nothing_changes(
    member_client, web_member, fields, field, message
):
    # when
    response = member_client.post(PROFILE, _form(**fields))

    # then
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert message in " ".join(errors[field])
    assert 'aria-invalid="true"' in response.content.decode()
    web_member.refresh_from_db()
    assert web_member.birthday_month is None
    assert web_member.delight == Member.Delight.GREETING


def test_changing_the_password_needs_the_old_one(member_client, web_member):
    # when
    wrong = member_client.post(
        reverse("members:password_change"),
        {
            "old_password": "nope",
            "new_password1": "New-pass-12345",
            "new_password2": "New-pass-12345",
        },
    )
    right = member_client.post(
        reverse("members:password_change"),
        {
            "old_password": PASSWORD,
            "new_password1": "New-pass-12345",
            "new_password2": "New-pass-12345",
        },
    )

    # then
    assert wrong.status_code == 200
    assert right.status_code == 302
    assert right["Location"] == PROFILE
    web_member.user.refresh_from_db()
    assert web_member.user.check_password("New-pass-12345")
    assert member_client.get(PROFILE).status_code == 200  # still logged in


def test_download_my_data_is_a_json_file_of_profile_ledger_and_vouchers(
    member_client, web_member, tiers
):
    # given
    factories.give_points(web_member, 200)
    reward = factories.make_reward(slug="free-coffee", name_en="Free coffee", points_cost=150)
    voucher = reward_redeem(member=web_member, reward=reward).voucher

    # when
    response = member_client.get(reverse("members:data_download"))

    # then
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"] == (
        f'attachment; filename="loyalty-{web_member.member_number}.json"'
    )
    data = json.loads(response.content)
    assert data["profile"]["email"] == "ieva@example.com"
    assert data["profile"]["member_number"] == web_member.member_number
    assert data["profile"]["points_balance"] == 50
    assert [(e["kind"], e["points"]) for e in data["ledger"]] == [("gift", 200), ("spend", -150)]
    assert data["vouchers"] == [
        {
            "code": voucher.code,
            "reward": "Free coffee",
            "points_spent": 150,
            "status": "issued",
            "issued_at": voucher.created_at.isoformat(),
            "valid_until": voucher.expires_on.isoformat(),
            "used_at": None,
            "redeemed_at": voucher.redemption.created_at.isoformat(),
            "redeemed_at_partner": None,
            "cancelled_at": None,
            "cancel_reason": "",
        }
    ]
    assert timezone.datetime.fromisoformat(data["exported_at"])


@time_machine.travel(datetime(2026, 6, 10, 12, tzinfo=UTC))
def test_a_birthday_in_the_future_is_shown_in_the_form_and_nothing_changes(
    member_client, web_member
):
    # given: tomorrow, with its year
    fields = {"birthday_month": "6", "birthday_day": "11", "birthday_year": "2026"}
    # when
    response = member_client.post(PROFILE, _form(**fields))
    # then
    assert response.status_code == 200
    assert "A birthday cannot be in the future." in response.context["form"].errors["birthday_year"]
    web_member.refresh_from_db()
    assert web_member.birthday_month is None
