import re

import pytest
from django.conf import settings
from django.urls import reverse

from accounts.models import Member, User
from notifications.models import Message
from tests import factories

from .conftest import PASSWORD

SIGNUP = reverse("members:signup")
LOGIN = reverse("members:login")


def _link(body: str) -> str:
    return re.search(r"https?://[^/\s]+(/\S+)", body)[1]


def test_signing_up_makes_a_member_logs_them_in_and_leaves_a_welcome(client, tiers):
    # when
    response = client.post(
        SIGNUP,
        {
            "email": "Rasa@Example.com",
            "first_name": "Rasa",
            "password1": PASSWORD,
            "password2": PASSWORD,
            "language": "da",
            "referral_code": "",
        },
    )

    # then
    assert response.status_code == 302
    assert response["Location"] == reverse("members:dashboard")
    member = Member.objects.get(user__email="rasa@example.com")
    assert member.language == "da"
    assert member.tier == tiers["bronze"]
    assert member.points_balance == 0  # the program gives no welcome points
    assert member.user.check_password(PASSWORD)
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "da"
    welcome = Message.objects.get(member=member)
    assert welcome.kind == "welcome"
    assert welcome.language == "da"
    inbox = client.get(reverse("members:inbox"))
    assert inbox.status_code == 200
    assert welcome.subject in inbox.content.decode()


def test_signing_up_refuses_a_weak_or_mismatched_password_and_creates_nothing(client, tiers):
    # when
    weak = client.post(
        SIGNUP,
        {"email": "a@example.com", "password1": "123", "password2": "123", "language": "en"},
    )
    mismatch = client.post(
        SIGNUP,
        {"email": "a@example.com", "password1": PASSWORD, "password2": "x", "language": "en"},
    )

    # then
    assert weak.status_code == mismatch.status_code == 200
    assert weak.context["form"].errors["password1"]
    assert mismatch.context["form"].errors["password2"] == ["The two passwords are not the same."]
    assert not User.objects.filter(email="a@example.com").exists()


def test_signing_up_with_a_taken_address_points_to_login_and_claim(client, web_member):
    # when
    response = client.post(
        SIGNUP,
        {
            "email": web_member.user.email,
            "password1": PASSWORD,
            "password2": PASSWORD,
            "language": "en",
        },
    )

    # then
    assert response.status_code == 200
    errors = response.context["form"].errors["email"]
    assert "already has a membership" in errors[0]
    assert reverse("members:claim") in errors[0]
    assert Member.objects.count() == 1


def test_a_join_link_fills_in_the_referral_code(client, tiers):
    # when
    response = client.get(reverse("members:signup_referred", args=["ABCD2345"]))

    # then
    assert response.status_code == 200
    assert response.context["form"]["referral_code"].value() == "ABCD2345"


def test_logging_in_with_the_email_and_out_with_a_post(client, web_member):
    # when
    logged_in = client.post(LOGIN, {"username": "IEVA@example.com ", "password": PASSWORD})

    # then
    assert logged_in.status_code == 302
    assert logged_in["Location"] == reverse("members:dashboard")
    assert client.get(reverse("members:dashboard")).status_code == 200

    # when: a link to /logout/ asks (and says why), the button logs out
    asked = client.get(reverse("members:logout"))
    still_in = client.get(reverse("members:dashboard"))
    logged_out = client.post(reverse("members:logout"))

    # then
    assert asked.status_code == 200
    assert "Log out?" in asked.content.decode()
    assert "a link alone cannot log you out" in asked.content.decode()
    assert f'<form method="post" action="{reverse("members:logout")}"' in asked.content.decode()
    assert still_in.status_code == 200
    assert logged_out.status_code == 302
    assert logged_out["Location"] == reverse("members:home")
    after = client.get(reverse("members:dashboard"))
    assert after.status_code == 302
    assert after["Location"].startswith(LOGIN)


def test_logout_by_a_link_when_logged_out_says_so(client, db):
    # when
    response = client.get(reverse("members:logout"))

    # then
    assert response.status_code == 200
    assert "You are logged out" in response.content.decode()


