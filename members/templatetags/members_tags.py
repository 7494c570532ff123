"""Numbers and money in the reader's language (loyalty.base.formats), the wording rules of
loyalty.base.wording (a greeting's vocative, one full stop after a date) and the names of rules
and tiers in the reader's language, as template filters."""

from django import template

from loyalty.base import formats, wording
from loyalty.core.selectors import earning_rule_by_id, tier_named

register = template.Library()
register.filter("num", formats.num)
register.filter("signed", formats.signed)
register.filter("money", formats.money)
register.filter("minutes", formats.minutes)
register.filter("vocative", wording.address_form)  # "Hello, {{ name|vocative }}"
register.filter("one_period", wording.one_period, is_safe=True)


@register.filter
def rule_label(part: dict) -> str:
    """The earning rule of a purchase's explanation part, named in the reader's language (the
    stored name is the English one at the time of the purchase)."""
    rule = earning_rule_by_id(part.get("rule_id"))
    return rule.local_name if rule is not None else part.get("rule", "")


@register.filter
def tier_label(part: dict) -> str:
    """The tier of an explanation part ("extra for being Gold"), in the reader's language."""
    tier = tier_named(part.get("tier", ""))
    return tier.local_name if tier is not None else part.get("tier", "")


@register.filter
def promotion_label(part: dict) -> str:
    """The offer of a refunded line's explanation part, in the reader's language."""
    return rule_label({"rule_id": part.get("promotion_id"), "rule": part.get("promotion", "")})
