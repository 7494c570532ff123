"""Every write of an import: a job made from a staff member's file, its check (the dry run), its
start and its real run. The real run checks the file again (things change between the two) and
imports exactly the rows that pass; what was recorded before is skipped, so a re-run adds
nothing.

What an import does not do, on purpose: no `points.earned` webhook, message or anomaly per
historic purchase (partners and members heard of those purchases when they happened, or never
need to), no purchase hooks (a referral qualifies on a purchase reported live, not on history),
no welcome for members brought over. It does move a member up to the tier their imported
points reach (loyalty.core.tiers.tiers_upgrade_many, with tier.changed); the monthly tier
review does the rest, as for everyone. Points already past their expiry date expire at the next
nightly expiry run, as they would have.

Who started it is the actor of every audit record the run writes (django-auditlog's
set_actor: the job's status, the members enrolled); purchases and ledger rows are not audited
(loyalty.audit.registry), the job names them.
"""

from __future__ import annotations

import logging
from datetime import datetime

from auditlog.context import set_actor
from django.db import connection, transaction
from django.utils import timezone

from accounts.errors import PartnerNotActive
from accounts.models import Partner
from loyalty.base.errors import InvalidInput, NotAllowed
from loyalty.core.tiers import tiers_upgrade_many

from .members import MemberRows
from .models import ImportJob, ImportRowError
from .outcome import Checked
from .purchases_rows import RowPurchases
from .purchases_sql import SqlPurchases
from .rows import ImportFailed, RowError
from .sources import Source

log = logging.getLogger(__name__)

# The largest file the staff pages take; bigger ones go through `manage.py import_purchases`.
MAX_UPLOAD_BYTES = 200 * 2**20


def import_job_create(
    *,
    kind: str,
    actor,
    file=None,
    file_name: str = "",
    partner: Partner | None = None,
    check: bool = True,
) -> ImportJob:
    """A new import of a staff member's file (an upload, kept in private storage; or none, when
    a command reads a path). With `check`, its dry run is sent to the workers after commit."""
    if actor is None or not actor.is_staff:
        raise NotAllowed("Only staff can import.")
    if kind not in ImportJob.Kind.values:
        raise InvalidInput("Import members or purchases.", field="kind")
    if kind == ImportJob.Kind.PURCHASES:
        if partner is None:
            raise InvalidInput("Choose the partner whose purchases these are.", field="partner")
        if not partner.is_active:
            raise PartnerNotActive()
    else:
        partner = None
    if file is not None and file.size > MAX_UPLOAD_BYTES:
        raise InvalidInput("The file is too large for the staff pages.", field="file")
    name = (file_name or getattr(file, "name", "") or "")[-255:]
    job = ImportJob(kind=kind, partner=partner, actor=actor, file_name=name)
    with transaction.atomic(), set_actor(actor):
        if file is not None:
            job.file.save(name or "import.csv", file, save=False)
        job.save()
        if check:
            from .tasks import import_check_task  # (the tasks module imports this one)

            transaction.on_commit(lambda: import_check_task.delay(job.pk), robust=True)
    return job


def import_job_check(*, job: ImportJob, source: Source | None = None, way: str = "") -> Checked:
    """The dry run: read and check the whole file, earn what it would earn, write nothing but
    the job's figures and bad rows."""
    job.status, job.checked_at = ImportJob.Status.CHECKING, None
    now = timezone.now()
    with set_actor(job.actor):
        runner = _runner(job, source, now, way)
        try:
            checked = runner.check()
        except ImportFailed as failed:
            _fail(job, failed.code, failed.params)
            raise
        finally:
            runner.close()
        with transaction.atomic():
            _errors_store(job, checked.errors)
            job.rows, job.total, job.bad = checked.rows, checked.total, checked.bad
            job.skipped, job.points, job.done = checked.skipped, checked.points, 0
            job.status, job.checked_at = ImportJob.Status.CHECKED, timezone.now()
            job.failure, job.failure_params = "", {}
            job.save()
    return checked


