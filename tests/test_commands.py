"""The management commands: seed_demo and create_partner."""

import random
from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from dateutil.relativedelta import relativedelta
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from accounts.management.commands.create_partner import Command as CreatePartnerCommand
from accounts.models import Member, Partner, PartnerApiKey, User
from accounts.services import api_key_authenticate
from loyalty.base.languages import LANGUAGE_CODES
from loyalty.core import demo as core_demo
from loyalty.core.models import EarningRule, LedgerEntry, Purchase, PurchaseLine, Refund, Tier
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    """seed_demo stores the demo reward images: keep them out of the repository."""
    settings.MEDIA_ROOT = tmp_path / "media"


def run(command: str, *args, **options) -> str:
    out = StringIO()
    call_command(command, *args, stdout=out, **options)
    return out.getvalue()


def model_counts() -> dict[str, int]:
    return {model._meta.label: model.objects.count() for model in apps.get_models()}


# --- seed_demo -----------------------------------------------------------------------------------


def test_seed_demo_creates_the_tiers():
    # when
    run("seed_demo")

    # then
    tiers = list(
        Tier.objects.order_by("rank").values_list(
            "code", "name", "rank", "qualifying_points", "earn_multiplier", "discount_percent"
        )
    )
    assert tiers == [
        ("bronze", "Bronze", 0, 0, Decimal("1.00"), Decimal("0.00")),
        ("silver", "Silver", 1, 500, Decimal("1.25"), Decimal("5.00")),
        ("gold", "Gold", 2, 1500, Decimal("1.50"), Decimal("10.00")),
    ]
    benefit_fields = [f"benefits_{code}" for code in LANGUAGE_CODES]
    assert all(all(texts) for texts in Tier.objects.values_list(*benefit_fields))


def test_seed_demo_creates_the_earning_rules():
    # when
    run("seed_demo")

    # then
    rules = {
        rule.name: (rule.points_per_unit, rule.multiplier, rule.category, rule.partner_id)
        for rule in EarningRule.objects.all()
    }
    assert rules == {
        "1 point per euro": (Decimal("1.000"), None, "", None),
        "2 points per euro on coffee": (Decimal("2.000"), None, "coffee", None),
        "Double points weekend": (Decimal("0.000"), Decimal("2.00"), "", None),
    }
    promotion = EarningRule.objects.get(name="Double points weekend")
    assert promotion.valid_from.weekday() == 5
    assert promotion.valid_until - promotion.valid_from == timedelta(days=1)
    assert promotion.valid_until < timezone.localdate()


def test_seed_demo_creates_the_partner_whose_demo_key_authenticates():
    # when
    run("seed_demo")

    # then
    partner = Partner.objects.get()
    assert (partner.name, partner.currency, partner.is_active) == ("Demo Shop", "EUR", True)
    key = api_key_authenticate("demo.loyalty-demo-partner-key-0000000000000000")
    assert key is not None
    assert key.partner == partner
    assert key.prefix == "demo"
    assert PartnerApiKey.objects.count() == 1


def test_seed_demo_creates_the_staff_superuser():
    # when
    run("seed_demo")

    # then
    staff = User.objects.get(email="staff@example.com")
    assert (staff.is_staff, staff.is_superuser, staff.is_active) == (True, True, True)
    assert staff.check_password("loyalty-staff")
    assert not hasattr(staff, "member")


