"""Cancelling redemptions in the rewards admin: the reason, points and stock returned, refusals."""

from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.urls import reverse

from accounts.models import Member
from loyalty.core.models import LedgerEntry
from rewards import services
from rewards.models import Redemption, Reward, Voucher
from tests.factories import make_partner
from tests.rewards.admin_helpers import _messages, label, snapshot


def _cancel_action(client, redemptions, **data):
    return client.post(
        reverse("admin:rewards_redemption_changelist"),
        {"action": "cancel_redemptions", "_selected_action": [r.pk for r in redemptions], **data},
    )


def test_cancel_action_asks_for_a_reason_first(admin_client, member, coffee, redemption):
    # given
    before = snapshot(member, coffee)

    # when
    response = _cancel_action(admin_client, [redemption], index="0")

    # then
    assert response.status_code == 200
    assert response.templates[0].name == "admin/rewards/redemption_cancel.html"
    assert response.context["selected_pks"] == [redemption.pk]
    assert redemption.voucher.display_code in response.content.decode()
    assert snapshot(member, coffee) == before


def test_cancel_action_without_a_reason_shows_a_form_error(
    admin_client, member, coffee, redemption
):
    # given
    before = snapshot(member, coffee)

    # when
    response = _cancel_action(admin_client, [redemption], _apply="1", reason="")

    # then
    assert response.status_code == 200
    assert response.context["form"].errors == {"reason": ["This field is required."]}
    assert snapshot(member, coffee) == before


def test_cancel_action_returns_points_and_stock(admin_client, member, coffee, redemption):
    # given
    assert Member.objects.get(pk=member.pk).points_balance == 200
    assert Reward.objects.get(pk=coffee.pk).stock == 4

    # when
    response = _cancel_action(admin_client, [redemption], _apply="1", reason=" Wrong reward ")

    # then
    assert response.status_code == 302
    assert Member.objects.get(pk=member.pk).points_balance == 300
    assert Reward.objects.get(pk=coffee.pk).stock == 5
    redemption.refresh_from_db()
    assert (redemption.status, redemption.cancel_reason) == ("cancelled", "Wrong reward")
    assert redemption.voucher.status == "cancelled"
    reversal = LedgerEntry.objects.get(kind="reversal")
    assert (reversal.reverses_id, reversal.points) == (redemption.spend_entry_id, 100)
    assert _messages(response) == [f"{label(redemption)}: cancelled, 100 points returned."]


def test_cancel_action_refuses_a_used_voucher_and_changes_nothing(
    admin_client, member, coffee, redemption
):
    # given
    services.voucher_use(code=redemption.voucher.code, partner=make_partner("Till"))
    before = snapshot(member, coffee)

    # when
    response = _cancel_action(admin_client, [redemption], _apply="1", reason="Wrong reward")

    # then
    assert response.status_code == 302
    assert snapshot(member, coffee) == before
    assert Voucher.objects.get().status == "used"
    assert _messages(response) == [
        f"{label(redemption)}: Only a redemption whose voucher is still unused can be "
        "cancelled. Nothing was changed for this redemption."
    ]
    [message] = get_messages(response.wsgi_request)
    assert message.level_tag == "error"


def test_cancel_action_cancels_what_it_can_and_reports_the_rest(
    admin_client, member, coffee, two_redemptions
):
    # given
    used, cancellable = two_redemptions
    services.voucher_use(code=used.voucher.code, partner=make_partner("Till"))

    # when
    response = _cancel_action(admin_client, [used, cancellable], _apply="1", reason="Mistake")

    # then
    statuses = dict(Redemption.objects.values_list("pk", "status"))
    assert statuses == {used.pk: "active", cancellable.pk: "cancelled"}
    assert Member.objects.get(pk=member.pk).points_balance == 200
    assert Member.objects.get(pk=cancellable.member_id).points_balance == 100
    assert Reward.objects.get(pk=coffee.pk).stock == 4
    assert _messages(response) == [
        f"{label(used)}: Only a redemption whose voucher is still unused can be cancelled. "
        "Nothing was changed for this redemption.",
        f"{label(cancellable)}: cancelled, 100 points returned.",
    ]


def test_cancel_action_needs_the_change_permission(client, staff_user, redemption):
    # given: a staff user who may only view redemptions
    staff_user.user_permissions.add(Permission.objects.get(codename="view_redemption"))
    client.force_login(staff_user)
    url = reverse("admin:rewards_redemption_changelist")

    # when
    page = client.get(url)
    response = _cancel_action(client, [redemption], _apply="1", reason="x")

    # then
    assert set(page.context["cl"].model_admin.get_actions(page.wsgi_request)) == {"export_csv"}
    assert response.status_code == 302
    assert _messages(response) == ["No action selected."]
    assert Redemption.objects.get().status == "active"
