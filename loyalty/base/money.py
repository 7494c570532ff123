"""Money as the program takes it: a Decimal amount with at most two decimals, never a float,
and an ISO 4217 currency code."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from babel.numbers import list_currencies

from .errors import InvalidAmount, UnknownCurrency

MAX_AMOUNT = Decimal("9999999999.99")
CURRENCIES = frozenset(list_currencies())


def clean_amount(value, *, allow_zero: bool = False) -> Decimal:
    """A money amount as Decimal: finite, at most two decimals, within range. Never a float."""
    if isinstance(value, (float, bool)):
        raise InvalidAmount()
    try:
        amount = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except (InvalidOperation, ValueError):
        raise InvalidAmount() from None
    if not amount.is_finite() or amount.as_tuple().exponent < -2:  # type: ignore[operator]
        raise InvalidAmount()
    if amount < 0 or (amount == 0 and not allow_zero) or amount > MAX_AMOUNT:
        raise InvalidAmount()
    return amount.quantize(Decimal("0.01"))


def clean_currency(code) -> str:
    if not isinstance(code, str) or code.upper() not in CURRENCIES or len(code) != 3:
        raise UnknownCurrency()
    return code.upper()
