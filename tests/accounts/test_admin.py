"""The admin of users, members, partners and partner API keys."""

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts import services
from accounts.models import ApiScope, Member, Partner, PartnerApiKey, User
from loyalty.core.ledger import points_adjust
from loyalty.core.pause_models import Pause
from loyalty.core.pauses import pause_start
from tests import factories
from tests.ledger import assert_ledger_invariants

EVERY_SCOPE = list(ApiScope.values)


def _messages(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def _adjust(member, points, staff, reason="Goodwill"):
    return points_adjust(member=member, points=points, staff_user=staff, reason=reason)


# --- changelists and pages ------------------------------------------------------------------


@pytest.mark.parametrize(
    "model_name", ["user", "member", "partner", "partnerapikey"], ids=lambda name: name
)
def test_changelist_returns_200(admin_client, admin_user, member, partner, model_name):
    # given
    _adjust(member, 100, admin_user)
    services.api_key_create(partner=partner, name="till")

    # when
    response = admin_client.get(reverse(f"admin:accounts_{model_name}_changelist"))

    # then
    assert response.status_code == 200


def test_change_pages_return_200(admin_client, admin_user, member, partner):
    # given
    _adjust(member, 100, admin_user)
    key, _raw = services.api_key_create(partner=partner, name="till")
    urls = [
        reverse("admin:accounts_user_change", args=[member.user.pk]),
        reverse("admin:auth_user_password_change", args=[member.user.pk]),
        reverse("admin:accounts_member_change", args=[member.pk]),
        reverse("admin:accounts_partner_change", args=[partner.pk]),
        reverse("admin:accounts_partnerapikey_change", args=[key.pk]),
        reverse("admin:accounts_user_add"),
        reverse("admin:accounts_partner_add"),
        reverse("admin:accounts_partnerapikey_add"),
    ]

    # when
    statuses = [admin_client.get(url).status_code for url in urls]

    # then
    assert statuses == [200] * len(urls)


def test_member_add_and_delete_are_not_offered(admin_client, member):
    # when
    add = admin_client.get(reverse("admin:accounts_member_add"))
    delete = admin_client.post(
        reverse("admin:accounts_member_delete", args=[member.pk]), {"post": "yes"}
    )

    # then
    assert add.status_code == 403
    assert delete.status_code == 403
    assert Member.objects.filter(pk=member.pk).exists()


# --- member list and search ----------------------------------------------------------------


def test_member_search_by_number_finds_the_member(admin_client, member):
    # given
    factories.make_member(email="other@example.com")

    # when
    response = admin_client.get(
        reverse("admin:accounts_member_changelist"), {"q": member.member_number}
    )

    # then
    assert [m.pk for m in response.context["cl"].result_list] == [member.pk]


def test_member_search_by_email_finds_the_member(admin_client, member):
    # given
    factories.make_member(email="other@example.com")

    # when
    response = admin_client.get(
        reverse("admin:accounts_member_changelist"), {"q": "ONA@example.com"}
    )

    # then
    assert [m.pk for m in response.context["cl"].result_list] == [member.pk]


def test_member_search_by_last_name_finds_the_member(admin_client, tiers):
    # given
    found = factories.make_member(email="a@example.com", first_name="Ona", last_name="Kazlauskė")
    factories.make_member(email="b@example.com", first_name="Ona", last_name="Petraitė")

    # when
    response = admin_client.get(reverse("admin:accounts_member_changelist"), {"q": "kazlausk"})

    # then
    assert [m.pk for m in response.context["cl"].result_list] == [found.pk]


def test_member_changelist_queries_do_not_grow_with_members(admin_client, tiers):
    # given
    factories.make_member()
    url = reverse("admin:accounts_member_changelist")
    admin_client.get(url)  # warm the session and content type caches
    with CaptureQueriesContext(connection) as few:
        admin_client.get(url)
    for _ in range(5):
        factories.make_member()

    # when
    with CaptureQueriesContext(connection) as many:
        response = admin_client.get(url)

    # then
    assert response.status_code == 200
    assert len(many) == len(few)


def test_member_list_shows_the_columns(admin_client, member):
    # when
    response = admin_client.get(reverse("admin:accounts_member_changelist"))

    # then
    content = response.content.decode()
    assert member.member_number in content
    assert "ona@example.com" in content
    assert "Bronze" in content


# --- member change page ---------------------------------------------------------------------


def test_member_change_page_queries_do_not_grow_with_the_ledger(admin_client, admin_user, member):
    # given
    _adjust(member, 10, admin_user)
    url = reverse("admin:accounts_member_change", args=[member.pk])
    admin_client.get(url)
    with CaptureQueriesContext(connection) as few:
        admin_client.get(url)
    for _ in range(8):
        _adjust(member, 10, admin_user)

    # when
    with CaptureQueriesContext(connection) as many:
        response = admin_client.get(url)

    # then
    assert response.status_code == 200
    assert len(many) == len(few)


def test_member_ledger_inline_shows_the_newest_entries_only(
    admin_client, admin_user, member, monkeypatch
):
    # given
    monkeypatch.setattr("loyalty.core.admin.members.LEDGER_INLINE_LIMIT", 3)
    entries = [_adjust(member, points, admin_user, reason=f"r{points}") for points in range(1, 6)]

    # when
    response = admin_client.get(reverse("admin:accounts_member_change", args=[member.pk]))

    # then
    inline = response.context["inline_admin_formsets"][0]
    assert [form.instance.pk for form in inline.formset.forms] == [
        entries[4].pk,
        entries[3].pk,
        entries[2].pk,
    ]


def test_member_ledger_inline_has_no_add_change_or_delete(admin_client, admin_user, member):
    # given
    _adjust(member, 10, admin_user)

    # when
    response = admin_client.get(reverse("admin:accounts_member_change", args=[member.pk]))

    # then
    inline = response.context["inline_admin_formsets"][0]
    assert inline.has_add_permission is False
    assert inline.has_change_permission is False
    assert inline.has_delete_permission is False
    assert inline.has_view_permission is True


def test_member_change_saves_the_preferences_only(admin_client, admin_user, member):
    # given
    entry = _adjust(member, 40, admin_user)
    url = reverse("admin:accounts_member_change", args=[member.pk])

    # when
    response = admin_client.post(
        url,
        {
            "language": "da",
            "delight": Member.Delight.SURPRISE,
            "points_balance": "999999",
            "status": Member.Status.CLOSED,
            "ledger_entries-TOTAL_FORMS": "1",
            "ledger_entries-INITIAL_FORMS": "1",
            "ledger_entries-MIN_NUM_FORMS": "0",
            "ledger_entries-MAX_NUM_FORMS": "0",
            "ledger_entries-0-id": str(entry.pk),
            "ledger_entries-0-member": str(member.pk),
        },
    )

    # then
    assert response.status_code == 302
    member.refresh_from_db()
    assert (member.language, member.delight) == ("da", Member.Delight.SURPRISE)
    assert (member.points_balance, member.status) == (40, Member.Status.ACTIVE)


# --- membership status ----------------------------------------------------------------------


def _status_action(client, members, **data):
    return client.post(
        reverse("admin:accounts_member_changelist"),
        {"action": "change_status", "_selected_action": [m.pk for m in members], **data},
    )


def test_status_action_shows_the_form_first(admin_client, member):
    # when
    response = _status_action(admin_client, [member], index="0")

    # then
    assert response.status_code == 200
    assert response.templates[0].name == "admin/accounts/member_set_status.html"
    member.refresh_from_db()
    assert member.status == Member.Status.ACTIVE


def test_status_action_pauses_with_a_reason(admin_client, admin_user, member):
    # when
    response = _status_action(
        admin_client, [member], _apply="1", status="paused", months="3", reason="Lost their job"
    )

    # then: a hardship pause of 3 months, started by staff (loyalty.core.pauses)
    assert response.status_code == 302
    member.refresh_from_db()
    assert (member.status, member.status_reason) == (Member.Status.PAUSED, "Lost their job")
    pause = Pause.objects.get(member=member)
    assert (pause.status, pause.months, pause.requested_by_staff, pause.decided_by) == (
        "running",
        3,
        True,
        admin_user,
    )
    assert _messages(response) == [f"{member.member_number}: membership is now Paused."]
    log = LogEntry.objects.get(object_id=str(member.pk))
    assert (log.user_id, log.change_message) == (
        admin_user.pk,
        "Status set to paused. Reason: Lost their job",
    )


def test_status_action_without_a_reason_shows_a_form_error(admin_client, member):
    # when
    response = _status_action(admin_client, [member], _apply="1", status="closed", reason=" ")

    # then
    assert response.status_code == 200
    assert response.context["form"].errors == {
        "reason": ["Give a reason to pause or close a membership."]
    }
    member.refresh_from_db()
    assert (member.status, member.status_reason) == (Member.Status.ACTIVE, "")


def test_status_action_resumes_without_a_reason(admin_client, admin_user, member):
    # given
    pause_start(member=member, months=2, reason="Illness", staff_user=admin_user)

    # when
    response = _status_action(admin_client, [member], _apply="1", status="active", reason="")

    # then
    assert response.status_code == 302
    member.refresh_from_db()
    assert (member.status, member.status_reason) == (Member.Status.ACTIVE, "")


def test_status_page_of_one_member_closes_it(admin_client, admin_user, member):
    # given: a member with 40 points
    _adjust(member, 40, admin_user)
    url = reverse("admin:accounts_member_change_status", args=[member.pk])

    # when
    page = admin_client.get(url)
    response = admin_client.post(url, {"status": "closed", "reason": "Asked to leave"})

    # then
    assert page.status_code == 200
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:accounts_member_change", args=[member.pk])
    member.refresh_from_db()
    assert (member.status, member.status_reason) == (Member.Status.CLOSED, "Asked to leave")
    # closed as a member closes: the points expired, the login ended
    assert member.points_balance == 0
    assert member.user.is_active is False
    assert_ledger_invariants()


def test_status_page_needs_the_change_permission(client, staff_user, member):
    # given
    client.force_login(staff_user)

    # when
    response = client.post(
        reverse("admin:accounts_member_change_status", args=[member.pk]),
        {"status": "closed", "reason": "x"},
    )

    # then
    assert response.status_code == 403
    member.refresh_from_db()
    assert member.status == Member.Status.ACTIVE


# --- users ----------------------------------------------------------------------------------


def test_user_add_stores_the_address_lower_case(admin_client):
    # when
    response = admin_client.post(
        reverse("admin:accounts_user_add"),
        {
            "email": " New.Staff@Example.com ",
            "usable_password": "true",
            "password1": "a-long-Passw0rd!",
            "password2": "a-long-Passw0rd!",
        },
    )

    # then
    assert response.status_code == 302
    user = User.objects.get(email="new.staff@example.com")
    assert user.check_password("a-long-Passw0rd!")


def test_user_add_refuses_an_address_that_differs_in_case(admin_client, member):
    # when
    response = admin_client.post(
        reverse("admin:accounts_user_add"),
        {"email": "ONA@example.com", "usable_password": "false"},
    )

    # then
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "email": ["A user with this e-mail address already exists."]
    }
    assert User.objects.filter(email__iexact="ona@example.com").count() == 1


