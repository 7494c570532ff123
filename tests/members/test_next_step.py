"""The dashboard leads with the next step: the nearest reward, the saving goal, the next tier,
and an honest welcome for a member with nothing to look back on yet."""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from accounts.models import Member
from loyalty.core.models import Tier
from loyalty.core.purchases import purchase_record
from members.selectors import _tier_progress, member_dashboard
from rewards.goals import saving_goal_clear, saving_goal_set
from rewards.models import SavingGoal
from tests import factories

DASHBOARD = reverse("members:dashboard")
REWARDS = reverse("members:rewards")


def _dashboard(client) -> str:
    return client.get(DASHBOARD).content.decode()


# --- the nearest reward ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("balance", "line", "progress"),
    [
        (0, "150 more points to “Coffee”", 'max="150" value="0"'),
        (149, "1 more point to “Coffee”", 'max="150" value="149"'),
    ],
)
def test_the_nearest_reward_says_how_many_points_are_missing(
    member_client, web_member, balance, line, progress
):
    # given: the cheapest reward costs 150, a dearer one 400
    factories.make_reward(slug="coffee", name_en="Coffee", points_cost=150)
    factories.make_reward(slug="cake", name_en="Cake", points_cost=400)
    if balance:
        factories.give_points(web_member, balance)

    # when
    html = _dashboard(member_client)

    # then
    assert line in html
    assert f'<progress id="next-reward-progress" {progress}>' in html
    assert "You can redeem" not in html
    assert "Spend them on a reward" not in html


def test_exactly_the_cost_can_redeem_it_now_and_the_next_one_is_named(member_client, web_member):
    # given
    factories.make_reward(slug="coffee", name_en="Coffee", points_cost=150)
    factories.make_reward(slug="cake", name_en="Cake", points_cost=400)
    factories.give_points(web_member, 150)

    # when
    html = _dashboard(member_client)

    # then
    assert "You can redeem “Coffee” now." in html
    assert 'href="/rewards/coffee/redeem/"' in html
    assert "250 more points to “Cake”" in html


def test_several_affordable_rewards_name_the_dearest(member_client, web_member):
    # given
    factories.make_reward(slug="coffee", name_en="Coffee", points_cost=150)
    factories.make_reward(slug="cake", name_en="Cake", points_cost=400)
    factories.give_points(web_member, 500)

    # when
    html = _dashboard(member_client)

    # then
    assert "You can redeem 2 rewards now, such as “Cake”." in html
    assert "more point" not in html


def test_a_discounted_cost_is_the_members_own(member_client, web_member, tiers):
    # given: Silver pays 5% less: 150 costs them 142
    Member.objects.filter(pk=web_member.pk).update(tier=tiers["silver"])
    factories.make_reward(slug="coffee", name_en="Coffee", points_cost=150)
    factories.give_points(web_member, 141)

    # when
    html = _dashboard(member_client)

    # then
    assert "1 more point to “Coffee”" in html


@pytest.mark.parametrize("case", ["nothing at all", "out of stock", "inactive", "for gold only"])
def test_no_reward_open_to_the_member_is_said_honestly(member_client, web_member, tiers, case):
    # given
    if case == "out of stock":
        factories.make_reward(slug="coffee", name_en="Coffee", points_cost=10, stock=0)
    elif case == "inactive":
        factories.make_reward(slug="coffee", name_en="Coffee", points_cost=10, is_active=False)
    elif case == "for gold only":
        factories.make_reward(
            slug="coffee", name_en="Coffee", points_cost=10, min_tier=tiers["gold"]
        )
    factories.give_points(web_member, 50)

    # when
    html = _dashboard(member_client)

    # then
    assert "No reward is on offer for you right now; your points keep." in html
    assert "Coffee" not in html
    assert "You can redeem" not in html


