"""Purchases on given days (through purchase_record, travelling to each day) for the ladder."""

import itertools
from datetime import date, datetime, time
from decimal import Decimal

import time_machine
from django.utils import timezone

from loyalty.core.purchases import purchase_record

_ids = itertools.count(1)


def noon(day: date) -> datetime:
    return datetime.combine(day, time(12), tzinfo=timezone.get_default_timezone())


def buy(member, partner, day: date, amount="20.00"):
    with time_machine.travel(noon(day), tick=False):
        return purchase_record(
            partner=partner,
            member=member,
            external_id=f"p-{next(_ids)}",
            amount=Decimal(amount),
            currency=partner.currency,
        )
