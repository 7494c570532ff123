"""What a check (the dry run) and a real run of an import found: the same figures whichever way
of importing ran."""

from __future__ import annotations

from dataclasses import dataclass, field

from .rows import RowError


@dataclass
class Checked:
    rows: int  # data rows in the file
    total: int  # members or purchases in the file
    bad: int  # of them refused (one bad row refuses its purchase)
    skipped: int  # recorded before: a re-run adds nothing
    to_import: int
    points: int  # what the purchases earn (credited, or held pending in a return window)
    errors: list[RowError] = field(default_factory=list)


@dataclass
class Written:
    imported: int = 0
    skipped: int = 0  # recorded meanwhile, by someone else
    points: int = 0
    refused: int = 0  # refused meanwhile (a membership closed since the check)
    errors: list[RowError] = field(default_factory=list)  # their rows
    member_ids: set[int] = field(default_factory=set)
