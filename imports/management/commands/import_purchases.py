"""Import a partner's purchases from a file: `manage.py import_purchases FILE --partner NAME
--by STAFF_EMAIL [--dry-run]` (big files: the staff pages take up to 200 MB)."""

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Partner
from imports.models import ImportJob

from ._import import add_common_arguments, run


class Command(BaseCommand):
    help = (
        "Import purchases (columns member_number, external_id, purchased_at, amount, and "
        "optionally currency, points, sku, quantity, line_amount, category; one row per purchase "
        "or per line). Purchases earn by the rules in force on their day, or the points given. "
        "Bad rows are listed and not imported; purchases recorded before are skipped."
    )

    def add_arguments(self, parser):
        add_common_arguments(parser)
        parser.add_argument("--partner", required=True, help="The partner's name or id.")
        parser.add_argument(
            "--way",
            choices=["sql", "rows"],
            default="",
            help="Set-based (PostgreSQL, the default there) or row by row (elsewhere).",
        )

    def handle(self, *args, file, by, dry_run, partner, way, **options):
        found = (
            Partner.objects.filter(pk=int(partner)).first()
            if partner.isdigit()
            else Partner.objects.filter(name__iexact=partner.strip()).first()
        )
        if found is None:
            raise CommandError(f"No partner {partner}.")
        run(
            self,
            kind=ImportJob.Kind.PURCHASES,
            file=file,
            by=by,
            dry_run=dry_run,
            partner=found,
            way=way,
        )
