"""Staff gifts with a card: the "Send a gift" page, what each gift writes, and refusals."""

import pytest
from django.contrib.auth.models import Permission
from django.db import IntegrityError, transaction
from django.urls import reverse

from accounts.models import Member, User
from accounts.services import member_set_status
from loyalty.base.errors import NotAllowed
from loyalty.core.models import LedgerEntry
from notifications.models import Message
from rewards.gifts import gift_send
from rewards.models import CardTemplate, Gift, Redemption, Voucher
from tests import factories

pytestmark = pytest.mark.django_db

LANGUAGES = ("en", "lt", "bg", "da", "ru", "pl")


def make_card(name="Thank you", **overrides) -> CardTemplate:
    fields = {}
    for code in LANGUAGES:
        fields[f"title_{code}"] = f"{name} ({code})"
        fields[f"text_{code}"] = f"[{code}] Thank you, {{name}}, for being with us."
    fields.update(overrides)
    return CardTemplate.objects.create(name=name, **fields)


@pytest.fixture
def card(db):
    return make_card(
        title_lt="Ačiū, kad esate su mumis",
        text_lt="Ačiū, {name}, kad esate su mumis.",
        title_en="Thank you for being with us",
        text_en="Thank you, {name}, for being with us.",
    )


@pytest.fixture
def sender(db):
    """A staff user who may send gifts (and see members), nothing more."""
    user = User.objects.create_user(email="desk@example.com", password="x", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["add_gift", "view_member", "view_gift"])
    )
    return user


@pytest.fixture
def sender_client(client, sender):
    client.force_login(sender)
    return client


def _send_url(member) -> str:
    return reverse("admin:rewards_gift_send", args=[member.pk])


def _post(client, member, **data):
    return client.post(_send_url(member), {"note": "", **data})


def _state(member):
    return (
        Member.objects.get(pk=member.pk).points_balance,
        LedgerEntry.objects.filter(member=member).count(),
        Gift.objects.count(),
        Message.objects.filter(member=member, kind="gift").count(),
        Redemption.objects.count(),
    )


# --- sending each kind ----------------------------------------------------------------------


def test_staff_send_points_with_a_card_in_the_members_language(sender_client, sender, member, card):
    # given: Ona reads the program in Lithuanian
    # when
    response = _post(
        sender_client,
        member,
        what="points",
        points="250",
        template=card.pk,
        note="Labai ačiū už kantrybę!",
    )
    # then
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:accounts_member_change", args=[member.pk])
    gift = Gift.objects.get(member=member)
    assert (gift.what, gift.points, gift.reward, gift.template, gift.sent_by) == (
        "points",
        250,
        None,
        card,
        sender,
    )
    entry = LedgerEntry.objects.get(member=member)
    assert (entry.kind, entry.points, entry.cause) == ("gift", 250, gift)
    member.refresh_from_db()
    assert member.points_balance == 250
    message = Message.objects.get(member=member, kind="gift")
    assert (message.language, message.dedupe_key) == ("lt", f"gift:{gift.pk}")
    assert message.subject == "Ačiū, kad esate su mumis"
    assert "Ačiū, Ona, kad esate su mumis." in message.body
    assert "Labai ačiū už kantrybę!" in message.body
    assert "Thank you" not in message.body


def test_staff_send_a_reward_as_a_voucher(sender_client, member, card):
    # given
    reward = factories.make_reward(slug="cake", name_en="A cake", points_cost=300, stock=2)
    # when
    response = _post(sender_client, member, what="voucher", reward=reward.pk, template=card.pk)
    # then: the gift pays the reward's cost, the redemption spends it
    assert response.status_code == 302
    gift = Gift.objects.get(member=member)
    redemption = Redemption.objects.get(member=member, reward=reward)
    assert (gift.what, gift.points, gift.reward, gift.redemption) == (
        "voucher",
        300,
        reward,
        redemption,
    )
    entries = LedgerEntry.objects.filter(member=member).order_by("id")
    assert list(entries.values_list("kind", "points")) == [("gift", 300), ("spend", -300)]
    assert entries[0].cause == gift
    voucher = Voucher.objects.get(redemption=redemption)
    assert voucher.status == "issued"
    reward.refresh_from_db()
    assert reward.stock == 1
    body = Message.objects.get(member=member, kind="gift").body
    assert voucher.display_code in body
    assert "Ačiū, Ona, kad esate su mumis." in body


def test_staff_send_only_a_card(sender_client, member, card):
    # when
    response = _post(sender_client, member, what="card", points="40", template=card.pk)
    # then: the points typed before choosing "only a card" are not given
    assert response.status_code == 302
    gift = Gift.objects.get(member=member)
    assert (gift.what, gift.points, gift.reward) == ("card", 0, None)
    assert not LedgerEntry.objects.filter(member=member).exists()
    message = Message.objects.get(member=member, kind="gift")
    assert message.subject == "Ačiū, kad esate su mumis"


def test_the_gift_is_in_the_members_history_with_its_card(client, sender, card):
    # given: an English-speaking member got points with a card
    member = factories.make_member(email="ann@example.com", first_name="Ann", language="en")
    gift_send(member=member, what="points", points=120, template=card, staff_user=sender)
    client.force_login(member.user)
    # when
    page = client.get(reverse("members:history")).content.decode()
    # then
    assert "A gift from us: Thank you for being with us" in page


