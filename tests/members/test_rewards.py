import pytest
from django.urls import reverse

from accounts.models import Member
from rewards.models import Redemption, Voucher
from rewards.services import reward_redeem, voucher_use
from tests import factories

REWARDS = reverse("members:rewards")


@pytest.fixture
def coffee(db):
    return factories.make_reward(
        slug="free-coffee",
        name_en="Free coffee",
        name_da="Gratis kaffe",
        points_cost=150,
        image="rewards/free-coffee.png",
    )


def test_the_catalogue_shows_images_and_the_members_own_cost(
    member_client, web_member, coffee, tiers
):
    # given: Silver pays 5% less; one reward is for Gold only, one is not on offer
    Member.objects.filter(pk=web_member.pk).update(tier=tiers["silver"])
    factories.make_reward(slug="gold-evening", name_en="Gold evening", min_tier=tiers["gold"])
    factories.make_reward(slug="retired", name_en="Retired reward", is_active=False)
    factories.give_points(web_member, 100)

    # when
    html = member_client.get(REWARDS).content.decode()

    # then
    assert '<img src="/media/rewards/free-coffee.png" alt="Free coffee"' in html
    assert "142 points" in html
    assert "(instead of 150: your Silver discount)" in html
    assert "42 more points needed." in html
    assert "For Gold members and above." in html
    assert "Retired reward" not in html


def test_redeeming_asks_first_then_issues_the_voucher(member_client, web_member, coffee):
    # given
    factories.give_points(web_member, 200)
    url = reverse("members:redeem", args=[coffee.slug])

    # when
    confirm = member_client.get(url)

    # then: nothing happens on GET
    assert confirm.status_code == 200
    assert "Yes, redeem for 150 points" in confirm.content.decode()
    assert not Redemption.objects.exists()

    # when
    response = member_client.post(url)

    # then
    voucher = Voucher.objects.get(redemption__member=web_member)
    assert response.status_code == 302
    assert response["Location"] == reverse("members:voucher", args=[voucher.code])
    web_member.refresh_from_db()
    assert web_member.points_balance == 50


def test_a_refused_redemption_says_why_and_changes_nothing(member_client, web_member, coffee):
    # given
    factories.give_points(web_member, 100)

    # when
    response = member_client.post(reverse("members:redeem", args=[coffee.slug]))

    # then
    assert response.status_code == 200
    html = response.content.decode()
    assert 'role="alert"' in html
    assert "You do not have enough points for this reward yet." in html
    web_member.refresh_from_db()
    assert web_member.points_balance == 100
    assert not Redemption.objects.exists()
    assert not Voucher.objects.exists()


def test_an_inactive_reward_cannot_be_redeemed(member_client, web_member):
    # given
    reward = factories.make_reward(slug="gone", is_active=False)

    # when
    response = member_client.get(reverse("members:redeem", args=[reward.slug]))

    # then
    assert response.status_code == 404


def test_the_voucher_page_shows_the_code_as_text_and_as_a_qr_code(
    member_client, web_member, coffee
):
    # given
    factories.give_points(web_member, 150)
    voucher = reward_redeem(member=web_member, reward=coffee).voucher

    # when
    response = member_client.get(reverse("members:voucher", args=[voucher.code]))
    typed = member_client.get(reverse("members:voucher", args=[voucher.display_code.lower()]))

    # then
    html = response.content.decode()
    assert response.status_code == typed.status_code == 200
    assert voucher.display_code in html
    assert '<svg aria-hidden="true" focusable="false" viewBox=' in html
    assert 'class="qr-code"' in html
    assert "Issued" in html
    assert "Show this code at the till." in html


def test_the_voucher_page_shows_a_used_voucher_as_used(member_client, web_member, coffee, partner):
    # given
    factories.give_points(web_member, 150)
    voucher = reward_redeem(member=web_member, reward=coffee).voucher
    voucher_use(code=voucher.code, partner=partner)

    # when
    html = member_client.get(reverse("members:voucher", args=[voucher.code])).content.decode()

    # then
    assert '<span class="tag">Used</span>' in html
    assert "Show this code at the till." not in html


def test_another_members_voucher_is_not_found(member_client, coffee, tiers):
    # given
    other = factories.make_member(email="other@example.com")
    factories.give_points(other, 150)
    voucher = reward_redeem(member=other, reward=coffee).voucher

    # when
    response = member_client.get(reverse("members:voucher", args=[voucher.code]))

    # then
    assert response.status_code == 404


def test_my_vouchers_lists_only_mine(member_client, web_member, coffee, tiers):
    # given
    factories.give_points(web_member, 300)
    mine = [reward_redeem(member=web_member, reward=coffee).voucher for _ in range(2)]
    other = factories.make_member(email="other@example.com")
    factories.give_points(other, 150)
    theirs = reward_redeem(member=other, reward=coffee).voucher

    # when
    html = member_client.get(reverse("members:vouchers")).content.decode()

    # then
    for voucher in mine:
        assert voucher.display_code in html
    assert theirs.display_code not in html
