"""Numbers and money in the reader's language (loyalty.base.formats), as template filters."""

from django import template

from loyalty.base import formats

register = template.Library()
register.filter("num", formats.num)
register.filter("signed", formats.signed)
register.filter("money", formats.money)
register.filter("minutes", formats.minutes)
