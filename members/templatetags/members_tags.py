"""Numbers and money in the reader's language (loyalty.base.formats), and the wording rules of
loyalty.base.wording (a greeting's vocative, one full stop after a date), as template filters."""

from django import template

from loyalty.base import formats, wording

register = template.Library()
register.filter("num", formats.num)
register.filter("signed", formats.signed)
register.filter("money", formats.money)
register.filter("minutes", formats.minutes)
register.filter("vocative", wording.address_form)  # "Hello, {{ name|vocative }}"
register.filter("one_period", wording.one_period, is_safe=True)
