"""The rule simulator: a draft replayed over the last 12 months of purchases, against numbers
worked out by hand; drafts never touch live earning; publishing applies them once."""

import itertools
from datetime import date, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from insights import drafts, services, simulator
from insights.draft_models import RuleDraft, Simulation
from insights.errors import DraftPublished, DraftStale
from loyalty.base.errors import InvalidInput, NotAllowed
from loyalty.core import roles
from loyalty.core.models import EarningRule, PointLot, Tier
from loyalty.core.pauses import pause_request
from loyalty.core.purchases import purchase_record
from tests import factories

from .helpers import noon

pytestmark = pytest.mark.django_db

TODAY = date.today()
_ids = itertools.count(1)


def buy(member, partner, days_ago: int, amount: str, lines=None):
    with time_machine.travel(noon(TODAY - timedelta(days=days_ago)), tick=False):
        return purchase_record(
            partner=partner,
            member=member,
            external_id=f"s-{next(_ids)}",
            amount=Decimal(amount),
            currency=partner.currency,
            lines=lines,
        )


def line(category: str, amount: str) -> dict:
    return {"sku": category.upper(), "quantity": 1, "amount": Decimal(amount), "category": category}


def staff(role: str, email: str) -> User:
    user = User.objects.create_user(email=email, password="x", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    return User.objects.get(pk=user.pk)  # permissions are read afresh


@pytest.fixture
def marketing(db):
    return staff(roles.MARKETING, "marketing@example.com")


@pytest.fixture
def manager(db):
    return staff(roles.MANAGERS, "manager@example.com")


@pytest.fixture
def program(tiers, partner, base_rule, manager):
    """Bronze ×1, Silver ×1.25 from 500, Gold ×1.5 from 1,500; 1 point per euro, 2 on coffee.

    - Ona (bronze), at the café: 50.00 = coffee 10 + bread 40 → 20 + 40 = 60.
    - Jonas: 500.00 of bread → 500 at bronze, which makes him silver; then 20.00 = coffee 8 +
      bread 12 → (16 + 12) × 1.25 = 35. Qualifying 535.
    - Petras: 510.00, no lines → 510, silver. Rasa: 520.00 → silver, then paused.
    """
    cafe = factories.make_partner("Café")
    coffee = factories.make_rule(name="Coffee", category="coffee", points_per_unit=2)
    ona = factories.make_member(email="ona@example.com")
    jonas = factories.make_member(email="jonas@example.com")
    petras = factories.make_member(email="petras@example.com")
    rasa = factories.make_member(email="rasa@example.com")
    buy(ona, cafe, 60, "50.00", [line("coffee", "10.00"), line("bread", "40.00")])
    buy(jonas, partner, 100, "500.00", [line("bread", "500.00")])
    buy(jonas, partner, 30, "20.00", [line("coffee", "8.00"), line("bread", "12.00")])
    buy(petras, partner, 90, "510.00")
    buy(rasa, partner, 80, "520.00")
    pause_request(member=rasa, months=2)
    services.policy_update(staff=manager, point_value=Decimal("0.02"))
    return {
        "shop": partner,
        "cafe": cafe,
        "coffee": coffee,
        "ona": ona,
        "jonas": jonas,
        "petras": petras,
        "rasa": rasa,
        "tiers": tiers,
    }


def rule_values(rule: EarningRule, **changes) -> dict:
    values = {name: drafts.live_value(rule, name) for name in drafts.RULE_FIELDS}
    return {**values, **changes}


def new_rule(**values) -> dict:
    base = dict.fromkeys(drafts.RULE_FIELDS)
    base.update(is_active=True, category="", points_per_unit=Decimal(0))
    return {**base, **values}


def draft_of(staff_user, *, rule=None, values, kind=RuleDraft.Kind.RULE, title="A try"):
    draft = RuleDraft(title=title, kind=kind)
    return drafts.draft_save(draft=draft, staff=staff_user, values=values, rule=rule)


def simulate(draft, **kwargs):
    return simulator.simulate(
        kind=draft.kind, rule_id=draft.rule_id, changes=draft.changes, **kwargs
    )


def test_the_members_are_where_the_story_says(program):
    tiers = program["tiers"]
    for name, tier, balance in [
        ("ona", "bronze", 60),
        ("jonas", "silver", 535),
        ("petras", "silver", 510),
        ("rasa", "silver", 520),
    ]:
        program[name].refresh_from_db()
        assert (program[name].tier, program[name].points_balance) == (tiers[tier], balance), name


def test_a_rate_change_on_one_category_raises_points_by_exactly_the_coffee(program, marketing):
    # given: coffee at 3 points a euro instead of 2
    draft = draft_of(
        marketing,
        rule=program["coffee"],
        values=rule_values(program["coffee"], points_per_unit=Decimal(3)),
    )
    assert draft.changes == {"points_per_unit": ["2.000", "3.000"]}

    # when
    result = simulate(draft)

    # then: Ona's 10 € of coffee +10; Jonas's 8 € at silver: 8 × 1 × 1.25 = +10
    assert result["points"] == {"now": 1625, "draft": 1645, "recorded": 1625}
    assert (result["purchases"], result["changed_purchases"], result["changed_members"]) == (
        5,
        2,
        2,
    )
    categories = {c["category"]: (c["now"], c["draft"]) for c in result["categories"]}
    assert categories == {"coffee": (40, 60), "bread": (555, 555), "": (1030, 1030)}
    partners = {p["partner"]: (p["now"], p["draft"]) for p in result["partners"]}
    assert partners == {program["cafe"].pk: (60, 70), program["shop"].pk: (1565, 1575)}
    assert sum(m["now"] for m in result["months"]) == 1625
    assert sum(m["draft"] for m in result["months"]) == 1645
    assert len(result["months"]) in (12, 13)
    assert result["months"][-1]["month"] == TODAY.strftime("%Y-%m")
    outstanding = PointLot.objects.aggregate(s=Sum("remaining"))["s"]
    assert result["liability"] == {
        "point_value": "0.020000",
        "outstanding": outstanding,
        "with_draft": outstanding + 20,
        "now": f"{outstanding * Decimal('0.02'):.2f}",
        "draft": f"{(outstanding + 20) * Decimal('0.02'):.2f}",
        "difference": "0.40",
    }
    assert result["tiers"] == {"considered": 2, "up": 0, "down": 0, "moves": []}


def test_the_shortcut_changes_no_number(program, marketing):
    # given: a promotion on bread (it touches some purchases, not others)
    draft = draft_of(
        marketing, values=new_rule(name="Bread ×3", multiplier=Decimal(3), category="bread")
    )
    # when / then
    until = timezone.now()
    assert simulate(draft, until=until, shortcut=True) == simulate(
        draft, until=until, shortcut=False
    )


def test_a_new_promotion_lifts_jonas_to_gold(program, marketing):
    # given: bread earns three times its points
    draft = draft_of(
        marketing, values=new_rule(name="Bread ×3", multiplier=Decimal(3), category="bread")
    )

    # when
    result = simulate(draft)

    # then: Ona 40 → 120 (+80); Jonas 500 → 1,500 (+1,000) and 12 × 1.25 = 15 → 45 (+30)
    assert result["points"]["draft"] - result["points"]["now"] == 1110
    # Jonas: 535 + 1,030 = 1,565 qualifying, past Gold's 1,500
    tiers = program["tiers"]
    assert result["tiers"]["up"] == 1 and result["tiers"]["down"] == 0
    assert result["tiers"]["moves"] == [
        {
            "from": tiers["silver"].pk,
            "to": tiers["gold"].pk,
            "members": 1,
            "sample": [program["jonas"].pk],
        }
    ]


def test_a_lower_threshold_moves_exactly_ona_up(program, manager):
    # given: Silver from 50 qualifying points
    tiers = program["tiers"]
    draft = draft_of(
        manager,
        kind=RuleDraft.Kind.TIERS,
        values={tiers["silver"].pk: {"qualifying_points": 50}},
    )
    assert draft.changes == {str(tiers["silver"].pk): {"qualifying_points": [500, 50]}}

    # when
    result = simulate(draft)

    # then: points unchanged; Ona (60) reaches Silver, nobody else moves
    assert result["points"]["now"] == result["points"]["draft"] == 1625
    assert result["tiers"]["considered"] == 4
    assert (result["tiers"]["up"], result["tiers"]["down"]) == (1, 0)
    [move] = result["tiers"]["moves"]
    assert (move["from"], move["to"], move["sample"]) == (
        tiers["bronze"].pk,
        tiers["silver"].pk,
        [program["ona"].pk],
    )


def test_a_higher_threshold_moves_petras_down_but_not_paused_rasa(program, manager):
    # given: Silver from 530: Petras (510) and Rasa (520, paused) fall below, Jonas (535) not
    tiers = program["tiers"]
    draft = draft_of(
        manager,
        kind=RuleDraft.Kind.TIERS,
        values={tiers["silver"].pk: {"qualifying_points": 530}},
    )

    # when
    result = simulate(draft)

    # then
    assert (result["tiers"]["up"], result["tiers"]["down"]) == (0, 1)
    [move] = result["tiers"]["moves"]
    assert (move["from"], move["to"], move["sample"]) == (
        tiers["silver"].pk,
        tiers["bronze"].pk,
        [program["petras"].pk],
    )


def test_a_tier_multiplier_counts_at_the_tier_of_each_purchase(program, manager):
    # given: Silver earns × 2 instead of × 1.25
    tiers = program["tiers"]
    draft = draft_of(
        manager,
        kind=RuleDraft.Kind.TIERS,
        values={tiers["silver"].pk: {"earn_multiplier": Decimal(2)}},
    )

    # when
    result = simulate(draft)

    # then: only Jonas's second purchase was made at Silver: 28 × 2 = 56, not 35 (the others
    # were made at Bronze, before the upgrade they caused)
    assert result["points"]["draft"] - result["points"]["now"] == 21
    assert result["changed_purchases"] == 1


def test_switching_the_coffee_rule_off(program, marketing):
    draft = draft_of(
        marketing,
        rule=program["coffee"],
        values=rule_values(program["coffee"], is_active=False),
    )
    result = simulate(draft)
    # coffee at 1 point a euro: Ona −10, Jonas −8 × 1.25 = −10
    assert result["points"]["draft"] - result["points"]["now"] == -20


def test_a_draft_never_changes_live_earning(program, marketing):
    # given: a draft of coffee at 3 points a euro
    draft_of(
        marketing,
        rule=program["coffee"],
        values=rule_values(program["coffee"], points_per_unit=Decimal(3)),
    )

    # when: a purchase after it
    result = buy(program["ona"], program["cafe"], 0, "10.00", [line("coffee", "10.00")])

    # then: the live rule (2 a euro)
    assert result.points == 20
    program["coffee"].refresh_from_db()
    assert program["coffee"].points_per_unit == 2


def test_publishing_applies_the_draft_once(program, marketing):
    # given
    draft = draft_of(
        marketing,
        rule=program["coffee"],
        values=rule_values(program["coffee"], points_per_unit=Decimal(3)),
    )

    # when
    drafts.draft_publish(draft=draft, staff=marketing)

    # then: live; a purchase now earns 3 a euro on coffee; a second publish is refused
    draft.refresh_from_db()
    assert (draft.published_by, draft.published_at is not None) == (marketing, True)
    assert buy(program["ona"], program["cafe"], 0, "10.00", [line("coffee", "10.00")]).points == 30
    with pytest.raises(DraftPublished):
        drafts.draft_publish(draft=draft, staff=marketing)
    with pytest.raises(DraftPublished):
        drafts.draft_save(draft=draft, staff=marketing, values={}, rule=program["coffee"])


def test_publishing_a_new_rule_makes_it(program, marketing):
    draft = draft_of(
        marketing, values=new_rule(name="Bread ×3", multiplier=Decimal(3), category="bread")
    )
    drafts.draft_publish(draft=draft, staff=marketing)
    made = EarningRule.objects.get(name="Bread ×3")
    assert (made.multiplier, made.category, made.points_per_unit) == (3, "bread", 0)
    draft.refresh_from_db()
    assert draft.rule == made


def test_a_live_change_after_the_draft_stops_its_publishing(program, marketing):
    # given: a draft, then someone changes the live rate
    coffee = program["coffee"]
    draft = draft_of(marketing, rule=coffee, values=rule_values(coffee, points_per_unit=3))
    EarningRule.objects.filter(pk=coffee.pk).update(points_per_unit=Decimal("2.5"))

    # when / then: refused, nothing written
    with pytest.raises(DraftStale):
        drafts.draft_publish(draft=draft, staff=marketing)
    coffee.refresh_from_db()
    draft.refresh_from_db()
    assert (coffee.points_per_unit, draft.published_at) == (Decimal("2.5"), None)


def test_tiers_are_published_by_managers_only(program, marketing, manager):
    # given
    silver = program["tiers"]["silver"]
    draft = draft_of(
        marketing, kind=RuleDraft.Kind.TIERS, values={silver.pk: {"qualifying_points": 400}}
    )

    # when / then
    with pytest.raises(NotAllowed):
        drafts.draft_publish(draft=draft, staff=marketing)
    assert Tier.objects.get(pk=silver.pk).qualifying_points == 500
    drafts.draft_publish(draft=draft, staff=manager)
    assert Tier.objects.get(pk=silver.pk).qualifying_points == 400


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"points_per_unit": Decimal(1), "multiplier": Decimal(2)}, "points_per_unit"),
        ({"points_per_unit": Decimal(0)}, "points_per_unit"),
        ({"valid_from": date(2026, 5, 1), "valid_until": date(2026, 4, 1)}, "valid_until"),
    ],
)
def test_an_impossible_rule_is_refused(program, marketing, values, field):
    with pytest.raises(InvalidInput) as refused:
        draft_of(marketing, rule=program["coffee"], values=rule_values(program["coffee"], **values))
    assert refused.value.extra["field"] == field
    assert not RuleDraft.objects.exists()


