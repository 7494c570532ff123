"""The birthday gift settings: one row staff edit in the admin, read by the birthday job, first
filled from the environment variables by the migration that made it."""

import importlib
from datetime import date
from decimal import Decimal

import pytest
from django.apps import apps
from django.urls import reverse

from accounts.services import member_set_birthday
from loyalty.core import jobs
from rewards.models import BirthdayGiftSettings, CardTemplate, OccasionGrant, Redemption
from tests import factories
from tests.jobs.conftest import enroll, travel

pytestmark = pytest.mark.django_db

seed = importlib.import_module("rewards.migrations.0004_seed_card_templates_birthday_settings")


def _birthday_member(birthday: str, **kwargs):
    member = enroll(joined_on=date(2024, 1, 10), **kwargs)
    with travel(date(2025, 1, 1)):
        member_set_birthday(member=member, birthday=birthday)
    return member


def _edit(admin_client, **fields):
    row = BirthdayGiftSettings.current()
    data = {
        "points": row.points,
        "discount_reward": row.discount_reward_id or "",
        "surprise_rewards": [],
        "donation_amount": row.donation_amount,
        "donation_cause": row.donation_cause,
        **fields,
    }
    return admin_client.post(reverse("admin:rewards_birthdaygiftsettings_change", args=[1]), data)


def test_the_birthday_job_gives_what_staff_set_in_the_admin(admin_client, tiers):
    # given: staff change the points and name a discount reward
    reward = factories.make_reward(slug="birthday-cake", name_en="A cake", points_cost=200)
    greeting = _birthday_member("06-15")
    discount = _birthday_member("06-15", delight="discount")
    response = _edit(admin_client, points=250, discount_reward=reward.pk)
    assert response.status_code == 302
    # when
    jobs.job_run(name="birthdays", day=date(2026, 6, 15))
    # then
    assert OccasionGrant.objects.get(member=greeting).points == 250
    grant = OccasionGrant.objects.get(member=discount)
    assert (grant.gift, grant.redemption) == ("voucher", Redemption.objects.get(reward=reward))


def test_a_donation_set_in_the_admin_is_made(admin_client, tiers):
    # given
    member = _birthday_member("07-01", delight="donation")
    _edit(admin_client, donation_amount="3.00", donation_cause="the river clean-up")
    # when
    jobs.job_run(name="birthdays", day=date(2026, 7, 1))
    # then
    grant = OccasionGrant.objects.get(member=member)
    assert (grant.gift, grant.donation_amount, grant.donation_cause) == (
        "donation",
        Decimal("3.00"),
        "the river clean-up",
    )


def test_points_set_to_zero_send_a_card_only(admin_client, tiers):
    # given
    member = _birthday_member("07-02")
    _edit(admin_client, points=0)
    # when
    jobs.job_run(name="birthdays", day=date(2026, 7, 2))
    # then
    grant = OccasionGrant.objects.get(member=member)
    assert (grant.gift, grant.points) == ("card", 0)


def test_a_negative_donation_is_refused_on_the_form(admin_client):
    # when
    response = _edit(admin_client, donation_amount="-1")
    # then
    assert response.status_code == 200
    assert "donation_amount" in response.context["adminform"].form.errors


def test_the_settings_are_one_row_that_cannot_be_added_again_or_deleted(admin_client):
    # given
    BirthdayGiftSettings.objects.get_or_create(pk=1)
    # when
    listing = admin_client.get(reverse("admin:rewards_birthdaygiftsettings_changelist"))
    add = admin_client.get(reverse("admin:rewards_birthdaygiftsettings_add"))
    delete = admin_client.post(
        reverse("admin:rewards_birthdaygiftsettings_delete", args=[1]), {"post": "yes"}
    )
    # then
    assert listing.status_code == 302
    assert listing["Location"] == reverse("admin:rewards_birthdaygiftsettings_change", args=[1])
    assert (add.status_code, delete.status_code) == (403, 403)
    assert BirthdayGiftSettings.objects.count() == 1


def test_without_the_row_the_job_gives_the_default_points(tiers):
    # given: a database without the row (flushed)
    BirthdayGiftSettings.objects.all().delete()
    member = _birthday_member("07-03", delight="surprise")
    # when
    jobs.job_run(name="birthdays", day=date(2026, 7, 3))
    # then
    assert OccasionGrant.objects.get(member=member).points == 100


# --- the data migration -------------------------------------------------------------------------


def test_the_migration_takes_the_first_values_from_the_environment(settings):
    # given: a deployment that set the variables
    coffee = factories.make_reward(slug="birthday-coffee")
    cake = factories.make_reward(slug="surprise-cake")
    tea = factories.make_reward(slug="surprise-tea")
    settings.LOYALTY_BIRTHDAY_POINTS = 80
    settings.LOYALTY_BIRTHDAY_DISCOUNT_REWARD = "birthday-coffee"
    settings.LOYALTY_BIRTHDAY_SURPRISE_REWARDS = ["surprise-cake", "surprise-tea", "gone"]
    settings.LOYALTY_BIRTHDAY_DONATION_AMOUNT = "7.50"
    settings.LOYALTY_BIRTHDAY_DONATION_CAUSE = " the city animal shelter "
    BirthdayGiftSettings.objects.all().delete()
    # when
    seed.seed_birthday_settings(apps, None)
    # then
    row = BirthdayGiftSettings.objects.get()
    assert (row.pk, row.points, row.discount_reward) == (1, 80, coffee)
    assert set(row.surprise_rewards.all()) == {cake, tea}
    assert (row.donation_amount, row.donation_cause) == (
        Decimal("7.50"),
        "the city animal shelter",
    )


def test_the_migration_keeps_a_bad_donation_amount_as_no_donation(settings):
    # given
    settings.LOYALTY_BIRTHDAY_DONATION_AMOUNT = "five"
    BirthdayGiftSettings.objects.all().delete()
    # when
    seed.seed_birthday_settings(apps, None)
    # then
    row = BirthdayGiftSettings.objects.get()
    assert (row.points, row.discount_reward, row.donation_amount) == (100, None, Decimal("0"))


def test_the_migration_seeds_four_cards_in_all_six_languages():
    # given
    CardTemplate.objects.all().delete()
    # when
    seed.seed_card_templates(apps, None)
    seed.seed_card_templates(apps, None)  # (a second run adds nothing)
    # then
    names = list(CardTemplate.objects.order_by("name").values_list("name", flat=True))
    assert names == ["Congratulations", "Just because", "Sorry for the trouble",
                     "Thank you for being with us"]  # fmt: skip
    for card in CardTemplate.objects.all():
        titles = {getattr(card, f"title_{code}") for code in ("en", "lt", "bg", "da", "ru", "pl")}
        texts = [getattr(card, f"text_{code}") for code in ("en", "lt", "bg", "da", "ru", "pl")]
        assert len(titles) == 6 and all(titles), card.name
        assert len(set(texts)) == 6 and all(texts), card.name
        assert len({"{name}" in text for text in texts}) == 1, card.name
