"""Fill the member's copy on rows written before its column: `manage.py member_ids_fill`."""

import time

from django.core.management.base import BaseCommand
from django.db import connection

from loyalty.base.backfill import BATCH, MEMBER_COPIES, member_copies_fill


class Command(BaseCommand):
    help = (
        "Fill member_id on the rows that hang off a member and were written before the column "
        "(loyalty.base.backfill): run once after deploying the release that added it, with the "
        "site up; batch by batch, each its own transaction, so writes go on. Running it again "
        "fills only what is still empty."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch", type=int, default=BATCH, help=f"rows a batch ({BATCH})")
        parser.add_argument(
            "--table",
            action="append",
            choices=[copy.table for copy in MEMBER_COPIES],
            help="only this table (repeat for several; default: all)",
        )

    def handle(self, *args, batch, table, **options):
        started = time.monotonic()

        def report(name: str, rows: int) -> None:
            self.stdout.write(f"{name}: {rows:,} rows filled ({time.monotonic() - started:.0f} s)")

        member_copies_fill(connection, batch=batch, tables=table, report=report)