def test_a_reward_for_a_higher_tier_says_how_far_that_tier_is(member_client, web_member, tiers):
    # given: Gold needs 1,500 qualifying points; the member has 1,180 from purchases
    factories.make_rule(name="One point per euro")
    purchase_record(
        partner=factories.make_partner("Bakery"),
        member=web_member,
        external_id="P1",
        amount=Decimal("1180.00"),
        currency="EUR",
    )
    factories.make_reward(slug="lounge", name_en="Lounge", points_cost=10, min_tier=tiers["gold"])

    # when
    html = member_client.get(REWARDS).content.decode()

    # then
    assert "For Gold members and above." in html
    assert "You are 320 qualifying points away from Gold." in html
    assert "save-for" not in html  # no saving for what the tier does not allow


# --- the saving goal ------------------------------------------------------------------------


def test_a_member_picks_a_reward_to_save_for_and_the_dashboard_shows_it(member_client, web_member):
    # given
    factories.make_reward(slug="coffee", name_en="Coffee", points_cost=150)
    factories.make_reward(slug="bike", name_en="Bike", points_cost=5000)
    factories.give_points(web_member, 1200)
    assert 'action="/rewards/bike/save-for/"' in member_client.get(REWARDS).content.decode()

    # when
    response = member_client.post(reverse("members:saving_goal_set", args=["bike"]), follow=True)

    # then
    assert SavingGoal.objects.get(member=web_member).reward.slug == "bike"
    assert "You are saving for “Bike”" in response.content.decode()
    assert "You are saving for this" in response.content.decode()
    html = _dashboard(member_client)
    assert "You are saving for" in html
    assert "3,800 more points to “Bike”" in html
    assert '<progress id="goal-progress" max="5000" value="1200">' in html


def test_a_goal_reached_offers_to_redeem_it(member_client, web_member):
    # given
    bike = factories.make_reward(slug="bike", name_en="Bike", points_cost=500)
    saving_goal_set(member=web_member, reward=bike)
    factories.give_points(web_member, 500)

    # when
    html = _dashboard(member_client)

    # then
    assert "You have enough for “Bike”." in html
    assert "goal-progress" not in html


def test_choosing_another_goal_replaces_it_and_clearing_removes_it(member_client, web_member):
    # given
    bike = factories.make_reward(slug="bike", name_en="Bike", points_cost=500)
    saving_goal_set(member=web_member, reward=bike)
    factories.make_reward(slug="boat", name_en="Boat", points_cost=900)

    # when
    member_client.post(reverse("members:saving_goal_set", args=["boat"]))

    # then
    assert list(SavingGoal.objects.values_list("reward__slug", flat=True)) == ["boat"]

    # when
    response = member_client.post(reverse("members:saving_goal_clear"), follow=True)

    # then
    assert not SavingGoal.objects.exists()
    assert "You are no longer saving for a reward." in response.content.decode()
    assert "You are saving for" not in _dashboard(member_client)
    assert saving_goal_clear(member=web_member) is False


def test_a_goal_for_a_tier_the_member_lacks_is_refused(member_client, web_member, tiers):
    # given
    factories.make_reward(slug="lounge", name_en="Lounge", points_cost=10, min_tier=tiers["gold"])

    # when
    response = member_client.post(reverse("members:saving_goal_set", args=["lounge"]), follow=True)

    # then
    assert not SavingGoal.objects.exists()
    assert "tier" in response.content.decode().lower()


def test_a_goal_is_chosen_by_post_only(member_client, web_member):
    # given
    factories.make_reward(slug="bike", name_en="Bike", points_cost=500)

    # when
    response = member_client.get(reverse("members:saving_goal_set", args=["bike"]))

    # then
    assert response.status_code == 405
    assert not SavingGoal.objects.exists()


def test_a_goal_that_leaves_the_catalogue_is_not_shown(member_client, web_member):
    # given
    bike = factories.make_reward(slug="bike", name_en="Bike", points_cost=500)
    saving_goal_set(member=web_member, reward=bike)
    bike.is_active = False
    bike.save(update_fields=["is_active"])

    # when
    html = _dashboard(member_client)

    # then
    assert "You are saving for" not in html
    assert SavingGoal.objects.filter(member=web_member).exists()