def test_seed_demo_creates_the_member_with_two_years_of_history():
    # given
    today = timezone.localdate()

    # when
    run("seed_demo")

    # then
    member = Member.objects.select_related("user", "tier").get()
    user = member.user
    assert (user.email, user.first_name, user.last_name) == (
        "member@example.com",
        "Ona",
        "Jonaitė",
    )
    assert user.check_password("loyalty-member")
    assert member.language == "en"
    assert (member.birthday_year, member.birthday_month, member.birthday_day) == (1990, 5, 14)
    # two years ago today: the demo's first anniversary run thanks her
    assert member.joined_on == today - relativedelta(years=2)
    purchases = Purchase.objects.filter(member=member)
    assert purchases.count() > 20
    assert purchases.filter(occurred_at__lt=timezone.now() - timedelta(days=300)).exists()
    assert not purchases.filter(occurred_at__gt=timezone.now()).exists()
    assert PurchaseLine.objects.filter(purchase__member=member, category="coffee").exists()
    assert member.points_balance > 0
    entries = LedgerEntry.objects.filter(member=member)
    months = {
        timezone.localtime(at).strftime("%Y-%m")
        for at in entries.values_list("created_at", flat=True)
    }
    assert len(months) >= 10


def test_seed_demo_history_has_a_refund_an_adjustment_and_a_promotion():
    # when
    run("seed_demo")

    # then
    refund = Refund.objects.select_related("purchase").get()
    assert refund.amount == refund.purchase.amount
    assert refund.points_reversed == refund.purchase.points_earned
    assert refund.created_at > refund.purchase.occurred_at
    reversal = LedgerEntry.objects.get(kind=LedgerEntry.Kind.REVERSAL)
    assert reversal.points == -refund.points_reversed
    adjustment = LedgerEntry.objects.get(kind=LedgerEntry.Kind.ADJUST)
    assert adjustment.points == 50
    assert adjustment.staff_user.email == "staff@example.com"
    assert adjustment.reason
    promotion = EarningRule.objects.get(name="Double points weekend")
    promoted = {
        p.pk for p in Purchase.objects.all() if any(e["type"] == "promotion" for e in p.explanation)
    }
    in_window = set(
        Purchase.objects.filter(
            occurred_at__date__range=(promotion.valid_from, promotion.valid_until)
        ).values_list("pk", flat=True)
    )
    assert promoted == in_window
    assert len(promoted) >= 1


def test_seed_demo_history_follows_the_fixed_seed():
    # given
    today = timezone.localdate()

    # when
    run("seed_demo")

    # then
    promotion_day = EarningRule.objects.get(name="Double points weekend").valid_from
    planned = core_demo.plan_purchases(
        today=today, rng=random.Random(core_demo.HISTORY_SEED), promotion_day=promotion_day
    )
    again = core_demo.plan_purchases(
        today=today, rng=random.Random(core_demo.HISTORY_SEED), promotion_day=promotion_day
    )
    assert planned == again
    recorded = list(Purchase.objects.order_by("occurred_at").values_list("occurred_at", "amount"))
    # her first year's few purchases, then the planned year
    first_year = len(core_demo.FIRST_YEAR)
    assert [amount for _at, amount in recorded[:first_year]] == [
        amount for _days, amount in core_demo.FIRST_YEAR
    ]
    assert recorded[first_year:] == [(p.at, p.amount) for p in planned]


def test_seed_demo_twice_changes_nothing():
    # given
    run("seed_demo")
    counts = model_counts()
    balance = Member.objects.get().points_balance

    # when
    output = run("seed_demo")

    # then
    assert model_counts() == counts
    assert Member.objects.get().points_balance == balance
    assert output.splitlines()[0] == "The demo data is already there; nothing was changed."


def test_seed_demo_first_run_says_what_it_created():
    # when
    output = run("seed_demo")

    # then
    purchases = Purchase.objects.count()
    assert output.splitlines()[0] == (
        "Demo data created: 3 tiers, 3 earning rules, 1 partner, 1 API key, 1 staff user, "
        f"1 member, {purchases} purchases, 1 refund, 1 points adjustment, 5 rewards, "
        "1 redemption, 2 answer templates, 2 feedback items, 1 survey invitation, "
        "2 past job runs."
    )


