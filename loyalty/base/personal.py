"""The personal values of one person, to find and blank wherever text may quote them (an
erasure: loyalty.core.erasure). Every floor's erasure hook gets one.

The e-mail address and the member number are unique: they are looked for everywhere, each as
a whole (the number between word boundaries: a receipt id "R1234567890" holding its nine digits
is someone else's; the address not inside a longer one: "ann@x.org" is in "joann@x.org"). The
database finds candidate rows by substring (q()); the pattern decides, row by row, which ones
really quote the person (mentioned_in, scrub). Names are not unique (another member may be
called the same, "Ann" is in "Annual"): they are blanked, as whole words, only in rows already
known to be about the person.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from django.db.models import Q

ERASED = "[erased]"


@dataclass(frozen=True)
class Personal:
    email: str
    member_number: str
    first_name: str = ""
    last_name: str = ""

    @property
    def identifiers(self) -> list[str]:
        """The values unique to the person (searched for program-wide)."""
        return [v for v in (self.email, self.member_number) if v]

    @property
    def names(self) -> list[str]:
        return [v for v in {self.first_name.strip(), self.last_name.strip()} if len(v) > 1]

    @cached_property
    def _with_names(self) -> re.Pattern:
        return self._pattern(names=True)

    @cached_property
    def _identifiers_only(self) -> re.Pattern:
        return self._pattern(names=False)

    def _pattern(self, *, names: bool) -> re.Pattern:
        parts = []
        if self.email:
            parts.append(rf"(?<![\w.%+-]){re.escape(self.email)}(?![\w-]|\.[\w-])")
        if self.member_number:
            parts.append(rf"\b{re.escape(self.member_number)}\b")
        if names:
            parts += [rf"\b{re.escape(v)}\b" for v in self.names]
        parts.sort(key=len, reverse=True)
        return re.compile("|".join(parts) or "(?!)", re.IGNORECASE)  # (?!): nothing to find

    def mentioned_in(self, text: str, *, names: bool = True) -> bool:
        pattern = self._with_names if names else self._identifiers_only
        return bool(text) and pattern.search(text) is not None

    def scrub(self, text: str, *, names: bool = True) -> str:
        """The text with every personal value replaced by "[erased]"."""
        if not text:
            return text
        pattern = self._with_names if names else self._identifiers_only
        return pattern.sub(ERASED, text)

    def scrub_json(self, value, *, names: bool = True):
        """scrub() for every string (keys included) of a JSON value."""
        if isinstance(value, str):
            return self.scrub(value, names=names)
        if isinstance(value, list):
            return [self.scrub_json(v, names=names) for v in value]
        if isinstance(value, dict):
            return {
                self.scrub(k, names=names): self.scrub_json(v, names=names)
                for k, v in value.items()
            }
        return value

    def q(self, *fields: str) -> Q:
        """Candidate rows whose `fields` contain an identifier (icontains: a JSON field's text
        too); a superset: check each with mentioned_in() or scrub() before changing it."""
        query = Q(pk__in=[])
        for field in fields:
            for value in self.identifiers:
                query |= Q(**{f"{field}__icontains": value})
        return query
