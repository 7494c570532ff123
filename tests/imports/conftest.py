"""Files to import, written on the fly, and a staff user to run them."""

import csv

import pytest

from accounts.models import User
from imports.services import import_job_check, import_job_create, import_job_run
from imports.sources import Source

WAYS = ["sql", "rows"]


@pytest.fixture
def importer(db):
    return User.objects.create_user(email="importer@example.com", password="x", is_staff=True)


@pytest.fixture
def write_csv(tmp_path):
    """write_csv(rows, header=...) -> the path of a CSV file with those rows (dicts or lists)."""

    def write(rows, header=None, name="purchases.csv", delimiter=","):
        path = tmp_path / name
        header = header or list(rows[0].keys())
        with path.open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out, delimiter=delimiter)
            writer.writerow(header)
            for row in rows:
                writer.writerow([row.get(h, "") for h in header] if isinstance(row, dict) else row)
        return path

    return write


@pytest.fixture
def run_import(importer):
    """run_import(path, kind=, partner=, dry_run=, way=) -> the job, run here (no worker)."""

    def run(path, *, kind="purchases", partner=None, dry_run=False, way=""):
        job = import_job_create(
            kind=kind, actor=importer, partner=partner, file_name=path.name, check=False
        )
        if dry_run:
            import_job_check(job=job, source=Source(path), way=way)
        else:
            import_job_run(job=job, source=Source(path), way=way)
        job.refresh_from_db()
        return job

    return run


def errors_of(job):
    return [(e.row, e.field, e.code, e.params) for e in job.row_errors.order_by("row", "id")]
