"""The admin of rewards, redemptions and vouchers: lists, search, cancelling, CSV and uploads."""

import csv
import io
import random

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from accounts.models import Member
from loyalty.core.models import LedgerEntry
from rewards import services
from rewards.models import Redemption, Reward, Voucher
from tests import factories
from tests.factories import give_points, make_partner, make_reward


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def _messages(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def png_bytes(size=(48, 32), colour="#6f4e37") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


def noisy_png_bytes(size=(1000, 1000)) -> bytes:
    """A real PNG that does not compress: about 3 MB for 1000 × 1000."""
    rng = random.Random(7)
    buffer = io.BytesIO()
    Image.frombytes("RGB", size, rng.randbytes(size[0] * size[1] * 3)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def coffee(db):
    return make_reward(
        slug="free-coffee",
        name_en="Free coffee",
        points_cost=100,
        stock=5,
        image=ContentFile(png_bytes(), name="free-coffee.png"),
    )


@pytest.fixture
def redemption(member, coffee):
    give_points(member, 300)
    return services.reward_redeem(member=member, reward=coffee)


def snapshot(member, reward):
    return (
        Member.objects.get(pk=member.pk).points_balance,
        Reward.objects.get(pk=reward.pk).stock,
        LedgerEntry.objects.count(),
        list(Redemption.objects.order_by("pk").values_list("status", "cancel_reason")),
        list(Voucher.objects.order_by("pk").values_list("status", flat=True)),
    )


def label(redemption) -> str:
    return (
        f"{redemption.member.member_number} {redemption.reward.name_en} "
        f"({redemption.voucher.display_code})"
    )


# --- pages ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("model_name", ["reward", "redemption", "voucher"])
def test_changelist_returns_200(admin_client, redemption, model_name):
    # when
    response = admin_client.get(reverse(f"admin:rewards_{model_name}_changelist"))

    # then
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == 1


def test_change_pages_return_200(admin_client, redemption):
    # given
    urls = [
        reverse("admin:rewards_reward_add"),
        reverse("admin:rewards_reward_change", args=[redemption.reward_id]),
        reverse("admin:rewards_redemption_change", args=[redemption.pk]),
        reverse("admin:rewards_voucher_change", args=[redemption.voucher.pk]),
    ]

    # when
    statuses = [admin_client.get(url).status_code for url in urls]

    # then
    assert statuses == [200] * len(urls)


def test_redemption_list_shows_the_columns(admin_client, redemption):
    # when
    response = admin_client.get(reverse("admin:rewards_redemption_changelist"))

    # then
    content = response.content.decode()
    assert redemption.member.member_number in content
    assert "Free coffee" in content
    assert redemption.voucher.display_code in content
    assert "Issued" in content


def test_voucher_list_shows_the_columns(admin_client, redemption):
    # when
    response = admin_client.get(reverse("admin:rewards_voucher_changelist"))

    # then
    content = response.content.decode()
    assert redemption.voucher.display_code in content
    assert redemption.member.member_number in content
    assert "Free coffee" in content


def test_reward_list_shows_a_thumbnail_with_alt_text(admin_client, coffee):
    # when
    response = admin_client.get(reverse("admin:rewards_reward_changelist"))

    # then
    content = response.content.decode()
    assert coffee.image.name.startswith("rewards/free-coffee")
    assert f'<img src="{coffee.image.url}" alt="Free coffee"' in content


def test_reward_change_page_shows_a_larger_preview(admin_client, coffee):
    # when
    response = admin_client.get(reverse("admin:rewards_reward_change", args=[coffee.pk]))

    # then
    content = response.content.decode()
    assert f'<img src="{coffee.image.url}" alt="Free coffee" style="max-width: 100%;' in content


def test_reward_without_an_image_shows_no_img(admin_client):
    # given
    make_reward(name_en="Plain")

    # when
    response = admin_client.get(reverse("admin:rewards_reward_changelist"))

    # then
    assert 'src="/media/' not in response.content.decode()


@pytest.mark.parametrize(
    ("window", "shown"),
    [
        ({}, "On"),
        ({"is_active": False}, "Off"),
        ({"active_from": timezone.now() + timezone.timedelta(days=2)}, "From "),
        ({"active_until": timezone.now() - timezone.timedelta(days=2)}, "Ended "),
        ({"active_until": timezone.now() + timezone.timedelta(days=2)}, "Until "),
    ],
)
def test_reward_list_shows_the_availability(admin_client, window, shown):
    # given
    make_reward(name_en="Windowed", **window)

    # when
    response = admin_client.get(reverse("admin:rewards_reward_changelist"))

    # then
    assert f'<td class="field-availability">{shown}' in response.content.decode()


@pytest.mark.parametrize("model_name", ["reward", "redemption", "voucher"])
def test_changelist_queries_do_not_grow_with_rows(admin_client, member, tiers, model_name):
    # given
    give_points(member, 10_000)
    url = reverse(f"admin:rewards_{model_name}_changelist")

    def add_one():
        reward = make_reward(
            points_cost=10, min_tier=tiers["bronze"], image=ContentFile(png_bytes(), name="r.png")
        )
        services.reward_redeem(member=member, reward=reward)

    add_one()
    admin_client.get(url)  # warm the session and content type caches
    with CaptureQueriesContext(connection) as few:
        admin_client.get(url)
    for _ in range(5):
        add_one()

    # when
    with CaptureQueriesContext(connection) as many:
        response = admin_client.get(url)

    # then
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == 6
    assert len(many) == len(few)


# --- read-only history -------------------------------------------------------------------------


@pytest.mark.parametrize("model_name", ["redemption", "voucher"])
def test_history_admins_grant_no_add_change_or_delete(admin_client, redemption, model_name):
    # given
    obj = redemption if model_name == "redemption" else redemption.voucher

    # when
    add = admin_client.get(reverse(f"admin:rewards_{model_name}_add"))
    change = admin_client.post(
        reverse(f"admin:rewards_{model_name}_change", args=[obj.pk]), {"status": "cancelled"}
    )
    delete = admin_client.post(
        reverse(f"admin:rewards_{model_name}_delete", args=[obj.pk]), {"post": "yes"}
    )

    # then
    assert (add.status_code, change.status_code, delete.status_code) == (403, 403, 403)
    assert Redemption.objects.get().status == "active"
    assert Voucher.objects.get().status == "issued"


# --- search --------------------------------------------------------------------------------------


@pytest.fixture
def two_redemptions(redemption, coffee):
    other = factories.make_member(email="jonas@example.com")
    give_points(other, 100)
    return redemption, services.reward_redeem(member=other, reward=coffee)


@pytest.mark.parametrize(
    "term",
    [
        lambda r: r.voucher.display_code.lower(),
        lambda r: r.voucher.code,
        lambda r: " ".join(r.voucher.display_code.split("-")),
        lambda r: r.member.member_number,
        lambda r: "ONA@example.com",
    ],
    ids=["dashed-lower-case-code", "stored-code", "code-with-spaces", "member-number", "e-mail"],
)
def test_redemption_search_finds_the_one(admin_client, two_redemptions, term):
    # given
    mine, _other = two_redemptions

    # when
    response = admin_client.get(reverse("admin:rewards_redemption_changelist"), {"q": term(mine)})

    # then
    assert [r.pk for r in response.context["cl"].result_list] == [mine.pk]


@pytest.mark.parametrize(
    "term",
    [
        lambda r: r.voucher.display_code.lower(),
        lambda r: r.voucher.code,
        lambda r: r.member.member_number,
    ],
    ids=["dashed-lower-case-code", "stored-code", "member-number"],
)
def test_voucher_search_finds_the_one(admin_client, two_redemptions, term):
    # given
    mine, _other = two_redemptions

    # when
    response = admin_client.get(reverse("admin:rewards_voucher_changelist"), {"q": term(mine)})

    # then
    assert [v.pk for v in response.context["cl"].result_list] == [mine.voucher.pk]


def test_code_search_keeps_the_list_filter(admin_client, two_redemptions):
    # given: the voucher searched for is issued, the filter asks for used ones
    mine, _other = two_redemptions

    # when
    response = admin_client.get(
        reverse("admin:rewards_voucher_changelist"),
        {"q": mine.voucher.display_code.lower(), "status__exact": "used"},
    )

    # then
    assert list(response.context["cl"].result_list) == []


def test_search_for_an_unknown_code_finds_nothing(admin_client, two_redemptions):
    # when
    response = admin_client.get(
        reverse("admin:rewards_redemption_changelist"), {"q": "zzzz-zzzz-zzzz"}
    )

    # then
    assert list(response.context["cl"].result_list) == []


def test_redemption_list_filters_by_status(admin_client, two_redemptions):
    # given
    mine, other = two_redemptions
    services.redemption_cancel(redemption=other, reason="x")

    # when
    response = admin_client.get(
        reverse("admin:rewards_redemption_changelist"), {"status__exact": "active"}
    )

    # then
    assert [r.pk for r in response.context["cl"].result_list] == [mine.pk]


# --- cancelling ----------------------------------------------------------------------------------


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


# --- CSV -----------------------------------------------------------------------------------------


def _csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode("utf-8"))))