def test_seed_demo_adds_only_what_is_missing():
    # given: a database with tiers already configured
    tiers = factories.make_tiers()

    # when
    output = run("seed_demo")

    # then
    assert Tier.objects.count() == 3
    assert output.startswith("Demo data created: 3 earning rules, 1 partner, 1 API key,")
    assert set(Tier.objects.values_list("pk", flat=True)) == {t.pk for t in tiers.values()}
    assert Member.objects.get().tier_id in {t.pk for t in tiers.values()}


@pytest.mark.parametrize("times", [1, 2])
def test_seed_demo_output_names_the_logins_and_the_key(times):
    # given
    for _ in range(times - 1):
        run("seed_demo")

    # when
    output = run("seed_demo")

    # then
    member = Member.objects.get()
    key = "demo.loyalty-demo-partner-key-0000000000000000"
    assert "http://127.0.0.1:8000/\n" in output
    assert "http://127.0.0.1:8000/admin/  log in as staff@example.com / loyalty-staff" in output
    assert (
        "member@example.com / loyalty-member  "
        f"(member number {member.member_number}, {member.tier.name}, "
        f"{member.points_balance} points)"
    ) in output
    assert f"API key {key}" in output
    assert output.splitlines()[-1] == (
        f'  curl -H "Authorization: Api-Key {key}" '
        f"http://127.0.0.1:8000/api/v1/members/{member.member_number}/"
    )


# --- create_partner ----------------------------------------------------------------------------


def test_create_partner_prints_the_new_key_last():
    # when
    output = run("create_partner", "Corner Shop", "--currency", "PLN", "--key-name", "Till 1")

    # then
    partner = Partner.objects.get()
    assert (partner.name, partner.currency) == ("Corner Shop", "PLN")
    raw_key = output.splitlines()[-1]
    assert output.endswith(raw_key + "\n")
    key = api_key_authenticate(raw_key)
    assert key is not None
    assert (key.partner, key.name) == (partner, "Till 1")
    assert raw_key.startswith(key.prefix + ".")
    assert raw_key not in output.splitlines()[:-1]


def test_create_partner_defaults_to_the_program_currency(settings):
    # given
    settings.LOYALTY_CURRENCY = "EUR"

    # when
    output = run("create_partner", "Web Shop")

    # then
    partner = Partner.objects.get()
    assert partner.currency == "EUR"
    assert api_key_authenticate(output.splitlines()[-1]).partner == partner
    assert PartnerApiKey.objects.get().name == "Initial key"


def test_create_partner_with_a_taken_name_creates_nothing():
    # given
    existing = factories.make_partner("Corner Shop")

    # when
    with pytest.raises(CommandError) as error:
        run("create_partner", "corner shop")

    # then
    assert str(error.value) == "Could not create the partner: A partner with this name exists."
    assert list(Partner.objects.all()) == [existing]
    assert PartnerApiKey.objects.count() == 0


def test_create_partner_with_an_unknown_currency_creates_nothing():
    # when
    with pytest.raises(CommandError) as error:
        run("create_partner", "Corner Shop", "--currency", "EURO")

    # then
    assert str(error.value) == (
        "Could not create the partner: The currency is not an ISO 4217 code."
    )
    assert Partner.objects.count() == 0
    assert PartnerApiKey.objects.count() == 0


def test_create_partner_error_exits_non_zero_without_a_traceback(capsys, monkeypatch):
    # given
    factories.make_partner("Corner Shop")
    # run_from_argv closes the connections when done; keep the test's transaction open.
    monkeypatch.setattr("django.core.management.base.connections.close_all", lambda: None)

    # when
    with pytest.raises(SystemExit) as exit_:
        CreatePartnerCommand().run_from_argv(["manage.py", "create_partner", "Corner Shop"])

    # then
    assert exit_.value.code == 1
    captured = capsys.readouterr()
    assert captured.err == (
        "CommandError: Could not create the partner: A partner with this name exists.\n"
    )
    assert captured.out == ""
    assert Partner.objects.count() == 1
