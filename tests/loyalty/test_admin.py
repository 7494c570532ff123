"""The admin of the ledger, purchases and configuration, and adjusting points from the admin."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from accounts import services as account_services
from accounts.models import Member
from loyalty.core.ledger import points_adjust
from loyalty.core.models import (
    EarningRule,
    LedgerEntry,
    PointLot,
    Purchase,
    Refund,
    Tier,
    TierChange,
)
from loyalty.core.purchases import purchase_record
from loyalty.core.refunds import purchase_refund
from tests import factories


def _messages(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.fixture
def history(member, partner, base_rule, admin_user):
    """A purchase that lifts the member to Silver, a partial refund and a staff adjustment."""
    result = purchase_record(
        partner=partner,
        member=member,
        external_id="R-1001",
        amount="600.00",
        currency="EUR",
        lines=[
            {"sku": "TEA", "amount": "100.00", "category": "tea"},
            {"sku": "POT", "amount": "500.00"},
        ],
    )
    points_adjust(member=member, points=-550, staff_user=admin_user, reason="Typo fix")
    refund = purchase_refund(purchase=result.purchase, external_id="RF-1", amount="100")
    return {"purchase": result.purchase, "refund": refund}


# --- every page answers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "model_name",
    ["ledgerentry", "pointlot", "purchase", "refund", "tierchange", "tier", "earningrule"],
    ids=lambda name: name,
)
def test_changelist_returns_200(admin_client, history, model_name):
    # when
    response = admin_client.get(reverse(f"admin:loyalty_{model_name}_changelist"))

    # then
    assert response.status_code == 200
    assert response.context["cl"].result_count >= 1


def test_history_detail_pages_return_200(admin_client, history, member):
    # given
    objects = [
        LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REVERSAL).get(),
        LedgerEntry.objects.filter(kind=LedgerEntry.Kind.ADJUST).get(),
        PointLot.objects.first(),
        history["purchase"],
        history["refund"],
        TierChange.objects.get(),
        Tier.objects.first(),
        EarningRule.objects.get(),
    ]

    # when
    statuses = [
        admin_client.get(
            reverse(f"admin:loyalty_{obj._meta.model_name}_change", args=[obj.pk])
        ).status_code
        for obj in objects
    ]

    # then
    assert statuses == [200] * len(objects)


def test_the_history_fixture_is_what_the_pages_show(history, member):
    # then
    member.refresh_from_db()
    refund = history["refund"]
    assert member.tier.code == "silver"
    assert member.points_balance == 0
    assert (refund.points_reversed, refund.points_unrecovered) == (50, 50)


def test_refund_page_shows_points_unrecovered(admin_client, history):
    # when
    response = admin_client.get(reverse("admin:loyalty_refund_change", args=[history["refund"].pk]))

    # then
    fields = {
        line.field["name"]: line.contents()
        for fieldset in response.context["adminform"]
        for row in fieldset
        for line in row
    }
    assert (fields["points_reversed"], fields["points_unrecovered"]) == ("50", "50")


def test_refund_list_filters_unrecovered(admin_client, history):
    # when
    some = admin_client.get(reverse("admin:loyalty_refund_changelist"), {"unrecovered": "yes"})
    none = admin_client.get(reverse("admin:loyalty_refund_changelist"), {"unrecovered": "no"})

    # then
    assert [r.pk for r in some.context["cl"].result_list] == [history["refund"].pk]
    assert list(none.context["cl"].result_list) == []


def test_purchase_page_shows_lines_refunds_and_why(admin_client, history):
    # when
    response = admin_client.get(
        reverse("admin:loyalty_purchase_change", args=[history["purchase"].pk])
    )

    # then
    lines, refunds = response.context["inline_admin_formsets"]
    assert [form.instance.sku for form in lines.formset.forms] == ["TEA", "POT"]
    assert [form.instance.external_id for form in refunds.formset.forms] == ["RF-1"]
    assert "600 points in all (rounded down)" in response.content.decode()


def test_purchase_search_by_external_id_and_member_number(admin_client, history, member, partner):
    # given
    other = factories.make_member(email="other@example.com")
    purchase_record(
        partner=partner, member=other, external_id="R-2002", amount="10", currency="EUR"
    )
    url = reverse("admin:loyalty_purchase_changelist")

    # when
    by_id = admin_client.get(url, {"q": "R-1001"})
    by_number = admin_client.get(url, {"q": member.member_number})

    # then
    assert [p.pk for p in by_id.context["cl"].result_list] == [history["purchase"].pk]
    assert [p.pk for p in by_number.context["cl"].result_list] == [history["purchase"].pk]


def test_purchase_list_filters_by_partner(admin_client, history, member):
    # given
    other_partner = factories.make_partner("Web Shop")
    purchase_record(
        partner=other_partner, member=member, external_id="W-1", amount="5", currency="EUR"
    )

    # when
    response = admin_client.get(
        reverse("admin:loyalty_purchase_changelist"), {"partner__id__exact": other_partner.pk}
    )

    # then
    assert [p.external_id for p in response.context["cl"].result_list] == ["W-1"]


# --- the ledger is read-only ------------------------------------------------------------------


def test_ledger_admin_grants_no_add_change_or_delete(admin_client, history):
    # when
    response = admin_client.get(reverse("admin:loyalty_ledgerentry_changelist"))

    # then
    assert response.context["has_add_permission"] is False
    assert response.context["action_form"] is None  # no actions at all, so no bulk delete
    entry = LedgerEntry.objects.first()
    page = admin_client.get(reverse("admin:loyalty_ledgerentry_change", args=[entry.pk]))
    assert page.context["has_change_permission"] is False
    assert page.context["has_delete_permission"] is False


def test_posting_a_ledger_delete_is_refused(admin_client, admin_user, member):
    # given
    entry = points_adjust(member=member, points=30, staff_user=admin_user, reason="x")

    # when
    response = admin_client.post(
        reverse("admin:loyalty_ledgerentry_delete", args=[entry.pk]), {"post": "yes"}
    )
    bulk = admin_client.post(
        reverse("admin:loyalty_ledgerentry_changelist"),
        {"action": "delete_selected", "_selected_action": [entry.pk], "post": "yes"},
    )

    # then
    assert response.status_code == 403
    assert bulk.status_code == 200
    assert LedgerEntry.objects.filter(pk=entry.pk).count() == 1
    member.refresh_from_db()
    assert member.points_balance == 30


def test_posting_a_ledger_change_or_add_is_refused(admin_client, admin_user, member):
    # given
    entry = points_adjust(member=member, points=30, staff_user=admin_user, reason="x")

    # when
    change = admin_client.post(
        reverse("admin:loyalty_ledgerentry_change", args=[entry.pk]),
        {"points": "3000", "balance_after": "3000", "reason": "x"},
    )
    add = admin_client.post(
        reverse("admin:loyalty_ledgerentry_add"),
        {"member": member.pk, "kind": "adjust", "points": "5", "reason": "x"},
    )

    # then
    assert (change.status_code, add.status_code) == (403, 403)
    entry.refresh_from_db()
    assert (entry.points, entry.balance_after) == (30, 30)
    assert LedgerEntry.objects.count() == 1


@pytest.mark.parametrize(
    "model_name", ["pointlot", "purchase", "refund", "tierchange"], ids=lambda name: name
)
def test_history_admins_refuse_delete(admin_client, history, model_name):
    # given
    model = {"pointlot": PointLot, "purchase": Purchase, "refund": Refund}.get(
        model_name, TierChange
    )
    obj = model.objects.first()

    # when
    response = admin_client.post(
        reverse(f"admin:loyalty_{model_name}_delete", args=[obj.pk]), {"post": "yes"}
    )

    # then
    assert response.status_code == 403
    assert model.objects.filter(pk=obj.pk).exists()


def test_ledger_search_by_member_number_and_email(admin_client, admin_user, member):
    # given
    other = factories.make_member(email="other@example.com")
    mine = points_adjust(member=member, points=5, staff_user=admin_user, reason="x")
    points_adjust(member=other, points=7, staff_user=admin_user, reason="y")
    url = reverse("admin:loyalty_ledgerentry_changelist")

    # when
    by_number = admin_client.get(url, {"q": member.member_number})
    by_email = admin_client.get(url, {"q": "Ona@Example.com"})

    # then
    assert [e.pk for e in by_number.context["cl"].result_list] == [mine.pk]
    assert [e.pk for e in by_email.context["cl"].result_list] == [mine.pk]


def test_ledger_filters_by_kind_and_date(admin_client, history):
    # given
    url = reverse("admin:loyalty_ledgerentry_changelist")
    month_ago = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0) - (
        timedelta(days=30)
    )

    # when
    adjusts = admin_client.get(url, {"kind__exact": "adjust"})
    old = admin_client.get(
        url,
        {"created_at__lt": month_ago.isoformat()},
    )

    # then
    assert [e.kind for e in adjusts.context["cl"].result_list] == ["adjust"]
    assert list(old.context["cl"].result_list) == []


def test_member_page_links_to_the_members_ledger(admin_client, admin_user, member):
    # given
    other = factories.make_member(email="other@example.com")
    points_adjust(member=other, points=7, staff_user=admin_user, reason="y")
    mine = points_adjust(member=member, points=5, staff_user=admin_user, reason="x")

    # when
    response = admin_client.get(
        reverse("admin:loyalty_ledgerentry_changelist"), {"member__id__exact": member.pk}
    )

    # then
    assert [e.pk for e in response.context["cl"].result_list] == [mine.pk]


# --- adjusting points -------------------------------------------------------------------------


def _adjust_action(client, members, **data):
    return client.post(
        reverse("admin:accounts_member_changelist"),
        {"action": "adjust_points", "_selected_action": [m.pk for m in members], **data},
    )


def test_adjust_action_shows_the_form_first(admin_client, member):
    # when
    response = _adjust_action(admin_client, [member], index="0")

    # then
    assert response.status_code == 200
    assert response.templates[0].name == "admin/loyalty/adjust_points.html"
    assert response.context["selected_pks"] == [member.pk]
    assert LedgerEntry.objects.count() == 0


def test_adjust_action_credits_with_a_reason(admin_client, admin_user, member):
    # when
    response = _adjust_action(
        admin_client, [member], _apply="1", points="120", reason=" Missed receipt "
    )

    # then
    assert response.status_code == 302
    entry = LedgerEntry.objects.get()
    assert (entry.kind, entry.points, entry.balance_after) == ("adjust", 120, 120)
    assert (entry.staff_user, entry.reason) == (admin_user, "Missed receipt")
    member.refresh_from_db()
    assert member.points_balance == 120
    assert PointLot.objects.get().remaining == 120
    assert _messages(response) == [f"{member.member_number}: +120 points, balance now 120."]


def test_adjust_action_debits_with_a_negative_number(admin_client, admin_user, member):
    # given
    points_adjust(member=member, points=100, staff_user=admin_user, reason="x")

    # when
    response = _adjust_action(admin_client, [member], _apply="1", points="-40", reason="Oops")

    # then
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.points_balance == 60
    assert LedgerEntry.objects.order_by("id").last().points == -40


def test_adjust_action_without_a_reason_shows_a_form_error(admin_client, member):
    # when
    response = _adjust_action(admin_client, [member], _apply="1", points="50", reason="")

    # then
    assert response.status_code == 200
    assert response.context["form"].errors == {"reason": ["This field is required."]}
    member.refresh_from_db()
    assert member.points_balance == 0
    assert LedgerEntry.objects.count() == 0


def test_adjust_action_refuses_zero_points(admin_client, member):
    # when
    response = _adjust_action(admin_client, [member], _apply="1", points="0", reason="x")

    # then
    assert response.context["form"].errors == {"points": ["Enter a number other than zero."]}
    assert LedgerEntry.objects.count() == 0


def test_too_large_negative_adjust_shows_an_error_and_changes_nothing(
    admin_client, admin_user, member
):
    # given
    points_adjust(member=member, points=100, staff_user=admin_user, reason="x")

    # when
    response = _adjust_action(admin_client, [member], _apply="1", points="-101", reason="Oops")

    # then
    assert response.status_code == 302
    assert _messages(response) == [
        f"{member.member_number}: The member does not have enough points. "
        "Nothing was changed for this member."
    ]
    member.refresh_from_db()
    assert member.points_balance == 100
    assert LedgerEntry.objects.count() == 1
    assert PointLot.objects.get().remaining == 100


def test_adjust_action_changes_the_members_that_can_and_reports_the_others(
    admin_client, admin_user, member
):
    # given
    rich = factories.make_member(email="rich@example.com")
    points_adjust(member=rich, points=500, staff_user=admin_user, reason="x")

    # when
    response = _adjust_action(admin_client, [member, rich], _apply="1", points="-200", reason="y")

    # then
    member.refresh_from_db()
    rich.refresh_from_db()
    assert (member.points_balance, rich.points_balance) == (0, 300)
    assert _messages(response) == [
        f"{member.member_number}: The member does not have enough points. "
        "Nothing was changed for this member.",
        f"{rich.member_number}: -200 points, balance now 300.",
    ]


def test_adjust_action_reports_a_closed_membership(admin_client, admin_user, member):
    # given
    account_services.member_set_status(
        member=member, status=Member.Status.CLOSED, staff_user=admin_user, reason="Left"
    )

    # when
    response = _adjust_action(admin_client, [member], _apply="1", points="10", reason="x")

    # then
    assert _messages(response) == [
        f"{member.member_number}: The membership is closed. Nothing was changed for this member."
    ]
    member.refresh_from_db()
    assert member.points_balance == 0


def test_adjust_page_of_one_member_credits(admin_client, admin_user, member):
    # given
    url = reverse("admin:accounts_member_adjust_points", args=[member.pk])

    # when
    page = admin_client.get(url)
    response = admin_client.post(url, {"points": "25", "reason": "Birthday cake"})

    # then
    assert page.status_code == 200
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:accounts_member_change", args=[member.pk])
    member.refresh_from_db()
    assert member.points_balance == 25
    assert LedgerEntry.objects.get().reason == "Birthday cake"


def test_adjust_page_shows_a_service_error_on_the_form(admin_client, member):
    # when
    response = admin_client.post(
        reverse("admin:accounts_member_adjust_points", args=[member.pk]),
        {"points": "-1", "reason": "x"},
    )

    # then
    assert response.status_code == 200
    assert response.context["form"].errors == {
        "__all__": ["The member does not have enough points."]
    }
    member.refresh_from_db()
    assert member.points_balance == 0


def test_adjust_needs_the_change_permission(client, staff_user, member):
    # given
    client.force_login(staff_user)

    # when
    page = client.post(
        reverse("admin:accounts_member_adjust_points", args=[member.pk]),
        {"points": "1000", "reason": "x"},
    )

    # then
    assert page.status_code == 403
    assert LedgerEntry.objects.count() == 0


# --- configuration is editable ----------------------------------------------------------------


def test_tier_can_be_added(admin_client, tiers):
    # when
    response = admin_client.post(
        reverse("admin:loyalty_tier_add"),
        {
            "code": "platinum",
            "name": "Platinum",
            "rank": "3",
            "qualifying_points": "5000",
            "earn_multiplier": "2",
            "discount_percent": "15",
            "benefits_en": "",
        },
    )

    # then
    assert response.status_code == 302
    tier = Tier.objects.get(code="platinum")
    assert (tier.rank, tier.earn_multiplier) == (3, Decimal("2.00"))


def test_earning_rule_form_refuses_a_rule_that_is_neither_rate_nor_promotion(admin_client):
    # when
    response = admin_client.post(
        reverse("admin:loyalty_earningrule_add"),
        {"name": "Both", "is_active": "on", "points_per_unit": "1", "multiplier": "2"},
    )

    # then
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "__all__": ["Constraint “earning_rule_is_rate_or_multiplier” is violated."]
    }
    assert EarningRule.objects.count() == 0


def test_earning_rule_can_be_added(admin_client, partner):
    # when
    response = admin_client.post(
        reverse("admin:loyalty_earningrule_add"),
        {
            "name": "Double tea",
            "is_active": "on",
            "points_per_unit": "0",
            "multiplier": "2",
            "partner": partner.pk,
            "category": "tea",
        },
    )

    # then
    assert response.status_code == 302
    rule = EarningRule.objects.get()
    assert (rule.multiplier, rule.partner, rule.category) == (Decimal("2.00"), partner, "tea")
