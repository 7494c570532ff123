"""ProcessCache: what every API request reads and staff change rarely, kept per process."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable

from django.core.signals import setting_changed
from django.db import transaction
from django.db.models.signals import post_delete, post_save


class ProcessCache:
    """What `load` read from the database, kept by this process for `seconds`.

    Keyless (`get()`, `load()`) for one value such as the earning rules or the tiers, or keyed
    (`get(key)`, `load(key)`) such as API keys by digest; a None from `load` is never kept.
    Saving or deleting one of `models` empties this process's copy at once, and again when that
    transaction commits (so a reader meanwhile cannot keep the old state). Other processes (the
    other gunicorn workers, Celery workers) see a change within `seconds`, and so does everyone
    for writes that send no signals (queryset update(), bulk_create()). A change of settings
    empties it too: tests change settings around every test, and roll their data back without
    signals. Values are shared by the threads of the process: treat them as read-only.
    """

    def __init__(self, name: str, load: Callable, *, seconds: float, models: Iterable):
        self.name = name
        self._load = load
        self.seconds = seconds
        self.entries: dict = {}  # key -> (expires, value); replaced whole on clear
        self._generations = itertools.count()
        self._generation = next(self._generations)
        for model in models:
            for signal in (post_save, post_delete):
                signal.connect(
                    self._changed, sender=model, weak=False, dispatch_uid=f"{name}:{model}"
                )
        setting_changed.connect(self.clear, weak=False, dispatch_uid=f"{name}:settings")

    def get(self, key=None):
        entry = self.entries.get(key)
        if entry is not None and time.monotonic() < entry[0]:
            return entry[1]
        generation = self._generation
        value = self._load() if key is None else self._load(key)
        if value is None:
            self.entries.pop(key, None)
        elif generation == self._generation:  # nothing changed while it was read
            self.entries[key] = (time.monotonic() + self.seconds, value)
        return value

    def clear(self, **kwargs) -> None:
        self._generation = next(self._generations)
        self.entries = {}

    def expire(self) -> None:
        """What the passing of `seconds` does: the next get() reads again."""
        self.entries = {key: (0.0, value) for key, (_expires, value) in self.entries.items()}

    def _changed(self, sender=None, using=None, **kwargs) -> None:
        self.clear()
        transaction.on_commit(self.clear, using=using)
