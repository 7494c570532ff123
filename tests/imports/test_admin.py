"""The staff pages: upload a file, read the dry run's bad rows in the staff's language, start
the import (a background task; eager here, a real worker in test_worker.py), on the audit trail
as the staff member's."""

import pytest
from auditlog.models import LogEntry
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.models import User
from imports.models import ImportJob
from loyalty.core.models import Purchase
from loyalty.core.roles import MANAGERS, MARKETING
from tests import factories

pytestmark = pytest.mark.django_db


def _staff(role):
    user = User.objects.create_user(
        email=f"{role.lower()}@example.com", password="x", is_staff=True
    )
    user.groups.add(Group.objects.get(name=role))
    return user


def _upload(buyer):
    number = buyer.member_number
    text = (
        "member_number,external_id,purchased_at,amount\n"
        f"{number},W-1,2025-01-02 10:00,12.50\n"
        f"{number},W-2,2025-01-03,12.5.0\n"
    )
    return SimpleUploadedFile("till.csv", text.encode(), content_type="text/csv")


def test_a_manager_uploads_reads_the_bad_rows_and_imports(
    client, partner, tiers, base_rule, django_capture_on_commit_callbacks
):
    # given
    manager = _staff(MANAGERS)
    client.force_login(manager)
    buyer = factories.make_member(email="buyer@example.com")

    # when: the upload (its dry run runs after commit, eagerly here)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:imports_importjob_add"),
            {"kind": "purchases", "partner": partner.pk, "file": _upload(buyer)},
        )
    job = ImportJob.objects.get()
    page = client.get(reverse("admin:imports_importjob_change", args=[job.pk]))

    # then: the dry run's bad row, worded, and nothing written
    assert response.status_code == 302
    assert page.status_code == 200
    assert (job.status, job.dry_run, job.to_import) == ("checked", True, 1)
    assert "The amount must be a positive number with at most two decimals." in (
        page.content.decode()
    )
    assert Purchase.objects.count() == 0

    # when: the import
    with django_capture_on_commit_callbacks(execute=True):
        started = client.post(reverse("admin:imports_importjob_import", args=[job.pk]))
    job.refresh_from_db()

    # then
    assert started.status_code == 302
    assert (job.status, job.dry_run, job.done) == ("done", False, 1)
    assert list(Purchase.objects.values_list("external_id", flat=True)) == ["W-1"]
    assert not job.file  # (deleted once imported)
    records = LogEntry.objects.filter(content_type__model="importjob", object_pk=str(job.pk))
    assert {record.actor for record in records} == {manager}
    assert records.filter(action=LogEntry.Action.CREATE).exists()
    assert records.filter(additional_data__operation="import").exists()
    assert any(record.changes.get("status") == ["importing", "done"] for record in records)


def test_a_bad_row_is_worded_at_display_from_its_code(client, partner, tiers, base_rule):
    # given
    manager = _staff(MANAGERS)
    client.force_login(manager)
    job = ImportJob.objects.create(kind="purchases", partner=partner, actor=manager,
                                   file_name="x.csv", status="checked", total=1, bad=1)  # fmt: skip
    job.row_errors.create(row=3, field="amount", code="invalid_amount")
    manager.language = "en"
    manager.save()

    # when
    page = client.get(reverse("admin:imports_importjob_change", args=[job.pk]))

    # then
    assert (
        "The amount must be a positive number with at most two decimals." in page.content.decode()
    )


def test_marketing_may_not_import(client, partner):
    # given
    client.force_login(_staff(MARKETING))

    # when
    response = client.get(reverse("admin:imports_importjob_add"))

    # then
    assert response.status_code == 403
