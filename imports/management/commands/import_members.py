"""Import members from a file: `manage.py import_members FILE --by STAFF_EMAIL [--dry-run]`."""

from django.core.management.base import BaseCommand

from imports.models import ImportJob

from ._import import add_common_arguments, run


class Command(BaseCommand):
    help = (
        "Import members (columns email, and optionally first_name, last_name, birthday, "
        "language, member_number, joined_on, points: an opening balance brought over). "
        "Members whose e-mail address or number is there already are skipped."
    )

    def add_arguments(self, parser):
        add_common_arguments(parser)

    def handle(self, *args, file, by, dry_run, **options):
        run(self, kind=ImportJob.Kind.MEMBERS, file=file, by=by, dry_run=dry_run)
