from datetime import timedelta

import pytest
from django.utils import timezone

from accounts import services
from accounts.errors import EmailUnavailable, MemberExists, MemberNotFound
from accounts.models import Member, PartnerApiKey, User
from loyalty.base.errors import InvalidInput, NotAllowed, ReasonRequired
from loyalty.core.enrolment import member_enroll
from tests import factories


def test_enrolling_makes_a_member_with_a_checked_public_number(tiers):
    # when
    member = member_enroll(
        email="  Ona.Jonaite@Example.COM ",
        first_name="Ona",
        language="lt",
        birthday="05-14",
    )
    # then
    assert member.user.email == "ona.jonaite@example.com"
    assert services.member_number_is_valid(member.member_number)
    assert len(member.member_number) == 9 and member.member_number != str(member.pk)
    assert (member.birthday_month, member.birthday_day, member.birthday_year) == (5, 14, None)
    assert member.birthday_set_on == timezone.localdate()
    assert member.joined_on == timezone.localdate()
    assert member.tier == tiers["bronze"]
    assert member.status == "active" and member.delight == "greeting"
    assert not member.has_web_account  # enrolled at a till: no password yet


def test_a_mistyped_member_number_is_not_found(member):
    number = member.member_number
    wrong_check = number[:-1] + str((int(number[-1]) + 1) % 10)
    assert services.member_by_number(number) == member
    assert services.member_by_number(f"{number[:4]} {number[4:]}") == member
    for bad in [wrong_check, "", "abc", number + "0", None]:
        with pytest.raises(MemberNotFound):
            services.member_by_number(bad)


def test_luhn_check_digit_matches_the_known_example():
    assert services.luhn_check_digit("7992739871") == "3"


def test_an_address_enrolled_twice_is_refused_with_the_existing_number(member):
    with pytest.raises(MemberExists) as exc:
        member_enroll(email="ONA@example.com")
    assert exc.value.extra["member_number"] == member.member_number
    assert Member.objects.count() == 1


def test_an_account_without_a_membership_is_enrolled_as_it_is(tiers):
    # given: an account of ours that is not a member (its membership was never made)
    user = User.objects.create_user(email="rita@example.com", password="Her-own-pass-1")
    password_before = user.password
    # when: a till enrols its address
    member = member_enroll(email="Rita@Example.com", first_name="Someone Else")
    # then: the account is the member's, its name and password untouched
    assert member.user == user and member.tier == tiers["bronze"]
    user.refresh_from_db()
    assert user.password == password_before and user.first_name == ""
    assert User.objects.count() == 1


@pytest.mark.parametrize("kind", ["staff", "superuser"])
def test_a_staff_or_superuser_account_is_never_made_a_member(tiers, kind):
    # given: an account whose password login is off (as createsuperuser --noinput leaves it)
    user = User.objects.create_user(
        email="ops@example.com", password=None, is_staff=True, is_superuser=kind == "superuser"
    )
    # when / then
    with pytest.raises(EmailUnavailable):
        member_enroll(email="ops@example.com")
    assert Member.objects.count() == 0
    user.refresh_from_db()
    assert not user.has_usable_password()


def test_a_sign_up_with_a_password_never_takes_over_an_account_without_a_membership(
    tiers, staff_user
):
    password_before = staff_user.password
    with pytest.raises(MemberExists) as exc:
        member_enroll(email="staff@example.com", password="a-long-Secret-42")
    assert "member_number" not in exc.value.extra
    staff_user.refresh_from_db()
    assert staff_user.password == password_before and Member.objects.count() == 0


def test_a_birthday_in_the_future_is_refused(tiers):
    tomorrow = timezone.localdate() + timedelta(days=1)
    with pytest.raises(InvalidInput, match="future"):
        member_enroll(email="x@example.com", birthday=tomorrow.isoformat())
    assert Member.objects.count() == 0


@pytest.mark.parametrize(
    "birthday",
    [
        *("02-30", "13-01", "1990-02-29", "14/05", "05-14-1990", "1800-01-01", "0000-01-01"),
        *("٠٥-١٤", "０５-１４"),  # digits, but not ours
    ],
)
def test_impossible_birthdays_are_refused(tiers, birthday):
    with pytest.raises(InvalidInput):
        member_enroll(email="x@example.com", birthday=birthday)
    assert Member.objects.count() == 0 and User.objects.count() == 0