def test_redemption_csv_export(admin_client, member, two_redemptions):
    # given
    mine, other = two_redemptions
    services.voucher_use(code=mine.voucher.code, partner=make_partner("Till"))
    mine.voucher.refresh_from_db()

    # when
    response = admin_client.post(
        reverse("admin:rewards_redemption_changelist"),
        {"action": "export_csv", "_selected_action": [mine.pk, other.pk], "index": "0"},
    )

    # then
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="redemptions-')
    rows = _csv_rows(response)
    assert rows[0] == [
        "redeemed at",
        "member number",
        "e-mail address",
        "reward",
        "points spent",
        "status",
        "voucher code",
        "voucher status",
        "voucher valid until",
        "used at",
    ]
    by_number = {row[1]: row for row in rows[1:]}
    assert len(rows) == 3
    assert by_number[member.member_number] == [
        timezone.localtime(mine.created_at).isoformat(timespec="seconds"),
        member.member_number,
        "ona@example.com",
        "Free coffee",
        "100",
        "Active",
        mine.voucher.display_code,
        "Used",
        mine.voucher.expires_on.isoformat(),
        timezone.localtime(mine.voucher.used_at).isoformat(timespec="seconds"),
    ]
    assert by_number[other.member.member_number][6:] == [
        other.voucher.display_code,
        "Issued",
        other.voucher.expires_on.isoformat(),
        "",
    ]