def test_a_wrong_password_shows_the_form_again(client, web_member):
    # when
    response = client.post(LOGIN, {"username": web_member.user.email, "password": "wrong"})

    # then: the message names only the password as case-sensitive (e-mail addresses are not)
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [
        "Please enter a correct e-mail address and password. The password is case-sensitive; "
        "the e-mail address is not."
    ]
    assert "_auth_user_id" not in client.session


def test_logins_are_locked_out_after_too_many_failures(client, web_member):
    # given
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = client.post(LOGIN, {"username": "ieva@example.com", "password": "no"})
        assert response.status_code == 200

    # when: the last allowed failure (typed differently: counted as the same address), then the
    # right password
    last = client.post(LOGIN, {"username": " Ieva@Example.com", "password": "no"})
    locked = client.post(LOGIN, {"username": "ieva@example.com", "password": PASSWORD})

    # then
    assert last.status_code == 429
    assert locked.status_code == 429
    assert "Too many attempts" in locked.content.decode()
    assert "_auth_user_id" not in client.session


def test_another_address_is_not_locked_out_by_someone_elses_failures(client, web_member, tiers):
    # given
    other = factories.make_member(email="other@example.com", language="en", password=PASSWORD)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(LOGIN, {"username": "ieva@example.com", "password": "no"})

    # when
    response = client.post(LOGIN, {"username": other.user.email, "password": PASSWORD})

    # then
    assert response.status_code == 302


def test_a_password_reset_mails_a_link_that_sets_a_new_password(client, web_member, mailoutbox):
    # when
    response = client.post(reverse("members:password_reset"), {"email": "ieva@example.com"})

    # then
    assert response.status_code == 302
    assert response["Location"] == reverse("members:password_reset_done")
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == ["ieva@example.com"]

    # when
    form_page = client.get(_link(mail.body), follow=True)
    done = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "another-Secret-77", "new_password2": "another-Secret-77"},
    )

    # then
    assert done.status_code == 302
    assert done["Location"] == reverse("members:password_reset_complete")
    web_member.user.refresh_from_db()
    assert web_member.user.check_password("another-Secret-77")


def test_a_password_reset_for_an_unknown_address_sends_nothing_and_says_the_same(
    client, db, mailoutbox
):
    # when
    response = client.post(reverse("members:password_reset"), {"email": "nobody@example.com"})

    # then
    assert response.status_code == 302
    assert response["Location"] == reverse("members:password_reset_done")
    assert mailoutbox == []


# --- claiming a membership made at a till ----------------------------------------------------


@pytest.fixture
def till_member(tiers, partner):
    return factories.make_member(
        email="till@example.com", first_name="Jonas", language="en", partner=partner
    )


def test_claiming_sends_a_one_time_link_that_sets_the_password(client, till_member, mailoutbox):
    # given
    assert not till_member.user.has_usable_password()

    # when
    sent = client.post(reverse("members:claim"), {"email": "TILL@example.com"})

    # then
    assert sent.status_code == 302
    assert sent["Location"] == reverse("members:claim_sent")
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == ["till@example.com"]
    assert till_member.member_number in mail.body
    link = _link(mail.body)

    # when
    page = client.get(link, follow=True)
    set_url = page.redirect_chain[-1][0]
    claimed = client.post(
        set_url, {"new_password1": "my-Own-secret-9", "new_password2": "my-Own-secret-9"}
    )

    # then: logged in on the dashboard
    assert page.context["validlink"] is True
    assert claimed.status_code == 302
    assert claimed["Location"] == reverse("members:dashboard")
    assert client.get(reverse("members:dashboard")).status_code == 200
    till_member.user.refresh_from_db()
    assert till_member.user.check_password("my-Own-secret-9")

    # when: log out, log in with the new password, and try the link again
    client.post(reverse("members:logout"))
    login = client.post(LOGIN, {"username": "till@example.com", "password": "my-Own-secret-9"})
    client.post(reverse("members:logout"))
    again = client.get(link, follow=True)

    # then
    assert login.status_code == 302
    assert again.context["validlink"] is False


def test_claiming_says_the_same_for_an_unknown_address_and_sends_nothing(client, db, mailoutbox):
    # when
    response = client.post(reverse("members:claim"), {"email": "stranger@example.com"}, follow=True)

    # then
    assert response.redirect_chain == [(reverse("members:claim_sent"), 302)]
    assert mailoutbox == []


