"""`member_id` on the e-mail outbox (loyalty.base.distribution): the member an e-mail is for,
when there is one. Older rows of a member's message get their message's member, batch by batch
(loyalty.base.backfill); the others (staff alerts, invitations: the outbox's housekeeping
deletes old rows) stay empty."""

import django.db.models.deletion
from django.db import migrations, models

from loyalty.base.backfill import fill_in_batches

MESSAGE = (
    "CASE WHEN t.kind = 'message' THEN "
    "(SELECT m.member_id FROM notifications_message m WHERE m.id = t.object_id) END"
)


def fill(apps, schema_editor):
    fill_in_batches(
        schema_editor.connection, "notifications_outgoingemail", "member_id", f"SELECT {MESSAGE}"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0009_points_pending_and_return_window"),
        ("notifications", "0004_failed_index"),
    ]

    atomic = False  # the fill commits batch by batch

    operations = [
        migrations.AddField(
            model_name="outgoingemail",
            name="member",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="accounts.member",
            ),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
