"""What import_members and import_purchases share: the file, who runs it, the report."""

from __future__ import annotations

import os

from django.core.management.base import CommandError

from accounts.models import User
from imports.models import ImportJob
from imports.rows import ImportFailed, row_error_words
from imports.services import import_job_check, import_job_create, import_job_run
from imports.sources import Source
from loyalty.base.errors import LoyaltyError

SHOWN_ERRORS = 200


def add_common_arguments(parser) -> None:
    parser.add_argument("file", help="A CSV file (UTF-8, comma or semicolon) or a .xlsx workbook.")
    parser.add_argument(
        "--by",
        required=True,
        metavar="EMAIL",
        help="The staff user running the import: the actor of its audit records.",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="Check the file and list its bad rows; change nothing.",
    )


def run(command, *, kind: str, file: str, by: str, dry_run: bool, partner=None, way: str = ""):
    if not os.path.isfile(file):
        raise CommandError(f"No file {file}.")
    actor = User.objects.filter(email__iexact=by.strip(), is_staff=True, is_active=True).first()
    if actor is None:
        raise CommandError(f"No active staff user {by}.")
    try:
        job = import_job_create(
            kind=kind, actor=actor, partner=partner, file_name=os.path.basename(file), check=False
        )
        source = Source(file)
        if dry_run:
            import_job_check(job=job, source=source, way=way)
        else:
            import_job_run(job=job, source=source, way=way)
    except ImportFailed as failed:
        raise CommandError(failed.words()) from None
    except LoyaltyError as exc:
        raise CommandError(exc.message) from None
    report(command, job)


def report(command, job: ImportJob) -> None:
    errors = list(job.row_errors.all()[:SHOWN_ERRORS])
    for error in errors:
        command.stderr.write(
            f"row {error.row}, {error.field}: {row_error_words(error.code, error.params)}"
        )
    if job.bad and job.row_errors.count() > SHOWN_ERRORS:
        command.stderr.write(f"... and more: see import {job.pk} in the staff pages.")
    if job.dry_run:
        command.stdout.write(
            f"Dry run (import {job.pk}): {job.rows} rows, {job.total} {job.kind}: "
            f"{job.to_import} to import ({job.points} points), {job.bad} refused, "
            f"{job.skipped} already there. Nothing was changed."
        )
    else:
        command.stdout.write(
            f"Import {job.pk}: {job.rows} rows, {job.total} {job.kind}: {job.done} imported "
            f"({job.points} points), {job.bad} refused, {job.skipped} already there."
        )