def test_csv_export_writes_a_formula_as_text(admin_client, member):
    # given
    give_points(member, 100)
    reward = make_reward(name_en="=HYPERLINK(1)")
    redemption = services.reward_redeem(member=member, reward=reward)

    # when
    response = admin_client.post(
        reverse("admin:rewards_redemption_changelist"),
        {"action": "export_csv", "_selected_action": [redemption.pk], "index": "0"},
    )

    # then
    assert _csv_rows(response)[1][3] == "'=HYPERLINK(1)"


def test_voucher_csv_export(admin_client, member, redemption):
    # given
    till = make_partner("Till")
    services.voucher_use(code=redemption.voucher.code, partner=till)
    voucher = Voucher.objects.get()

    # when
    response = admin_client.post(
        reverse("admin:rewards_voucher_changelist"),
        {"action": "export_csv", "_selected_action": [voucher.pk], "index": "0"},
    )

    # then
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert _csv_rows(response) == [
        [
            "code",
            "issued at",
            "member number",
            "e-mail address",
            "reward",
            "status",
            "valid until",
            "used at",
            "used by",
        ],
        [
            voucher.display_code,
            timezone.localtime(voucher.created_at).isoformat(timespec="seconds"),
            member.member_number,
            "ona@example.com",
            "Free coffee",
            "Used",
            voucher.expires_on.isoformat(),
            timezone.localtime(voucher.used_at).isoformat(timespec="seconds"),
            "Till",
        ],
    ]


# --- reward form and uploads -------------------------------------------------------------------


def _reward_data(**overrides) -> dict:
    data = {
        "slug": "cake",
        "kind": "free_item",
        "value": "",
        "name_en": "Free cake",
        "name_lt": "Nemokamas pyragas",
        "points_cost": "200",
        "stock": "",
        "limit_per_member": "",
        "min_tier": "",
        "is_active": "on",
        "active_from_0": "",
        "active_from_1": "",
        "active_until_0": "",
        "active_until_1": "",
        "voucher_valid_days": "30",
        "return_points_on_expiry": "on",
    }
    return {**data, **overrides}


