"""The kinds of outgoing e-mail and how each is rendered. An app registers its kinds in its
AppConfig.ready(); this module imports no model, so an apps.py can import it at its top.

A kind's `render(object_id)` returns the EmailMessages to send for its object, rendered at send
time in each reader's language (an empty list: nothing to send any more, e.g. the member turned
e-mail off meanwhile). `sent(object_id, at)`, if given, records on the object that it went (a
message's emailed_at, an invitation's sent_at). Both are named by dotted path and found when
called, as loyalty.core.hooks does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.utils.module_loading import import_string

Target = str | Callable[..., Any]


def _function(target: Target) -> Callable[..., Any]:
    return import_string(target) if isinstance(target, str) else target


@dataclass(frozen=True)
class EmailKind:
    name: str
    render: Target
    sent: Target | None = None

    def messages(self, object_id: int) -> list:
        return list(_function(self.render)(object_id))

    def mark_sent(self, object_id: int, at) -> None:
        if self.sent is not None:
            _function(self.sent)(object_id, at)


_kinds: dict[str, EmailKind] = {}


def email_kind_register(kind: EmailKind) -> None:
    if kind.name in _kinds:
        raise ValueError(f"An e-mail kind named {kind.name!r} is registered already.")
    _kinds[kind.name] = kind


def email_kind(name: str) -> EmailKind:
    return _kinds[name]
