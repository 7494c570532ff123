"""The rewards admin's pages: lists, change pages, images, availability, queries, history."""

import pytest
from django.core.files.base import ContentFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from rewards import services
from rewards.models import Redemption, Voucher
from tests.factories import give_points, make_reward
from tests.rewards.admin_helpers import png_bytes


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