def test_a_draft_that_changes_nothing_or_breaks_the_tier_order_is_refused(program, manager):
    gold = program["tiers"]["gold"]
    with pytest.raises(InvalidInput):
        draft_of(manager, rule=program["coffee"], values=rule_values(program["coffee"]))
    with pytest.raises(InvalidInput):
        draft_of(manager, kind=RuleDraft.Kind.TIERS, values={gold.pk: {"qualifying_points": 100}})
    assert not RuleDraft.objects.exists()


def test_a_simulation_runs_as_a_task_and_keeps_its_result(
    program, marketing, django_capture_on_commit_callbacks
):
    # given
    draft = draft_of(
        marketing,
        rule=program["coffee"],
        values=rule_values(program["coffee"], points_per_unit=Decimal(3)),
    )

    # when: asked twice before it ran
    with django_capture_on_commit_callbacks(execute=True):
        first = drafts.simulation_request(draft=draft, staff=marketing)
        again = drafts.simulation_request(draft=draft, staff=marketing)

    # then: queued once, run after commit, its result kept
    assert again.pk == first.pk
    first.refresh_from_db()
    assert first.status == Simulation.Status.DONE
    assert first.result["points"]["draft"] == 1645
    assert first.result == simulate(draft) | {
        "since": first.result["since"],
        "until": first.result["until"],
    }
    simulator.simulation_run(simulation_id=first.pk)  # delivered twice: nothing more
    assert Simulation.objects.get(pk=first.pk).finished_at == first.finished_at