def test_reward_can_be_added_with_an_image(admin_client):
    # given
    image = SimpleUploadedFile("cake.png", png_bytes(), content_type="image/png")

    # when
    response = admin_client.post(reverse("admin:rewards_reward_add"), _reward_data(image=image))

    # then
    assert response.status_code == 302
    reward = Reward.objects.get()
    assert (reward.slug, reward.name_en, reward.name_lt) == (
        "cake",
        "Free cake",
        "Nemokamas pyragas",
    )
    assert reward.image.name.startswith("rewards/cake")
    assert reward.image.storage.exists(reward.image.name)


def test_a_non_image_upload_is_refused(admin_client):
    # given: a .png whose bytes are not an image
    fake = SimpleUploadedFile("cake.png", b"<?php echo 'hello'; ?>", content_type="image/png")

    # when
    response = admin_client.post(reverse("admin:rewards_reward_add"), _reward_data(image=fake))

    # then
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "image": [
            "Upload a valid image. The file you uploaded was either not an image or a "
            "corrupted image."
        ]
    }
    assert Reward.objects.count() == 0


def test_an_image_over_2_mb_is_refused(admin_client):
    # given
    content = noisy_png_bytes()
    assert len(content) > 2 * 1024 * 1024
    big = SimpleUploadedFile("cake.png", content, content_type="image/png")

    # when
    response = admin_client.post(reverse("admin:rewards_reward_add"), _reward_data(image=big))

    # then
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "image": ["The image is larger than 2 MB."]
    }
    assert Reward.objects.count() == 0


def test_an_image_with_another_extension_is_refused(admin_client):
    # given: a real image, named as a type the catalogue does not take
    gif = io.BytesIO()
    Image.new("RGB", (8, 8)).save(gif, format="GIF")
    upload = SimpleUploadedFile("cake.gif", gif.getvalue(), content_type="image/gif")

    # when
    response = admin_client.post(reverse("admin:rewards_reward_add"), _reward_data(image=upload))

    # then
    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == ["image"]
    assert Reward.objects.count() == 0


def test_saving_a_reward_keeps_stock_taken_since_the_form_was_opened(admin_client, member, coffee):
    # given: staff open the form while the stock is 5, then a member redeems one
    url = reverse("admin:rewards_reward_change", args=[coffee.pk])
    page = admin_client.get(url)
    assert 'name="initial-stock" value="5"' in page.content.decode()
    form = page.context["adminform"].form
    data = {
        name: value for name, value in form.initial.items() if name != "image" and value is not None
    }
    data.update(
        {
            "initial-stock": "5",  # the stock as the form showed it
            "is_active": "on",
            "return_points_on_expiry": "on",
            "min_tier": "",
            "value": "",
            "limit_per_member": "",
            "active_from_0": "",
            "active_from_1": "",
            "active_until_0": "",
            "active_until_1": "",
        }
    )
    give_points(member, 100)
    services.reward_redeem(member=member, reward=coffee)

    # when: they change the name only
    response = admin_client.post(url, {**data, "name_en": "Free coffee or tea"})

    # then
    assert response.status_code == 302
    coffee.refresh_from_db()
    assert (coffee.name_en, coffee.stock) == ("Free coffee or tea", 4)
    assert coffee.image.name.startswith("rewards/free-coffee")


def test_staff_can_still_set_the_stock(admin_client, coffee):
    # given
    url = reverse("admin:rewards_reward_change", args=[coffee.pk])
    data = _reward_data(slug="free-coffee", name_en="Free coffee", points_cost="100")

    # when
    response = admin_client.post(url, {**data, "stock": "12", "initial-stock": "5"})

    # then
    assert response.status_code == 302
    coffee.refresh_from_db()
    assert (coffee.stock, coffee.points_cost) == (12, 100)


def test_occasion_grants_are_listed_read_only(admin_client, member):
    from rewards.models import OccasionGrant

    response = admin_client.get("/admin/rewards/occasiongrant/")
    assert response.status_code == 200
    assert admin_client.get("/admin/rewards/occasiongrant/add/").status_code == 403
    assert OccasionGrant.objects.count() == 0
