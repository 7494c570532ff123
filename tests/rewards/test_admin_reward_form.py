"""The reward form in the rewards admin: image uploads, the stock, and occasion grants."""

import io

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from rewards import services
from rewards.models import Reward
from tests.factories import give_points
from tests.rewards.admin_helpers import noisy_png_bytes, png_bytes


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
