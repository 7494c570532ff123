"""Demo rewards: a small catalogue in all six languages, with images, and one voucher for the demo
member. Called by loyalty.demo.seed_demo; like the other parts it only adds what is missing.

The images ship in rewards/demo_images/ and are copied into the media storage only when their
reward is created, so a second seed neither duplicates a reward nor its file.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from django.core.files import File

from accounts.models import Member
from loyalty.base.errors import LoyaltyError
from loyalty.core.demo import SeedReport
from loyalty.core.models import Tier

from . import services
from .models import Redemption, Reward

if TYPE_CHECKING:
    from datetime import datetime

SeedReport.describe(rewards=("reward", "rewards"), redemptions=("redemption", "redemptions"))

IMAGES_DIR = Path(__file__).resolve().parent / "demo_images"
MEMBER_REWARD = "free-coffee"

# Matched by slug. "image" names a file in IMAGES_DIR; "min_tier" a tier code.
REWARDS = [
    {
        "slug": "free-coffee",
        "kind": Reward.Kind.FREE_ITEM,
        "points_cost": 150,
        "image": "free-coffee.png",
        "name": {
            "en": "Free coffee",
            "lt": "Nemokama kava",
            "bg": "Безплатно кафе",
            "da": "Gratis kaffe",
            "ru": "Бесплатный кофе",
            "pl": "Darmowa kawa",
        },
        "description": {
            "en": "Any coffee from our menu, on us. Show the voucher at the till.",
            "lt": "Bet kuri kava iš mūsų meniu – mes vaišiname. Parodykite kuponą prie kasos.",
            "bg": "Кафе по избор от нашето меню, от нас. Покажете ваучера на касата.",
            "da": "En valgfri kaffe fra vores menu – den giver vi. Vis kuponen ved kassen.",
            "ru": "Любой кофе из нашего меню за наш счёт. Покажите ваучер на кассе.",
            "pl": "Dowolna kawa z naszego menu na nasz koszt. Pokaż kupon przy kasie.",
        },
    },
    {
        "slug": "five-eur-off",
        "kind": Reward.Kind.AMOUNT_OFF,
        "value": Decimal("5"),
        "points_cost": 400,
        "image": "five-eur-off.png",
        "name": {
            "en": "5 EUR off",
            "lt": "5 EUR nuolaida",
            "bg": "5 EUR отстъпка",
            "da": "5 EUR rabat",
            "ru": "Скидка 5 EUR",
            "pl": "5 EUR zniżki",
        },
        "description": {
            "en": "5 EUR off your next purchase.",
            "lt": "5 EUR nuolaida kitam jūsų pirkiniui.",
            "bg": "5 EUR отстъпка от следващата ви покупка.",
            "da": "5 EUR rabat på dit næste køb.",
            "ru": "Скидка 5 EUR на вашу следующую покупку.",
            "pl": "5 EUR zniżki na Twoje następne zakupy.",
        },
    },
    {
        "slug": "ten-percent-off-basket",
        "kind": Reward.Kind.PERCENT_OFF,
        "value": Decimal("10"),
        "points_cost": 600,
        "min_tier": "silver",
        "image": "ten-percent-off-basket.png",
        "name": {
            "en": "10% off your next basket",
            "lt": "10 % nuolaida kitam jūsų krepšeliui",
            "bg": "10% отстъпка от следващата ви кошница",
            "da": "10 % rabat på din næste kurv",
            "ru": "Скидка 10% на следующую корзину",
            "pl": "10% zniżki na następny koszyk",
        },
        "description": {
            "en": "10% off everything in your next basket.",
            "lt": "10 % nuolaida viskam, kas bus kitame jūsų krepšelyje.",
            "bg": "10% отстъпка за всичко в следващата ви кошница.",
            "da": "10 % rabat på alt i din næste indkøbskurv.",
            "ru": "Скидка 10% на всё в вашей следующей корзине.",
            "pl": "10% zniżki na wszystko w Twoim następnym koszyku.",
        },
    },
    {
        "slug": "donate-childrens-hospital",
        "kind": Reward.Kind.DONATION,
        "value": Decimal("5"),
        "points_cost": 300,
        "image": "donate-childrens-hospital.png",
        "name": {
            "en": "Donate 5 EUR to the children's hospital",
            "lt": "Paaukokite 5 EUR vaikų ligoninei",
            "bg": "Дарете 5 EUR на детската болница",
            "da": "Donér 5 EUR til børnehospitalet",
            "ru": "Пожертвуйте 5 EUR детской больнице",
            "pl": "Przekaż 5 EUR szpitalowi dziecięcemu",
        },
        "description": {
            "en": "We give 5 EUR to the children's hospital in your name. Thank you for caring.",
            "lt": "Jūsų vardu skirsime 5 EUR vaikų ligoninei. Ačiū, kad rūpinatės.",
            "bg": "Ще дарим 5 EUR на детската болница от ваше име. Благодарим ви за добротата.",
            "da": "Vi giver 5 EUR til børnehospitalet i dit navn. Tak, fordi du hjælper.",
            "ru": "Мы перечислим 5 EUR детской больнице от вашего имени. Спасибо за доброту.",
            "pl": "W Twoim imieniu przekażemy 5 EUR szpitalowi dziecięcemu. Dziękujemy, że "
            "pomagasz.",
        },
    },
    {
        "slug": "tasting-evening",
        "kind": Reward.Kind.EVENT,
        "points_cost": 1200,
        "stock": 20,
        "limit_per_member": 1,
        "min_tier": "gold",
        "image": "tasting-evening.png",
        "name": {
            "en": "Tasting evening invitation",
            "lt": "Kvietimas į degustacijos vakarą",
            "bg": "Покана за дегустационна вечер",
            "da": "Invitation til smagningsaften",
            "ru": "Приглашение на дегустационный вечер",
            "pl": "Zaproszenie na wieczór degustacyjny",
        },
        "description": {
            "en": "An evening of coffee and food tasting with our roasters. Places are limited.",
            "lt": "Kavos ir užkandžių degustacijos vakaras su mūsų kavos skrudintojais. "
            "Vietų skaičius ribotas.",
            "bg": "Вечер на дегустация на кафе и храна с нашите майстори по печене на кафе. "
            "Местата са ограничени.",
            "da": "En aften med smagning af kaffe og mad sammen med vores kafferistere. "
            "Der er et begrænset antal pladser.",
            "ru": "Вечер дегустации кофе и угощений вместе с нашими обжарщиками. "
            "Количество мест ограничено.",
            "pl": "Wieczór degustacji kawy i przekąsek z naszymi palaczami kawy. "
            "Liczba miejsc jest ograniczona.",
        },
    },
]


def seed_rewards(
    *, report: SeedReport, tiers: dict[str, Tier], member: Member, now: datetime
) -> dict[str, Reward]:
    """The demo catalogue, and a Free coffee voucher for the demo member."""
    rewards = seed_catalogue(report=report, tiers=tiers)
    seed_redemption(report=report, member=member, reward=rewards[MEMBER_REWARD], now=now)
    return rewards


def seed_catalogue(*, report: SeedReport, tiers: dict[str, Tier]) -> dict[str, Reward]:
    """The five demo rewards, matched by slug; a missing one is created with its image.

    Rewards are configuration, like tiers, and are written directly.
    """
    rewards = {}
    for spec in REWARDS:
        reward = Reward.objects.select_related("min_tier").filter(slug=spec["slug"]).first()
        if reward is None:
            reward = _create_reward(spec, tiers)
            report.add("rewards")
        rewards[reward.slug] = reward
    return rewards


def _create_reward(spec: dict, tiers: dict[str, Tier]) -> Reward:
    fields = {
        key: value
        for key, value in spec.items()
        if key not in {"name", "description", "image", "min_tier"}
    }
    for language, text in spec["name"].items():
        fields[f"name_{language}"] = text
    for language, text in spec["description"].items():
        fields[f"description_{language}"] = text
    if tier_code := spec.get("min_tier"):
        fields["min_tier"] = tiers[tier_code]
    with open(IMAGES_DIR / spec["image"], "rb") as image:
        # The ImageField stores the file under upload_to when the row is saved.
        return Reward.objects.create(**fields, image=File(image, name=spec["image"]))


def seed_redemption(
    *, report: SeedReport, member: Member, reward: Reward, now: datetime
) -> Redemption | None:
    """One voucher for the demo member, redeemed through the service on the first seed only.

    Skipped when the member ever redeemed the reward (a cancelled or used voucher counts), and
    when the service refuses (say the member lacks the points): the refusal changes nothing.
    """
    if Redemption.objects.filter(member=member, reward=reward).exists():
        return None
    try:
        redemption = services.reward_redeem(member=member, reward=reward, at=now)
    except LoyaltyError:
        return None
    report.add("redemptions")
    return redemption