# --- the next tier --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "qualifying", "next_code", "needed"),
    [
        (None, 0, "bronze", 0),  # no tier yet: the first one, which asks for nothing
        ("bronze", 0, "silver", 500),
        ("bronze", 499, "silver", 1),
        ("bronze", 500, "silver", 0),  # exactly at the threshold: theirs with the next purchase
        ("bronze", 900, "silver", 0),
        ("silver", 1499, "gold", 1),
        ("gold", 5000, None, 0),  # the top
    ],
)
def test_the_next_tier_at_its_edges(tiers, current, qualifying, next_code, needed):
    # when
    progress = _tier_progress(list(Tier.objects.order_by("rank")), tiers.get(current), qualifying)

    # then
    assert (progress.next.code if progress.next else None) == next_code
    assert progress.needed == needed
    assert 0 <= progress.value <= progress.max


def test_no_tiers_at_all_shows_no_tier_box(db, client):
    # given: a program without tiers
    member = factories.make_member(email="no.tiers@example.com", language="en")
    client.force_login(member.user)

    # when
    html = _dashboard(client)

    # then
    assert "Your tier" not in html
    assert "highest tier" not in html


def test_the_next_tier_in_points_and_in_words(member_client, web_member):
    # given: one purchase of 100 points; Silver needs 500
    factories.make_rule(name="One point per euro")
    purchase_record(
        partner=factories.make_partner("Bakery"),
        member=web_member,
        external_id="P1",
        amount=Decimal("100.00"),
        currency="EUR",
    )

    # when
    html = _dashboard(member_client)

    # then
    assert "400 points to Silver" in html
    assert "That is about 4 more purchases like your last one." in html


def test_exactly_at_the_threshold_the_tier_comes_with_the_next_purchase(
    member_client, web_member, tiers
):
    # given: 500 qualifying points, still Bronze (the tier moves on the next purchase)
    factories.make_rule(name="One point per euro")
    purchase_record(
        partner=factories.make_partner("Bakery"),
        member=web_member,
        external_id="P1",
        amount=Decimal("500.00"),
        currency="EUR",
    )
    Member.objects.filter(pk=web_member.pk).update(tier=tiers["bronze"])

    # when
    html = _dashboard(member_client)

    # then
    assert "You qualify for Silver: it is yours with your next purchase." in html
    assert "more purchase" not in html


# --- a new member ---------------------------------------------------------------------------


def test_a_member_who_joined_today_gets_a_welcome_not_an_empty_chart(member_client, web_member):
    # given: a new member, and a reward above their points
    factories.make_reward(slug="coffee", name_en="Coffee", points_cost=150)

    # when
    response = member_client.get(DASHBOARD)

    # then
    html = response.content.decode()
    assert response.context["dash"].is_new
    assert "Welcome to the program" in html
    assert "balance-chart" not in html
    assert "Your balance over the last 12 months" not in html
    assert "150 more points to “Coffee”" in html
    assert "Spend them on a reward" not in html


def test_one_month_of_activity_draws_no_chart_two_months_do(member_client, web_member):
    # given
    factories.give_points(web_member, 50)

    # when
    one_month = _dashboard(member_client)
    with time_machine.travel(timezone.now() - timedelta(days=40)):
        factories.give_points(web_member, 50)
    two_months = _dashboard(member_client)

    # then
    assert "balance-chart" not in one_month
    assert "Welcome to the program" not in one_month
    assert '<svg class="balance-chart"' in two_months


def test_the_selector_reads_the_goal_with_the_rewards(web_member, django_assert_num_queries):
    # given
    bike = factories.make_reward(slug="bike", name_en="Bike", points_cost=500)
    saving_goal_set(member=web_member, reward=bike)
    member = Member.objects.select_related("tier").get(pk=web_member.pk)

    # when
    with django_assert_num_queries(6):
        dash = member_dashboard(member=member)

    # then
    assert dash.rewards.goal.reward == bike
    assert dash.rewards.next.reward == bike
