from decimal import Decimal

from django.core import mail

from accounts.models import Member
from referrals.models import Invitation
from tests import factories


def login(client, member):
    client.force_login(member.user)
    return client


def test_the_referral_page_shows_code_link_qr_and_friends(client, member, partner, base_rule):
    # given: a friend joined with the member's code and bought enough to qualify
    page = login(client, member).get("/referrals/")
    code = page.context["page"]["code"]
    friend = factories.make_member(email="lina@example.com", first_name="Lina", referral_code=code)
    from loyalty.core.purchases import purchase_record

    purchase_record(
        partner=partner, member=friend, external_id="F1", amount=Decimal("100"), currency="EUR"
    )
    Member.objects.filter(pk=member.pk).update(language="en")
    # when
    response = login(client, member).get("/referrals/")
    # then
    html = response.content.decode()
    assert response.status_code == 200
    assert f"/join/{code}" in html and "<svg" in html
    assert "Lina" in html and "lina@example.com" not in html  # masked
    assert "Qualified" in html


def test_inviting_a_friend_sends_an_email_and_vouching_is_recorded(
    client, member, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = login(client, member).post(
            "/referrals/", {"email": "Friend@Example.com", "vouched": "on"}
        )
    assert response.status_code == 302
    invitation = Invitation.objects.get()
    assert invitation.vouched is True
    assert any("friend@example.com" in m.to for m in mail.outbox)


def test_a_bad_address_or_the_daily_cap_shows_a_message_and_sends_nothing(client, member, settings):
    settings.REFERRAL_INVITES_PER_DAY = 1
    bad = login(client, member).post("/referrals/", {"email": "not-an-address"})
    assert bad.status_code == 200 and Invitation.objects.count() == 0
    login(client, member).post("/referrals/", {"email": "one@example.com"})
    capped = login(client, member).post("/referrals/", {"email": "two@example.com"})
    assert capped.status_code == 200
    assert Invitation.objects.count() == 1


def test_the_referral_page_takes_a_constant_number_of_queries(
    client, member, django_assert_max_num_queries
):
    code = login(client, member).get("/referrals/").context["page"]["code"]
    for i in range(5):
        factories.make_member(email=f"f{i}@example.com", referral_code=code)
    login(client, member)
    with django_assert_max_num_queries(7):
        client.get("/referrals/")


def test_the_minimum_purchase_is_shown_with_its_currency_in_the_members_language(
    client, member, settings
):
    # given: a 20 euro minimum, a Lithuanian and an English reader
    settings.REFERRAL_MIN_PURCHASE = "20.00"
    settings.LOYALTY_CURRENCY = "EUR"
    # when
    lithuanian = login(client, member).get("/referrals/").content.decode()
    Member.objects.filter(pk=member.pk).update(language="en")
    english = login(client, member).get("/referrals/").content.decode()
    # then
    assert "20,00\xa0€" in lithuanian
    assert "€20.00" in english
