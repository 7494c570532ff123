"""Gifts staff send one member: points, a reward as a voucher, or only a card, always with a
card from a template in the member's language (the admin's "Send a gift" page).

One transaction: the member's row is locked first, then the Gift row is written, then what it
gives (a `gift` ledger credit whose cause is the Gift, or the catalogue's reward_gift, which
credits the reward's cost and redeems it), then the card through message_send (kind "gift",
rendered in the member's language, once per gift: its dedupe key). A refusal writes nothing.
"""

from __future__ import annotations

from functools import partial

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.errors import MemberNotActive
from accounts.models import Member
from accounts.services import member_locked
from loyalty.base.errors import InvalidInput, NotAllowed
from loyalty.base.text import plain_line
from loyalty.base.wording import address_form
from loyalty.core.ledger import points_credit
from loyalty.core.models import LedgerEntry
from notifications.params import PerLanguage
from notifications.services import message_send

from .errors import CardTemplateInactive, GiftIncomplete, GiftPointsInvalid
from .models import BirthdayGiftSettings, CardTemplate, Gift, Reward
from .services import reward_gift

NOTE_MAX_CHARS = 500


def birthday_settings_row() -> BirthdayGiftSettings:
    """The birthday gift settings' one row for staff to edit (made by the migration; made again
    with the defaults if a flushed database lost it)."""
    return BirthdayGiftSettings.objects.get_or_create(pk=BirthdayGiftSettings.SINGLETON)[0]


def gift_max_points() -> int:
    """The most points one gift may give (LOYALTY_GIFT_MAX_POINTS): a slip of the finger
    (100000 for 10000) is refused, not sent."""
    return settings.LOYALTY_GIFT_MAX_POINTS


def card_name(member: Member, language: str | None = None) -> str:
    """What `{name}` in a card becomes: the member's first name, as message_send greets them
    (the vocative in Lithuanian)."""
    user = member.user
    name = plain_line(user.first_name) or user.email.split("@")[0]
    return address_form(name, language or member.language)


def _checked_points(what: str, points) -> int:
    if what != Gift.What.POINTS:
        return 0
    if isinstance(points, bool) or not isinstance(points, int):
        raise GiftPointsInvalid()
    if not 0 < points <= gift_max_points():
        raise GiftPointsInvalid()
    return points


@transaction.atomic
def gift_send(
    *,
    member: Member,
    what: str,
    template: CardTemplate,
    staff_user,
    points: int = 0,
    reward: Reward | None = None,
    note: str = "",
) -> Gift:
    """Send the member a gift with a card; the Gift, the cause of what it wrote."""
    if staff_user is None or not staff_user.is_staff:
        raise NotAllowed()
    if what not in Gift.What.values:
        raise GiftIncomplete()
    if (what == Gift.What.VOUCHER) != (reward is not None):
        raise GiftIncomplete()
    points = _checked_points(what, points)
    note = (note or "").strip()
    if len(note) > NOTE_MAX_CHARS:
        raise InvalidInput(
            _("A personal note has at most %(count)d characters.") % {"count": NOTE_MAX_CHARS}
        )
    locked = member_locked(member.pk, related=("user", "tier"))
    if locked.status == Member.Status.CLOSED:
        raise MemberNotActive()
    template = CardTemplate.objects.filter(pk=template.pk, is_active=True).first()
    if template is None:
        raise CardTemplateInactive()
    gift = Gift.objects.create(
        member=locked,
        what=what,
        points=points,
        reward=reward,
        template=template,
        note=note,
        sent_by=staff_user,
    )
    voucher = None
    if what == Gift.What.POINTS:
        points_credit(
            member=locked,
            points=points,
            kind=LedgerEntry.Kind.GIFT,
            cause=gift,
        )
    elif what == Gift.What.VOUCHER:
        entry, redemption = reward_gift(member=locked, reward=reward, cause=gift)
        gift.points = entry.points
        gift.redemption = redemption
        gift.save(update_fields=["points", "redemption"])
        voucher = redemption.voucher
    # the card in every language: the message is worded in the language of whoever reads it
    title = PerLanguage.of(template.title)
    card = PerLanguage.of(lambda language: template.card(language, card_name(locked, language))[1])
    message_send(
        locked,
        "gift",
        {
            "title": title,
            "card": card,
            "note": note,
            "points": points,
            "reward": PerLanguage.of(partial(reward.localized, "name")) if reward else "",
            "voucher_code": voucher.display_code if voucher else "",
            "voucher_valid_until": voucher.expires_on if voucher else None,
        },
        dedupe_key=f"gift:{gift.pk}",
    )
    member.points_balance = locked.points_balance
    return gift
