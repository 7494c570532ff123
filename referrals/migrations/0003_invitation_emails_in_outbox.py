"""Invitations of the last week whose e-mail never went (an after-commit enqueue the broker lost,
before there was an outbox) get their row in the e-mail outbox; the dispatcher sends them."""

from datetime import timedelta

from django.db import migrations
from django.utils import timezone

BACKFILL_DAYS = 7


def outbox_rows_for_unsent_invitations(apps, schema_editor):
    Invitation = apps.get_model("referrals", "Invitation")
    OutgoingEmail = apps.get_model("notifications", "OutgoingEmail")
    since = timezone.now() - timedelta(days=BACKFILL_DAYS)
    unsent = Invitation.objects.filter(sent_at__isnull=True, created_at__gte=since).values_list(
        "pk", flat=True
    )
    OutgoingEmail.objects.bulk_create(
        [OutgoingEmail(kind="invitation", object_id=pk) for pk in unsent.iterator()],
        ignore_conflicts=True,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("referrals", "0002_codes_for_existing_members"),
        ("notifications", "0002_email_outbox"),
    ]

    operations = [
        migrations.RunPython(outbox_rows_for_unsent_invitations, migrations.RunPython.noop),
    ]