def test_claiming_an_account_that_has_a_password_mails_a_pointer_to_the_reset(
    client, web_member, mailoutbox
):
    # when
    response = client.post(reverse("members:claim"), {"email": "ieva@example.com"})

    # then
    assert response["Location"] == reverse("members:claim_sent")
    assert len(mailoutbox) == 1
    assert reverse("members:password_reset") in mailoutbox[0].body
    web_member.user.refresh_from_db()
    assert web_member.user.check_password(PASSWORD)


def test_a_claim_link_never_sets_the_password_of_a_claimed_account(client, web_member):
    # given: a token made for the account as it is now
    from django.contrib.auth.tokens import default_token_generator
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    uid = urlsafe_base64_encode(force_bytes(web_member.user.pk))
    token = default_token_generator.make_token(web_member.user)

    # when
    response = client.get(reverse("members:claim_confirm", args=[uid, token]))

    # then
    assert response.status_code == 200
    assert response.context["validlink"] is False


def test_an_unknown_referral_code_is_shown_on_its_field_and_nobody_joins(client, tiers):
    # when
    response = client.post(
        SIGNUP,
        {
            "email": "friend@example.com",
            "password1": PASSWORD,
            "password2": PASSWORD,
            "language": "en",
            "referral_code": "NOSUCHCODE",
        },
    )

    # then
    assert response.status_code == 200
    assert response.context["form"].errors["referral_code"]
    assert not User.objects.filter(email="friend@example.com").exists()


def test_a_member_who_is_staff_can_never_be_claimed(client, till_member, mailoutbox):
    # given: a till's member who was later made staff, still without a password
    from django.contrib.auth.tokens import default_token_generator
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    User.objects.filter(pk=till_member.user_id).update(is_staff=True)
    user = User.objects.get(pk=till_member.user_id)
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)

    # when
    sent = client.post(reverse("members:claim"), {"email": "till@example.com"})
    link = client.get(reverse("members:claim_confirm", args=[uid, token]), follow=True)

    # then: the same answer as for anyone, no e-mail, and a link that does not work
    assert sent["Location"] == reverse("members:claim_sent")
    assert mailoutbox == []
    assert link.context["validlink"] is False
    user.refresh_from_db()
    assert not user.has_usable_password()


def test_a_join_link_says_who_invited_and_what_both_get(client, tiers, settings):
    # given: a member with a first name and their referral code
    settings.REFERRAL_BONUS_FRIEND = 100
    settings.REFERRAL_BONUS_REFERRER = 250
    settings.REFERRAL_MIN_PURCHASE = "20.00"
    settings.REFERRAL_QUALIFY_DAYS = 30
    referrer = factories.make_member(email="ona.secret@example.com", first_name="Ona")
    code = referrer.referral_code.code

    # when: a friend opens the link
    response = client.get(reverse("members:signup_referred", args=[code]))

    # then: who invited and what both get, never the referrer's address or number
    html = response.content.decode()
    assert "Ona invited you" in html
    assert (
        "make a first purchase of at least €20.00 within 30 days: you receive 100 points as a "
        "welcome, and they receive 250 points as a thank-you."
    ) in html
    assert "ona.secret" not in html
    assert referrer.member_number not in html


def test_a_join_link_of_a_member_without_a_first_name_says_a_member(client, tiers):
    # given
    referrer = factories.make_member(email="anon@example.com")
    code = referrer.referral_code.code

    # when: the code typed as people do (any case, with a dash), and a form sent with errors
    opened = client.get(reverse("members:signup_referred", args=[f"{code[:4]}-{code[4:]}".lower()]))
    sent = client.post(reverse("members:signup"), {"email": "", "referral_code": code})

    # then
    for response in (opened, sent):
        html = response.content.decode()
        assert "A member invited you" in html
        assert "anon@" not in html


def test_a_join_link_with_an_unknown_code_promises_nothing(client, tiers):
    # when
    response = client.get(reverse("members:signup_referred", args=["ABCD2345"]))

    # then
    assert response.status_code == 200
    assert response.context["welcome"] is None
    assert "welcome-heading" not in response.content.decode()
