"""Input fields that take exactly what the published schema says, nothing DRF would coerce.

Partners generate clients from /api/schema/, and the contract test (tests/api/test_contract_cli.py)
holds the server to it both ways: what the schema calls valid is accepted, what it calls invalid
is refused with 400. DRF's own fields are more lenient than their schema: a CharField takes the
number 12 and trims spaces, an IntegerField takes "12" and 12.0, a BooleanField takes "yes", a
DecimalField takes "1e9" and " 12.5 ". These take the JSON type the schema names, as sent.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from rest_framework import serializers

from loyalty.base.money import MAX_AMOUNT

# Text we store can never hold a NUL (PostgreSQL refuses it; the parser refuses the body).
NO_NUL_PATTERN = r"^[^\x00]*$"
# What Python's str.strip() takes away (str.isspace()), spelled out: regex dialects disagree
# on what \s means, and the schema's pattern must read the same in every client.
_SPACE = r"\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# Text the services strip before they use it must hold something besides white space.
NOT_BLANK_PATTERN = rf"^[^\x00]*[^\x00{_SPACE}][^\x00]*$"

CENT = Decimal("0.01")
# A money amount as a string: up to ten digits without leading zeros, up to two decimals.
_AMOUNT = r"(?:0|[1-9][0-9]{0,9})(?:\.[0-9]{1,2})?"
# The same, except every spelling of zero ("0", "0.0", "0.00").
_POSITIVE_AMOUNT = r"(?:[1-9][0-9]{0,9}(?:\.[0-9]{1,2})?|0\.(?:[1-9][0-9]?|0[1-9]))"


class PatternValidator(RegexValidator):
    """The whole value matches the pattern, as JSON Schema reads it. (Django's RegexValidator
    searches, and Python's `$` also matches before a final newline: "01-01\n" would pass.)
    drf-spectacular publishes it as the field's `pattern`."""

    def __call__(self, value):
        if not self.regex.fullmatch(str(value)):
            raise ValidationError(self.message, code=self.code, params={"value": value})


class StrictCharField(serializers.CharField):
    """A JSON string, kept as sent (no trimming: "  " is two spaces, not a missing value),
    without a NUL.

    `pattern`: the whole value matches it (published in the schema). `not_blank=True`: it
    holds something besides white space (text a service strips and then needs)."""

    def __init__(self, *, pattern: str | None = None, not_blank: bool = False, **kwargs):
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)
        message = _("Enter a valid value.")
        if not_blank:
            pattern, message = NOT_BLANK_PATTERN, _("This field may not be blank.")
        self.validators.append(PatternValidator(pattern or NO_NUL_PATTERN, message=message))

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictEmailField(serializers.EmailField):
    def __init__(self, **kwargs):
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictChoiceField(serializers.ChoiceField):
    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid_choice", input=data)
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer: not "12", not 12.0, not true."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """true or false: not "true", 1 or "yes"."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?"
    r"(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
)


class StrictDateTimeField(serializers.DateTimeField):
    """An RFC 3339 date-time with its offset, as the schema's `date-time` format says (DRF also
    takes "2025-01-01", a missing offset and more). The offset is kept as sent: turning year 1
    or 9999 into the server's zone could leave the calendar."""

    def to_internal_value(self, value):
        if not isinstance(value, str) or not _RFC3339.fullmatch(value):
            self.fail("invalid", format="YYYY-MM-DDThh:mm:ss[.ffffff]Z or ±hh:mm")
        try:
            return datetime.fromisoformat(value.upper())
        except ValueError:
            self.fail("invalid", format="YYYY-MM-DDThh:mm:ss[.ffffff]Z or ±hh:mm")


class MoneyField(serializers.DecimalField):
    """A money amount: a string like "12.50" (at most two decimals, no exponent, no spaces) or
    a JSON number that is a whole number of cents (read as Decimal by DecimalJSONParser, never
    a float), from `min_value` (0 or 0.01) to 9,999,999,999.99. Answers are strings."""

    default_error_messages = {
        "money": _(
            'Give an amount as a string like "12.50" or a number, with at most two decimals, '
            "from {minimum} to {maximum}."
        ),
    }

    def __init__(self, *, min_value=CENT, **kwargs):
        min_value = Decimal(min_value)
        if min_value not in (Decimal(0), CENT):
            raise ValueError("A money field starts at 0 or at 0.01.")
        super().__init__(
            max_digits=12,
            decimal_places=2,
            coerce_to_string=True,
            min_value=min_value,
            max_value=MAX_AMOUNT,
            **kwargs,
        )
        amount = _AMOUNT if min_value == 0 else _POSITIVE_AMOUNT
        self.string_form = re.compile(amount)
        self.string_pattern = f"^{amount}$"

    def to_internal_value(self, data):
        if isinstance(data, str):
            if not self.string_form.fullmatch(data):
                self._refuse()
            amount = Decimal(data)
        elif isinstance(data, Decimal | int) and not isinstance(data, bool):
            amount = Decimal(data)
            try:
                whole_cents = amount.is_finite() and amount % CENT == 0
            except InvalidOperation:  # an exponent too large to divide
                whole_cents = False
            if not whole_cents:
                self._refuse()
        else:
            self._refuse()
        if not self.min_value <= amount <= MAX_AMOUNT:
            self._refuse()
        return amount.quantize(CENT)

    def _refuse(self):
        self.fail("money", minimum=self.min_value, maximum=MAX_AMOUNT)


class MoneyFieldSchema(OpenApiSerializerFieldExtension):
    """In a request: the string's pattern or a number on the cents grid, within the range."""

    target_class = MoneyField
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        field = self.target
        if direction == "response":
            return auto_schema._map_serializer_field(field, direction, bypass_extensions=True)
        schema = {
            "anyOf": [
                {"type": "string", "format": "decimal", "pattern": field.string_pattern},
                {
                    "type": "number",
                    "minimum": float(field.min_value),
                    "maximum": float(MAX_AMOUNT),
                    "multipleOf": float(CENT),
                },
            ],
        }
        if field.help_text:
            schema["description"] = str(field.help_text)
        return schema