def test_the_replay_reads_a_constant_number_of_queries(program, marketing, monkeypatch):
    # given: chunks of two purchases
    monkeypatch.setattr(simulator, "CHUNK", 2)
    draft = draft_of(
        marketing,
        rule=program["coffee"],
        values=rule_values(program["coffee"], points_per_unit=Decimal(3)),
    )

    def queries() -> int:
        with CaptureQueriesContext(connection) as seen:
            simulate(draft)
        return len(seen)

    few = queries()
    # when: two more purchases (one more chunk)
    buy(program["ona"], program["cafe"], 5, "5.00")
    buy(program["ona"], program["cafe"], 4, "5.00")
    # then: one chunk more is two queries more (its purchases and their lines)
    assert queries() == few + 2


def test_a_simulation_that_fails_says_so(program, marketing):
    # given: a simulation of changes that cannot be read (kept by an older version, say)
    draft = draft_of(
        marketing,
        rule=program["coffee"],
        values=rule_values(program["coffee"], points_per_unit=Decimal(3)),
    )
    broken = Simulation.objects.create(
        draft=draft, changes={"points_per_unit": ["2.000", "three"]}, requested_by=marketing
    )

    # when
    simulator.simulation_run(simulation_id=broken.pk)

    # then
    broken.refresh_from_db()
    assert (broken.status, broken.error, broken.result) == (
        Simulation.Status.FAILED,
        "ValidationError",
        None,
    )