def test_user_search_by_email(admin_client, member, staff_user):
    # when
    response = admin_client.get(reverse("admin:accounts_user_changelist"), {"q": "ona@"})

    # then
    assert [u.pk for u in response.context["cl"].result_list] == [member.user.pk]


# --- partners -------------------------------------------------------------------------------


def test_partner_add_goes_through_the_service(admin_client):
    # when
    response = admin_client.post(
        reverse("admin:accounts_partner_add"), {"name": " Web Shop ", "currency": "dkk"}
    )

    # then
    assert response.status_code == 302
    partner = Partner.objects.get()
    assert (partner.name, partner.currency, partner.is_active) == ("Web Shop", "DKK", True)


def test_partner_add_refuses_a_name_that_differs_in_case(admin_client, partner):
    # when
    response = admin_client.post(
        reverse("admin:accounts_partner_add"), {"name": "corner shop", "currency": "EUR"}
    )

    # then
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "name": ["A partner with this name exists."]
    }
    assert Partner.objects.count() == 1


def test_partner_add_refuses_an_unknown_currency(admin_client):
    # when
    response = admin_client.post(
        reverse("admin:accounts_partner_add"), {"name": "Shop", "currency": "XYZ"}
    )

    # then
    assert response.context["adminform"].form.errors == {
        "currency": ["Enter an ISO 4217 currency code."]
    }
    assert Partner.objects.count() == 0


