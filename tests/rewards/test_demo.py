"""The demo reward catalogue that seed_demo adds, and the demo member's voucher."""

from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.utils import timezone, translation
from PIL import Image

from accounts.models import Member
from loyalty import demo
from loyalty.core.demo import SeedReport
from rewards import demo as rewards_demo
from rewards.models import Redemption, Reward, Voucher
from rewards.services import member_cost, redemption_cancel
from tests import factories

pytestmark = pytest.mark.django_db

LANGUAGES = ["en", "lt", "bg", "da", "ru", "pl"]


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def stored_files(root: Path) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())


def test_seed_demo_creates_the_five_rewards():
    # when
    demo.seed_demo()

    # then
    rewards = {
        r.slug: (
            r.name_en,
            r.kind,
            r.value,
            r.points_cost,
            r.stock,
            r.limit_per_member,
            r.min_tier.code if r.min_tier else None,
            r.is_active,
        )
        for r in Reward.objects.select_related("min_tier")
    }
    assert rewards == {
        "free-coffee": ("Free coffee", "free_item", None, 150, None, None, None, True),
        "five-eur-off": ("5 EUR off", "amount_off", Decimal("5.00"), 400, None, None, None, True),
        "ten-percent-off-basket": (
            "10% off your next basket",
            "percent_off",
            Decimal("10.00"),
            600,
            None,
            None,
            "silver",
            True,
        ),
        "donate-childrens-hospital": (
            "Donate 5 EUR to the children's hospital",
            "donation",
            Decimal("5.00"),
            300,
            None,
            None,
            None,
            True,
        ),
        "tasting-evening": (
            "Tasting evening invitation",
            "event",
            None,
            1200,
            20,
            1,
            "gold",
            True,
        ),
    }


def test_every_demo_reward_has_its_image_in_the_storage(media_root):
    # when
    demo.seed_demo()

    # then
    for reward in Reward.objects.all():
        assert reward.image.name == f"rewards/{reward.slug}.png"
        assert default_storage.exists(reward.image.name)
        assert 0 < reward.image.size < 30 * 1024
        assert (reward.image.width, reward.image.height) == (480, 320)
    assert stored_files(media_root) == sorted(
        f"rewards/{slug}.png" for slug in Reward.objects.values_list("slug", flat=True)
    )


def test_the_shipped_images_are_small_pngs():
    # then
    for spec in rewards_demo.REWARDS:
        path = rewards_demo.IMAGES_DIR / spec["image"]
        assert path.stat().st_size < 30 * 1024
        with Image.open(path) as image:
            assert (image.format, image.size) == ("PNG", (480, 320))


def test_every_demo_reward_speaks_all_six_languages():
    # when
    demo.seed_demo()

    # then
    for reward in Reward.objects.all():
        names = [getattr(reward, f"name_{code}") for code in LANGUAGES]
        descriptions = [getattr(reward, f"description_{code}") for code in LANGUAGES]
        assert all(names) and all(descriptions), reward.slug
        assert reward.name_lt != reward.name_en
        assert len(set(names)) == len(LANGUAGES), reward.slug
        assert len(set(descriptions)) == len(LANGUAGES), reward.slug


def test_a_member_sees_the_reward_in_their_language():
    # when
    demo.seed_demo()

    # then
    coffee = Reward.objects.get(slug="free-coffee")
    seen = {}
    for code in LANGUAGES:
        with translation.override(code):
            seen[code] = coffee.name
    assert seen == {
        "en": "Free coffee",
        "lt": "Nemokama kava",
        "bg": "Безплатно кафе",
        "da": "Gratis kaffe",
        "ru": "Бесплатный кофе",
        "pl": "Darmowa kawa",
    }


def test_the_demo_member_holds_a_free_coffee_voucher():
    # when
    data = demo.seed_demo()

    # then
    member = Member.objects.get()
    redemption = Redemption.objects.select_related("reward", "voucher", "spend_entry").get()
    assert (redemption.member, redemption.reward.slug) == (member, "free-coffee")
    assert redemption.status == "active"
    assert redemption.points_spent == member_cost(reward=redemption.reward, member=member)
    assert redemption.spend_entry.points == -redemption.points_spent
    assert redemption.voucher.status == "issued"
    assert redemption.voucher.expires_on > timezone.localdate()
    assert data.voucher == redemption.voucher


def test_seeding_twice_creates_no_duplicates(media_root):
    # given
    demo.seed_demo()
    rewards = list(Reward.objects.order_by("pk").values())
    files = stored_files(media_root)
    balance = Member.objects.get().points_balance

    # when
    data = demo.seed_demo()

    # then
    assert list(Reward.objects.order_by("pk").values()) == rewards
    assert (Redemption.objects.count(), Voucher.objects.count()) == (1, 1)
    assert stored_files(media_root) == files
    assert Member.objects.get().points_balance == balance
    assert not data.report.changed


def test_a_cancelled_demo_voucher_is_not_issued_again():
    # given
    demo.seed_demo()
    redemption_cancel(redemption=Redemption.objects.get(), reason="Tried it out")

    # when
    data = demo.seed_demo()

    # then
    assert Redemption.objects.count() == 1
    assert data.voucher is None
    assert not data.report.changed


def test_seed_adds_only_the_missing_rewards(media_root):
    # given: a catalogue that already has the free coffee, without an image
    tiers = factories.make_tiers()
    existing = factories.make_reward(slug="free-coffee", name_en="Coffee on us", points_cost=99)

    # when
    rewards_demo.seed_catalogue(report=(report := SeedReport()), tiers=tiers)

    # then
    assert report.created == {"rewards": 4}
    assert Reward.objects.count() == 5
    existing.refresh_from_db()
    assert (existing.name_en, existing.points_cost, existing.image.name) == (
        "Coffee on us",
        99,
        "",
    )
    assert "rewards/free-coffee.png" not in stored_files(media_root)


def test_a_member_without_the_points_gets_no_voucher(tiers):
    # given
    member = factories.make_member()
    reward = factories.make_reward(points_cost=150)
    report = SeedReport()

    # when
    redemption = rewards_demo.seed_redemption(
        report=report, member=member, reward=reward, now=timezone.now()
    )

    # then
    assert redemption is None
    assert Redemption.objects.count() == 0
    assert Member.objects.get(pk=member.pk).points_balance == 0
    assert not report.changed


def test_seed_demo_output_lists_the_rewards_and_the_voucher():
    # given
    out = StringIO()

    # when
    call_command("seed_demo", stdout=out)

    # then
    lines = out.getvalue().splitlines()
    voucher = Voucher.objects.get()
    assert ", 5 rewards, 1 redemption, " in lines[0]
    assert "Rewards:       Free coffee (150 points)" in lines
    assert "               10% off your next basket (600 points, Silver and above)" in lines
    assert "               Tasting evening invitation (1200 points, Gold and above)" in lines
    assert (
        f"               the demo member holds voucher {voucher.display_code} "
        f"(Free coffee, valid until {voucher.expires_on})"
    ) in lines
