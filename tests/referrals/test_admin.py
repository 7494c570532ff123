"""Staff: the referral list with conversion, the review queue, approve and reject."""

from html.parser import HTMLParser

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import formats, timezone

from accounts.models import Member
from loyalty.base.errors import NotAllowed
from loyalty.core.models import LedgerEntry
from referrals import invitations, services
from referrals.errors import ReferralNotReviewable
from referrals.models import Referral
from tests import factories
from tests.referrals.conftest import FRIEND_BONUS, REFERRER_BONUS, buy, join

REFERRAL = LedgerEntry.Kind.REFERRAL


def _messages(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.fixture
def flagged(tiers):
    """A friend who signed up on the referrer's phone: waiting for review."""
    ona = factories.make_member(email="ona@example.com", first_name="Ona", device_hash="phone")
    friend = join(ona.referral_code.code, device_hash="phone")
    referral = Referral.objects.get(referee=friend)
    assert referral.status == Referral.Status.FLAGGED
    return referral


def act(admin_client, action, referrals, url="admin:referrals_flaggedreferral_changelist"):
    return admin_client.post(
        reverse(url),
        {"action": action, "_selected_action": [r.pk for r in referrals]},
        follow=True,
    )


def test_the_changelist_shows_the_conversion_rate(admin_client, referrer, code, shop):
    # given: 1 of 4 qualified
    buy(shop, join(code))
    for _ in range(3):
        join(code)
    # when
    response = admin_client.get(reverse("admin:referrals_referral_changelist"))
    # then
    assert response.status_code == 200
    page = response.content.decode()
    assert "All time: 1 of 4 referrals qualified." in page
    assert "25&nbsp;%" in page
    months = response.context["conversion_months"]
    assert [(m["referrals"], m["qualified"], m["rate"]) for m in months] == [(4, 1, 0.25)]


@pytest.mark.parametrize("flags", ["any", "none", "same_device", "monthly_cap"])
def test_the_changelist_filters_by_flag(admin_client, flagged, flags):
    # when
    response = admin_client.get(
        reverse("admin:referrals_referral_changelist"), {"flags": flags, "vouched__exact": "0"}
    )
    # then
    assert response.status_code == 200
    shown = list(response.context["cl"].result_list)
    assert shown == ([flagged] if flags in {"any", "same_device"} else [])


def test_the_review_queue_shows_only_flagged_referrals(admin_client, flagged, referrer, code):
    # given
    join(code)
    # when
    response = admin_client.get(reverse("admin:referrals_flaggedreferral_changelist"))
    # then
    assert response.status_code == 200
    assert [r.pk for r in response.context["cl"].result_list] == [flagged.pk]
    detail = admin_client.get(
        reverse("admin:referrals_referral_change", args=[flagged.pk])
    ).content.decode()
    assert flagged.referrer.member_number in detail and "signed up on the referrer" in detail


def test_approving_after_the_purchase_pays_both(admin_client, flagged, shop):
    # given
    buy(shop, flagged.referee)
    assert not LedgerEntry.objects.filter(kind=REFERRAL).exists()
    # when
    response = act(admin_client, "approve", [flagged])
    # then
    assert response.status_code == 200
    flagged.refresh_from_db()
    assert flagged.status == Referral.Status.QUALIFIED
    assert flagged.reviewed_by is not None and flagged.reviewed_at is not None
    assert Member.objects.get(pk=flagged.referrer_id).points_balance == REFERRER_BONUS
    assert Member.objects.get(pk=flagged.referee_id).points_balance == 25 + FRIEND_BONUS
    assert any("Qualified" in m for m in _messages(response))


def test_approving_before_the_purchase_lets_it_go_on(admin_client, flagged, shop):
    # when
    act(admin_client, "approve", [flagged])
    # then
    flagged.refresh_from_db()
    assert flagged.status == Referral.Status.PENDING
    assert not LedgerEntry.objects.filter(kind=REFERRAL).exists()
    # and the friend's purchase then qualifies it without another review
    buy(shop, flagged.referee)
    flagged.refresh_from_db()
    assert flagged.status == Referral.Status.QUALIFIED


def test_rejecting_pays_nothing_ever(admin_client, flagged, shop):
    # when
    act(admin_client, "reject", [flagged])
    buy(shop, flagged.referee)
    # then
    flagged.refresh_from_db()
    assert flagged.status == Referral.Status.REJECTED
    assert not LedgerEntry.objects.filter(kind=REFERRAL).exists()


def test_approving_a_decided_referral_changes_nothing(admin_client, referrer, code, shop):
    # given
    friend = join(code)
    buy(shop, friend)
    referral = Referral.objects.get()
    # when
    response = act(admin_client, "approve", [referral], url="admin:referrals_referral_changelist")
    # then
    assert any("Nothing was changed" in m for m in _messages(response))
    assert LedgerEntry.objects.filter(kind=REFERRAL).count() == 2


def test_a_refund_while_waiting_for_review_takes_the_purchase_out(flagged, shop, staff_user):
    # given
    purchase = buy(shop, flagged.referee, amount="30").purchase
    from loyalty.core.refunds import purchase_refund

    purchase_refund(purchase=purchase, external_id="R1")
    # when
    referral = services.referral_approve(referral=flagged, staff_user=staff_user)
    # then
    assert referral.status == Referral.Status.PENDING
    assert not LedgerEntry.objects.filter(kind=REFERRAL).exists()


def test_only_staff_review(flagged):
    with pytest.raises(NotAllowed):
        services.referral_approve(referral=flagged, staff_user=flagged.referee.user)
    with pytest.raises(NotAllowed):
        services.referral_reject(referral=flagged, staff_user=None)
    flagged.refresh_from_db()
    assert flagged.status == Referral.Status.FLAGGED


def test_an_expired_referral_cannot_be_decided(flagged, staff_user):
    # given
    Referral.objects.filter(pk=flagged.pk).update(status=Referral.Status.EXPIRED)
    # when / then
    with pytest.raises(ReferralNotReviewable):
        services.referral_approve(referral=flagged, staff_user=staff_user)
    with pytest.raises(ReferralNotReviewable):
        services.referral_reject(referral=flagged, staff_user=staff_user)


class _ResultRows(HTMLParser):
    """The rows of a changelist's result table, as staff see them: {field: the cell's text},
    a yes/no icon read by its alt text ("True", "False")."""

    def __init__(self):
        super().__init__()
        self.rows: list[dict[str, str]] = []
        self._in_body = False
        self._field = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "tbody":
            self._in_body = True
        elif self._in_body and tag == "tr":
            self.rows.append({})
        elif self._in_body and tag in {"th", "td"}:
            classes = (attrs.get("class") or "").split()
            fields = [c.removeprefix("field-") for c in classes if c.startswith("field-")]
            self._field = fields[0] if fields else None
            if self._field:
                self.rows[-1][self._field] = ""
        elif self._field and tag == "img":
            self.rows[-1][self._field] += attrs.get("alt") or ""

    def handle_endtag(self, tag):
        if tag == "tbody":
            self._in_body = False
        elif tag in {"th", "td"}:
            self._field = None

    def handle_data(self, data):
        if self._field:
            self.rows[-1][self._field] += data.strip()


def _rows(response) -> list[dict[str, str]]:
    assert response.status_code == 200
    parser = _ResultRows()
    parser.feed(response.content.decode())
    return parser.rows


def _shown(moment) -> str:
    """A date and time as the admin list shows it ("-" for none)."""
    return formats.localize(timezone.template_localtime(moment)) if moment else "-"


@pytest.mark.parametrize("model", ["invitation", "referralcode"])
def test_invitations_and_codes_are_listed(
    admin_client, referrer, model, django_capture_on_commit_callbacks, mailoutbox
):
    # given: one invitation vouched for and e-mailed, one neither (its e-mail not yet gone)
    with django_capture_on_commit_callbacks(execute=True):
        sent = invitations.referral_invite(
            referrer=referrer, email="rasa@example.com", vouched=True
        )
    unsent = invitations.referral_invite(referrer=referrer, email="mantas@example.com")
    sent.refresh_from_db()
    assert sent.sent_at is not None and unsent.sent_at is None
    assert [m.to for m in mailoutbox] == [["rasa@example.com"]]
    # when
    response = admin_client.get(reverse(f"admin:referrals_{model}_changelist"))
    # then: each row shows who invited whom (the full address), the vouch and the e-mail
    assert response.status_code == 200
    if model == "invitation":
        assert _rows(response) == [
            {
                "created_at": _shown(unsent.created_at),
                "referrer": f"{referrer.member_number} ona.kaz@gmail.com",
                "email": "mantas@example.com",
                "vouched": "False",
                "sent_at": "-",
            },
            {
                "created_at": _shown(sent.created_at),
                "referrer": f"{referrer.member_number} ona.kaz@gmail.com",
                "email": "rasa@example.com",
                "vouched": "True",
                "sent_at": _shown(sent.sent_at),
            },
        ]
    else:
        code = referrer.referral_code
        assert _rows(response) == [
            {
                "code": code.code,
                "member": f"{referrer.member_number} ona.kaz@gmail.com",
                "created_at": _shown(code.created_at),
            }
        ]


def test_the_invitation_list_finds_one_referrers_invitations(admin_client, referrer):
    # given: two referrers' invitations
    jonas = factories.make_member(email="jonas@example.com", first_name="Jonas")
    invitations.referral_invite(referrer=referrer, email="rasa@example.com", vouched=True)
    invitations.referral_invite(referrer=referrer, email="mantas@example.com")
    invitations.referral_invite(referrer=jonas, email="egle@example.com", vouched=True)
    url = reverse("admin:referrals_invitation_changelist")

    def shown(**query) -> list[tuple[str, str]]:
        rows = _rows(admin_client.get(url, query))
        return sorted((row.get("referrer", ""), row.get("email", "")) for row in rows)

    ona_shown = f"{referrer.member_number} ona.kaz@gmail.com"
    jonas_shown = f"{jonas.member_number} jonas@example.com"
    # when / then: all of them, then one referrer's by member number or e-mail address
    assert shown() == sorted(
        [
            (ona_shown, "rasa@example.com"),
            (ona_shown, "mantas@example.com"),
            (jonas_shown, "egle@example.com"),
        ]
    )
    assert shown(q=jonas.member_number) == [(jonas_shown, "egle@example.com")]
    assert shown(q="jonas@example.com") == [(jonas_shown, "egle@example.com")]
    assert shown(q=referrer.member_number) == [
        (ona_shown, "mantas@example.com"),
        (ona_shown, "rasa@example.com"),
    ]
    # the friend's address, in part; and the vouched filter, alone and with a search
    assert shown(q="rasa") == [(ona_shown, "rasa@example.com")]
    assert shown(vouched__exact="1") == sorted(
        [(jonas_shown, "egle@example.com"), (ona_shown, "rasa@example.com")]
    )
    assert shown(vouched__exact="0") == [(ona_shown, "mantas@example.com")]
    assert shown(q=jonas.member_number, vouched__exact="0") == []