@transaction.atomic
def import_job_start(*, job: ImportJob, actor) -> ImportJob:
    """Staff's "Import": the real run, sent to the workers after commit. Only once checked (or
    after a failure part-way, which a new run finishes: what was written is skipped)."""
    if actor is None or not actor.is_staff:
        raise NotAllowed("Only staff can import.")
    locked = ImportJob.objects.select_for_update(of=("self",)).get(pk=job.pk)
    if locked.status not in {ImportJob.Status.CHECKED, ImportJob.Status.FAILED} or not (
        locked.file
    ):
        raise InvalidInput("This import cannot be started now.", field="status")
    with set_actor(actor):
        locked.status, locked.dry_run, locked.started_at = ImportJob.Status.QUEUED, False, None
        locked.save(update_fields=["status", "dry_run", "started_at"])
    from .tasks import import_run_task  # (the tasks module imports this one)

    transaction.on_commit(lambda: import_run_task.delay(locked.pk), robust=True)
    return locked


def import_job_run(*, job: ImportJob, source: Source | None = None, way: str = "") -> ImportJob:
    """The real run: check again, then write the good rows chunk by chunk (each chunk commits,
    and the job's progress with it), then upgrade the tiers reached. Not inside a transaction:
    a run that stops part-way keeps its finished chunks, and running it again writes the rest."""
    now = timezone.now()
    with set_actor(job.actor):
        job.status, job.dry_run, job.started_at = ImportJob.Status.IMPORTING, False, now
        job.done = 0
        job.save(update_fields=["status", "dry_run", "started_at", "done"])
        runner = _runner(job, source, now, way)
        try:
            progress = lambda done: _progress(job, done)  # noqa: E731
            if runner.checks_while_writing:  # (members: each row checked as it is enrolled)
                written = runner.write(at=now, progress=progress)
                checked = runner.checked
            else:
                checked = runner.check()
                ImportJob.objects.filter(pk=job.pk).update(
                    rows=checked.rows, total=checked.total, bad=checked.bad, skipped=checked.skipped
                )
                written = runner.write(at=now, progress=progress)
            if written.member_ids:
                with transaction.atomic():
                    tiers_upgrade_many(member_ids=written.member_ids, at=now)
        except ImportFailed as failed:
            _fail(job, failed.code, failed.params)
            raise
        except Exception:
            log.exception("Import %s stopped", job.pk)
            _fail(job, "server_error", {})
            raise
        finally:
            runner.close()
        with transaction.atomic():
            errors = sorted(checked.errors + written.errors, key=lambda error: error.row)
            _errors_store(job, errors)
            job.rows, job.total = checked.rows, checked.total
            job.bad = checked.bad + written.refused
            job.skipped = checked.skipped + written.skipped
            job.done, job.points = written.imported, written.points
            job.status, job.finished_at = ImportJob.Status.DONE, timezone.now()
            job.failure, job.failure_params = "", {}
            job.save()
            if job.file:
                # (a members file holds personal data: kept no longer than needed)
                job.file.delete(save=True)
    return job


def _runner(job: ImportJob, source: Source | None, now: datetime, way: str):
    source = source or Source(job.file.open("rb"), name=job.file_name)
    if job.kind == ImportJob.Kind.MEMBERS:
        return MemberRows(source, job=job, now=now)
    way = way or ("sql" if connection.vendor == "postgresql" else "rows")
    cls = SqlPurchases if way == "sql" else RowPurchases
    return cls(source, partner=job.partner, now=now)


def _progress(job: ImportJob, done: int) -> None:
    ImportJob.objects.filter(pk=job.pk).update(done=done)
    job.done = done


def _fail(job: ImportJob, code: str, params: dict) -> None:
    job.status, job.failure, job.failure_params = ImportJob.Status.FAILED, code, params
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "failure", "failure_params", "finished_at"])


def _errors_store(job: ImportJob, errors: list[RowError]) -> None:
    ImportRowError.objects.filter(job=job).delete()
    ImportRowError.objects.bulk_create(
        (
            ImportRowError(
                job=job, row=error.row, field=error.field, code=error.code, params=error.params
            )
            for error in errors
        ),
        batch_size=5000,
    )