def test_29_february_is_a_real_birthday(tiers):
    member = member_enroll(email="leap@example.com", birthday="02-29")
    assert (member.birthday_month, member.birthday_day) == (2, 29)


@pytest.mark.parametrize(
    ("field", "value"),
    [("email", "not-an-email"), ("language", "fr"), ("first_name", "x" * 151)],
)
def test_bad_enrolment_input_is_refused(tiers, field, value):
    kwargs = {"email": "ok@example.com", field: value}
    with pytest.raises(InvalidInput):
        member_enroll(**kwargs)
    assert Member.objects.count() == 0


def test_a_till_member_claims_the_web_account_later(member):
    with pytest.raises(InvalidInput):
        services.member_claim_account(member=member, password="123")
    services.member_claim_account(member=member, password="a-long-Secret-42")
    assert User.objects.get(pk=member.user_id).check_password("a-long-Secret-42")


def test_only_staff_close_a_member_and_always_with_a_reason(member, staff_user):
    with pytest.raises(ReasonRequired):
        services.member_set_status(member=member, status="closed", staff_user=staff_user, reason="")
    with pytest.raises(NotAllowed):
        services.member_set_status(
            member=member, status="closed", staff_user=member.user, reason="r"
        )
    services.member_set_status(
        member=member, status="closed", staff_user=staff_user, reason="Moved away"
    )
    member.refresh_from_db()
    assert (member.status, member.status_reason) == ("closed", "Moved away")


def test_a_bare_status_change_never_pauses_or_resumes(member, staff_user):
    # a pause moves expiry dates and tells the member: only loyalty.core.pauses does that
    with pytest.raises(InvalidInput):
        services.member_set_status(
            member=member, status="paused", staff_user=staff_user, reason="r"
        )
    Member.objects.filter(pk=member.pk).update(status=Member.Status.PAUSED)
    member.refresh_from_db()
    with pytest.raises(InvalidInput):
        services.member_set_status(member=member, status="active", staff_user=staff_user, reason="")
    assert Member.objects.get(pk=member.pk).status == Member.Status.PAUSED


def test_an_api_key_is_shown_once_and_stored_as_a_digest(db):
    # given
    partner = factories.make_partner("Till")
    # when
    key, raw = services.api_key_create(partner=partner, name="till 1")
    # then
    prefix, secret = raw.split(".")
    assert len(secret) >= 43  # 32 random bytes, url-safe base64
    assert key.prefix == prefix and raw not in (key.digest, key.prefix)
    assert key.digest == services.hash_api_key(raw)
    assert not PartnerApiKey.objects.filter(digest=raw).exists()
    assert services.api_key_authenticate(raw) == key


def test_a_revoked_or_unknown_key_does_not_authenticate(db):
    partner = factories.make_partner("Till")
    key, raw = services.api_key_create(partner=partner)
    services.api_key_revoke(key=key)
    assert services.api_key_authenticate(raw) is None
    assert services.api_key_authenticate("nope") is None
    assert services.api_key_authenticate("") is None


def test_key_use_is_recorded_at_most_once_a_minute(db, django_assert_num_queries):
    partner = factories.make_partner("Till")
    key, raw = services.api_key_create(partner=partner)
    with django_assert_num_queries(2):
        services.api_key_authenticate(raw)
    first = PartnerApiKey.objects.get(pk=key.pk).last_used_at
    assert first is not None
    with django_assert_num_queries(1):
        services.api_key_authenticate(raw)
    PartnerApiKey.objects.filter(pk=key.pk).update(last_used_at=first - timedelta(minutes=2))
    services.api_key_authenticate(raw)
    assert PartnerApiKey.objects.get(pk=key.pk).last_used_at > first


def test_an_inactive_partners_key_does_not_authenticate(db):
    partner = factories.make_partner("Till")
    _, raw = services.api_key_create(partner=partner)
    type(partner).objects.filter(pk=partner.pk).update(is_active=False)
    assert services.api_key_authenticate(raw) is None


def test_partner_names_and_currencies_are_checked(db):
    from loyalty.base.errors import UnknownCurrency

    factories.make_partner("Till")
    with pytest.raises(InvalidInput):
        services.partner_create(name="till")
    with pytest.raises(UnknownCurrency):
        services.partner_create(name="Other", currency="EURO")