def test_the_member_page_links_to_send_a_gift_only_with_the_permission(
    sender_client, client, member, card
):
    # given
    viewer = User.objects.create_user(email="viewer@example.com", password="x", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_member"))
    url = reverse("admin:accounts_member_change", args=[member.pk])
    # when
    with_permission = sender_client.get(url).content.decode()
    client.force_login(viewer)
    without = client.get(url).content.decode()
    # then
    assert _send_url(member) in with_permission
    assert _send_url(member) not in without


def test_the_page_previews_the_card_in_the_members_language(sender_client, member, card):
    # when
    response = sender_client.get(_send_url(member))
    # then
    page = response.content.decode()
    assert response.status_code == 200
    assert "Ačiū, Ona, kad esate su mumis." in page


# --- refusals ----------------------------------------------------------------------------------


def test_sending_without_the_permission_is_refused(client, member, card):
    # given: staff who may see members but not send gifts
    staff = User.objects.create_user(email="other@example.com", password="x", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_member"))
    client.force_login(staff)
    before = _state(member)
    # when
    page = client.get(_send_url(member))
    post = _post(client, member, what="points", points="100", template=card.pk)
    # then
    assert (page.status_code, post.status_code) == (403, 403)
    assert _state(member) == before


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"what": "points", "points": "0"}, "points"),
        ({"what": "points", "points": "-5"}, "points"),
        ({"what": "points", "points": "10001"}, "points"),
        ({"what": "points", "points": "many"}, "points"),
        ({"what": "points"}, "points"),
        ({"what": "voucher"}, "reward"),
        ({"what": "voucher", "reward": "999999"}, "reward"),
        ({"what": "parcel"}, "what"),
        ({"what": "card", "template": "999999"}, "template"),
        ({"what": "card", "note": "x" * 501}, "note"),
    ],
    ids=lambda value: str(value)[:40],
)
def test_bad_input_gives_form_errors(sender_client, member, card, data, field):
    # given
    before = _state(member)
    # when
    response = _post(sender_client, member, **{"template": card.pk, **data})
    # then
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert _state(member) == before


def test_an_out_of_stock_reward_is_refused_on_the_form(sender_client, member, card):
    # given
    reward = factories.make_reward(slug="gone", points_cost=100, stock=0)
    before = _state(member)
    # when
    response = _post(sender_client, member, what="voucher", reward=reward.pk, template=card.pk)
    # then
    assert response.status_code == 200
    assert response.context["form"].errors["reward"] == ["This reward is out of stock."]
    assert _state(member) == before


def test_an_inactive_reward_cannot_be_chosen(sender_client, member, card):
    # given
    reward = factories.make_reward(slug="old", points_cost=100, is_active=False)
    # when
    response = _post(sender_client, member, what="voucher", reward=reward.pk, template=card.pk)
    # then
    assert response.status_code == 200
    assert "reward" in response.context["form"].errors
    assert not Gift.objects.exists()


def test_a_closed_membership_gets_no_gift(sender_client, member, card, staff_user):
    # given
    member_set_status(member=member, status="closed", staff_user=staff_user, reason="Asked to")
    before = _state(member)
    # when
    response = _post(sender_client, member, what="points", points="100", template=card.pk)
    # then
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == ["The membership is closed."]
    assert _state(member) == before


def test_an_unknown_member_is_not_found(sender_client):
    assert sender_client.get(reverse("admin:rewards_gift_send", args=["nobody"])).status_code == 404
    assert sender_client.get(reverse("admin:rewards_gift_send", args=[987654])).status_code == 404


def test_the_service_refuses_a_user_who_is_not_staff(member, card):
    # given
    outsider = User.objects.create_user(email="outsider@example.com", password="x")
    # when / then
    with pytest.raises(NotAllowed):
        gift_send(member=member, what="points", points=10, template=card, staff_user=outsider)
    assert not Gift.objects.exists()


def test_the_database_refuses_a_gift_whose_fields_do_not_fit_its_kind(member, card, sender):
    # when / then
    for fields in ({"what": "points", "points": 0}, {"what": "card", "points": 5}):
        with pytest.raises(IntegrityError), transaction.atomic():
            Gift.objects.create(member=member, template=card, sent_by=sender, **fields)


# --- the staff list ------------------------------------------------------------------------


def test_the_gift_list_shows_what_was_sent_and_cannot_change_it(
    sender_client, sender, member, card
):
    # given
    gift = gift_send(member=member, what="card", template=card, staff_user=sender, note="Hi")
    # when
    listing = sender_client.get(reverse("admin:rewards_gift_changelist"))
    page = sender_client.get(reverse("admin:rewards_gift_change", args=[gift.pk]))
    # then
    assert listing.status_code == 200
    assert member.member_number in listing.content.decode()
    assert page.status_code == 200
    assert sender_client.get(reverse("admin:rewards_gift_add")).status_code == 403


def test_card_templates_need_all_six_languages(admin_client):
    # given: everything but the Polish text
    data = {"name": "Welcome back", "is_active": "on"}
    for code in LANGUAGES:
        data[f"title_{code}"] = f"Welcome back ({code})"
        data[f"text_{code}"] = "" if code == "pl" else f"Good to see you ({code})"
    # when
    response = admin_client.post(reverse("admin:rewards_cardtemplate_add"), data)
    # then
    assert response.status_code == 200
    assert "text_pl" in response.context["adminform"].form.errors
    assert not CardTemplate.objects.filter(name="Welcome back").exists()