def test_partner_can_be_deactivated_but_not_deleted(admin_client, partner):
    # when
    change = admin_client.post(
        reverse("admin:accounts_partner_change", args=[partner.pk]),
        {
            "name": "Corner Shop",
            # (the limits, as the page fills them in)
            "max_purchase_amount": "10000.00",
            "max_points_per_purchase": "20000",
            "max_points_redeemed_per_day": "200000",
            "api_keys-TOTAL_FORMS": "0",
            "api_keys-INITIAL_FORMS": "0",
            "api_keys-MIN_NUM_FORMS": "0",
            "api_keys-MAX_NUM_FORMS": "0",
        },
    )
    delete = admin_client.post(
        reverse("admin:accounts_partner_delete", args=[partner.pk]), {"post": "yes"}
    )

    # then
    assert change.status_code == 302
    assert delete.status_code == 403
    partner.refresh_from_db()
    assert (partner.is_active, partner.currency) == (False, "EUR")


# --- API keys -------------------------------------------------------------------------------


def test_creating_a_key_shows_the_raw_key_once_and_stores_its_digest(
    admin_client, admin_user, partner
):
    # when
    response = admin_client.post(
        reverse("admin:accounts_partnerapikey_add"),
        {"partner": partner.pk, "name": "Till 1", "scopes": EVERY_SCOPE},
    )

    # then
    assert response.status_code == 200
    key = PartnerApiKey.objects.get()
    raw_key = response.context["raw_key"]
    assert raw_key in response.content.decode()
    assert raw_key.startswith(f"{key.prefix}.")
    assert services.hash_api_key(raw_key) == key.digest
    assert (key.partner, key.name, key.created_by) == (partner, "Till 1", admin_user)
    assert "no-store" in response["Cache-Control"]
    assert key.digest not in response.content.decode()
    assert _messages(response) == []
    assert services.api_key_authenticate(raw_key) == key


