"""Four warm card templates in the six languages, and the birthday gift settings' row with the
values the environment gave until now (LOYALTY_BIRTHDAY_*), so a deployment keeps its gifts."""

from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import migrations

# (name for staff, {language: (title, text)}); "{name}" is the member's first name.
TEMPLATES = [
    (
        "Thank you for being with us",
        {
            "en": (
                "Thank you for being with us",
                "Thank you for being with us. Your visits, your trust and your kind words mean a "
                "great deal to our whole team, and we wanted to say so out loud, with a small gift.",
            ),
            "lt": (
                "Ačiū, kad esate su mumis",
                "Ačiū, kad esate su mumis. Jūsų apsilankymai, pasitikėjimas ir geri žodžiai mūsų "
                "komandai labai daug reiškia, tad norėjome tai pasakyti garsiai – su nedidele "
                "dovana.",
            ),
            "bg": (
                "Благодарим Ви, че сте с нас",
                "Благодарим Ви, че сте с нас. Вашите посещения, Вашето доверие и добрите Ви думи "
                "означават много за целия ни екип и искахме да го кажем на глас – с малък подарък.",
            ),
            "da": (
                "Tak, fordi du er med os",
                "Tak, fordi du er med os. Dine besøg, din tillid og dine venlige ord betyder meget "
                "for hele vores team, og det ville vi gerne sige højt – med en lille gave.",
            ),
            "ru": (
                "Спасибо, что Вы с нами",
                "Спасибо, что Вы с нами. Ваши визиты, Ваше доверие и добрые слова очень много "
                "значат для всей нашей команды, и нам захотелось сказать об этом вслух — "
                "с небольшим подарком.",
            ),
            "pl": (
                "Dziękujemy, że jesteś z nami",
                "Dziękujemy, że jesteś z nami. Twoje wizyty, zaufanie i dobre słowa wiele znaczą "
                "dla całego naszego zespołu, dlatego chcieliśmy powiedzieć to głośno – z małym "
                "prezentem.",
            ),
        },
    ),
    (
        "Sorry for the trouble",
        {
            "en": (
                "We are sorry for the trouble",
                "We are sorry that things did not go as they should have. Thank you for your "
                "patience and for telling us; we have taken it to heart. Please accept this small "
                "gift as our apology.",
            ),
            "lt": (
                "Atsiprašome už nepatogumus",
                "Atsiprašome, kad ne viskas vyko taip, kaip turėjo. Dėkojame už kantrybę ir už tai, "
                "kad mums pasakėte – į tai žiūrime rimtai. Prašome priimti šią nedidelę dovaną kaip "
                "mūsų atsiprašymą.",
            ),
            "bg": (
                "Съжаляваме за неудобството",
                "Съжаляваме, че нещата не се случиха така, както трябваше. Благодарим Ви за "
                "търпението и за това, че ни казахте – отнасяме се сериозно към това. Моля, "
                "приемете този малък подарък като наше извинение.",
            ),
            "da": (
                "Undskyld ulejligheden",
                "Vi er kede af, at tingene ikke gik, som de skulle. Tak for din tålmodighed, og tak "
                "fordi du sagde det til os – vi tager det til os. Tag imod denne lille gave som "
                "vores undskyldning.",
            ),
            "ru": (
                "Простите за доставленные неудобства",
                "Нам жаль, что всё пошло не так, как должно было. Спасибо за Ваше терпение и за то, "
                "что рассказали нам об этом, — мы приняли это близко к сердцу. Пожалуйста, примите "
                "этот небольшой подарок в знак наших извинений.",
            ),
            "pl": (
                "Przepraszamy za kłopot",
                "Przykro nam, że coś poszło nie tak, jak powinno. Dziękujemy za cierpliwość i za "
                "sygnał – bierzemy go sobie do serca. Przyjmij, proszę, ten mały prezent jako nasze "
                "przeprosiny.",
            ),
        },
    ),
    (
        "Congratulations",
        {
            "en": (
                "Congratulations!",
                "Congratulations, {name}! We heard your good news and are truly happy for you. "
                "A small gift from all of us, to celebrate with you.",
            ),
            "lt": (
                "Sveikiname!",
                "Sveikiname, {name}! Išgirdome gerą žinią ir nuoširdžiai džiaugiamės kartu su Jumis. "
                "Nedidelė dovana nuo mūsų visų – kad galėtume švęsti kartu.",
            ),
            "bg": (
                "Поздравления!",
                "Поздравления, {name}! Научихме добрата новина и искрено се радваме за Вас. Малък "
                "подарък от всички нас, за да празнуваме заедно.",
            ),
            "da": (
                "Tillykke!",
                "Tillykke, {name}! Vi har hørt den gode nyhed og glæder os virkelig på dine vegne. "
                "En lille gave fra os alle, så vi kan fejre det sammen med dig.",
            ),
            "ru": (
                "Поздравляем!",
                "Поздравляем, {name}! Мы узнали о Вашей радостной новости и искренне за Вас рады. "
                "Небольшой подарок от всех нас — чтобы отпраздновать вместе с Вами.",
            ),
            "pl": (
                "Gratulacje!",
                "Gratulacje, {name}! Usłyszeliśmy dobrą wiadomość i naprawdę cieszymy się razem "
                "z Tobą. Mały prezent od nas wszystkich, żeby wspólnie to uczcić.",
            ),
        },
    ),
    (
        "Just because",
        {
            "en": (
                "Just because",
                "No special reason today, {name}. We simply thought of you and wanted to make your "
                "day a little brighter. Enjoy!",
            ),
            "lt": (
                "Be jokios progos",
                "Šiandien jokios ypatingos progos nėra, {name}. Tiesiog pagalvojome apie Jus ir "
                "norėjome bent kiek praskaidrinti Jūsų dieną. Mėgaukitės!",
            ),
            "bg": (
                "Просто така",
                "Днес няма специален повод, {name}. Просто се сетихме за Вас и искахме да направим "
                "деня Ви малко по-светъл. Наслаждавайте се!",
            ),
            "da": (
                "Bare fordi",
                "Der er ingen særlig anledning i dag, {name}. Vi tænkte bare på dig og ville gerne "
                "gøre din dag lidt lysere. God fornøjelse!",
            ),
            "ru": (
                "Просто так",
                "Сегодня нет особого повода, {name}. Мы просто подумали о Вас и захотели сделать "
                "Ваш день чуточку светлее. Наслаждайтесь!",
            ),
            "pl": (
                "Tak po prostu",
                "Dziś nie ma żadnej szczególnej okazji, {name}. Po prostu pomyśleliśmy o Tobie "
                "i chcieliśmy choć trochę rozjaśnić Twój dzień. Miłego dnia!",
            ),
        },
    ),
]


