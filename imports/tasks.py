"""Celery tasks of imports: thin, acks_late; each loads its job and calls a service. A run
delivered twice is harmless: the check writes nothing, and the import skips what is there."""

import contextlib
import logging

from celery import shared_task

from .models import ImportJob
from .rows import ImportFailed
from .services import import_job_check, import_job_run

log = logging.getLogger(__name__)
TASK = {"acks_late": True, "reject_on_worker_lost": True, "ignore_result": True}


@shared_task(**TASK)
def import_check_task(job_id: int) -> None:
    job = ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.CHECKING).first()
    if job is None:
        return
    with contextlib.suppress(ImportFailed):  # (the job says why)
        import_job_check(job=job)


@shared_task(**TASK)
def import_run_task(job_id: int) -> None:
    job = ImportJob.objects.filter(
        pk=job_id, status__in=[ImportJob.Status.QUEUED, ImportJob.Status.IMPORTING]
    ).first()
    if job is None:
        return
    with contextlib.suppress(ImportFailed):  # (the job says why)
        import_job_run(job=job)