def test_the_key_is_not_shown_again(admin_client, partner):
    # given
    response = admin_client.post(
        reverse("admin:accounts_partnerapikey_add"),
        {"partner": partner.pk, "name": "Till 1", "scopes": EVERY_SCOPE},
    )
    raw_key = response.context["raw_key"]
    key = PartnerApiKey.objects.get()

    # when
    pages = [
        admin_client.get(reverse("admin:accounts_partnerapikey_change", args=[key.pk])),
        admin_client.get(reverse("admin:accounts_partnerapikey_changelist")),
        admin_client.get(reverse("admin:accounts_partner_change", args=[partner.pk])),
    ]

    # then
    assert [page.status_code for page in pages] == [200, 200, 200]
    for page in pages:
        content = page.content.decode()
        assert raw_key not in content
        assert raw_key.split(".", 1)[1] not in content
        assert key.digest not in content
        assert key.prefix in content
    assert raw_key not in str(list(LogEntry.objects.values_list("change_message", "object_repr")))


def test_key_add_page_prefills_the_partner(admin_client, partner):
    # when
    response = admin_client.get(
        reverse("admin:accounts_partnerapikey_add"), {"partner": partner.pk}
    )

    # then
    assert response.context["adminform"].form.initial["partner"] == str(partner.pk)


def test_key_change_page_cannot_rename_or_delete(admin_client, partner):
    # given
    key, _raw = services.api_key_create(partner=partner, name="till")

    # when
    admin_client.post(
        reverse("admin:accounts_partnerapikey_change", args=[key.pk]),
        {"name": "renamed", "scopes": EVERY_SCOPE},
    )
    delete = admin_client.post(
        reverse("admin:accounts_partnerapikey_delete", args=[key.pk]), {"post": "yes"}
    )

    # then
    assert delete.status_code == 403
    key.refresh_from_db()
    assert key.name == "till"


def test_revoke_action_sets_revoked_at(admin_client, partner):
    # given
    key, raw_key = services.api_key_create(partner=partner, name="till")
    other, _raw = services.api_key_create(partner=partner, name="shop")

    # when
    response = admin_client.post(
        reverse("admin:accounts_partnerapikey_changelist"),
        {"action": "revoke", "_selected_action": [key.pk], "index": "0"},
    )

    # then
    assert response.status_code == 302
    key.refresh_from_db()
    other.refresh_from_db()
    assert key.revoked_at is not None
    assert other.revoked_at is None
    assert services.api_key_authenticate(raw_key) is None
    assert _messages(response) == ["Revoked 1 API key."]


def test_revoking_again_keeps_the_first_revocation(admin_client, partner):
    # given
    key, _raw = services.api_key_create(partner=partner)
    services.api_key_revoke(key=key)
    first = key.revoked_at

    # when
    response = admin_client.post(
        reverse("admin:accounts_partnerapikey_changelist"),
        {"action": "revoke", "_selected_action": [key.pk], "index": "0"},
    )

    # then
    key.refresh_from_db()
    assert key.revoked_at == first
    assert _messages(response) == ["Revoked 0 API keys."]


def test_key_list_filters_revoked_keys(admin_client, partner):
    # given
    revoked, _raw = services.api_key_create(partner=partner, name="old")
    services.api_key_revoke(key=revoked)
    active, _raw = services.api_key_create(partner=partner, name="new")

    # when
    response = admin_client.get(
        reverse("admin:accounts_partnerapikey_changelist"), {"state": "revoked"}
    )

    # then
    assert [k.pk for k in response.context["cl"].result_list] == [revoked.pk]
