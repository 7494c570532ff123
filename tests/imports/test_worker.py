"""The import as a background task: the dry run and the real run sent through Redis to a real
Celery worker, which reads the uploaded file from the private storage."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from imports.models import ImportJob
from imports.services import import_job_create, import_job_start
from loyalty.core.models import Purchase
from tests import factories
from tests.worker import wait_until

pytestmark = [pytest.mark.real_worker, pytest.mark.django_db(transaction=True)]


def test_a_real_worker_checks_then_imports_the_file(
    tiers, partner, base_rule, importer, workers, through_the_broker, settings, tmp_path
):
    # given
    settings.LOYALTY_PRIVATE_FILES = str(tmp_path / "private")
    workers("w1", LOYALTY_PRIVATE_FILES=settings.LOYALTY_PRIVATE_FILES)
    number = factories.make_member(email="buyer@example.com").member_number
    text = (
        "member_number,external_id,purchased_at,amount\n"
        f"{number},R-1,2025-01-02 10:00,12.50\n"
        f"{number},R-2,2025-01-02 11:00,bad\n"
    )
    upload = SimpleUploadedFile("till.csv", text.encode())

    # when: the upload's dry run, on the worker
    job = import_job_create(kind="purchases", actor=importer, partner=partner, file=upload)
    checked = wait_until(
        lambda: ImportJob.objects.filter(pk=job.pk, status="checked").first(),
        timeout=60,
        what="the dry run did not finish",
    )

    # then
    assert (checked.to_import, checked.bad, Purchase.objects.count()) == (1, 1, 0)

    # when: the import, on the worker
    import_job_start(job=checked, actor=importer)
    done = wait_until(
        lambda: ImportJob.objects.filter(pk=job.pk, status="done").first(),
        timeout=60,
        what="the import did not finish",
    )

    # then
    assert (done.done, done.bad, done.points) == (1, 1, 12)
    assert list(Purchase.objects.values_list("external_id", flat=True)) == ["R-1"]
