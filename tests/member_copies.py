"""The tests' way to fill the member's copy on older rows: as after a deploy."""

import io

from django.core.management import call_command


def fill(*tables: str, batch: int | None = None) -> str:
    """`manage.py member_ids_fill` (loyalty.base.backfill), for `tables` or all; its report."""
    out = io.StringIO()
    options = [f"--table={t}" for t in tables] + ([f"--batch={batch}"] if batch else [])
    call_command("member_ids_fill", *options, stdout=out)
    return out.getvalue()
