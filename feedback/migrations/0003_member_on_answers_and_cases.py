"""`member_id` on answer reports and published cases, copied from their item
(loyalty.base.distribution); older rows filled batch by batch (loyalty.base.backfill)."""

import django.db.models.deletion
from django.db import migrations, models

from loyalty.base.backfill import fill_in_batches

# table -> how an older row finds its member
ITEM = "SELECT i.member_id FROM feedback_feedbackitem i WHERE i.id = t.item_id"
SOURCES = {"feedback_feedbackanswer": ITEM, "feedback_publishedcase": ITEM}


def fill(apps, schema_editor):
    for table, source in SOURCES.items():
        fill_in_batches(schema_editor.connection, table, "member_id", source)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0009_points_pending_and_return_window"),
        ("feedback", "0002_policies_schedule_managers"),
    ]

    atomic = False  # the fill commits batch by batch

    operations = [
        migrations.AddField(
            model_name="feedbackanswer",
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
        migrations.AddField(
            model_name="publishedcase",
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