def seed_card_templates(apps, schema_editor):
    CardTemplate = apps.get_model("rewards", "CardTemplate")
    for name, cards in TEMPLATES:
        fields = {}
        for language, (title, text) in cards.items():
            fields[f"title_{language}"] = title
            fields[f"text_{language}"] = text
        CardTemplate.objects.get_or_create(name=name, defaults=fields)


def _donation_amount() -> Decimal:
    """The environment's amount; one that is not a positive amount meant no donation (0)."""
    value = getattr(settings, "LOYALTY_BIRTHDAY_DONATION_AMOUNT", "5.00")
    try:
        amount = Decimal(str(value)).quantize(Decimal("0.01"))
    except InvalidOperation:
        return Decimal("0.00")
    return amount if amount > 0 else Decimal("0.00")


def seed_birthday_settings(apps, schema_editor):
    """The row, from the settings (LOYALTY_BIRTHDAY_*) as the birthday job read them until now."""
    BirthdayGiftSettings = apps.get_model("rewards", "BirthdayGiftSettings")
    Reward = apps.get_model("rewards", "Reward")
    discount_slug = (getattr(settings, "LOYALTY_BIRTHDAY_DISCOUNT_REWARD", "") or "").strip()
    surprise_slugs = [
        slug.strip()
        for slug in getattr(settings, "LOYALTY_BIRTHDAY_SURPRISE_REWARDS", [])
        if slug.strip()
    ]
    row, created = BirthdayGiftSettings.objects.get_or_create(
        pk=1,
        defaults={
            "points": max(int(getattr(settings, "LOYALTY_BIRTHDAY_POINTS", 100)), 0),
            "discount_reward": Reward.objects.filter(slug=discount_slug).first()
            if discount_slug
            else None,
            "donation_amount": _donation_amount(),
            "donation_cause": (getattr(settings, "LOYALTY_BIRTHDAY_DONATION_CAUSE", "") or "")
            .strip()[:200],
        },
    )
    if created and surprise_slugs:
        row.surprise_rewards.set(Reward.objects.filter(slug__in=surprise_slugs))


class Migration(migrations.Migration):
    dependencies = [("rewards", "0003_gifts_card_templates_birthday_settings")]

    operations = [
        # (going back, 0003 drops the tables with their rows)
        migrations.RunPython(seed_card_templates, migrations.RunPython.noop),
        migrations.RunPython(seed_birthday_settings, migrations.RunPython.noop),
    ]
