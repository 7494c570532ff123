"""`member_id` on purchase lines, refunds and refund lines, copied from their purchase
(loyalty.base.distribution), so the tables can be distributed by member later (docs/SCALING.md,
"Cheap now"). Adding it is a change of the catalogue only (nullable, no default, no index, no
constraint): instant at any size. Older rows are filled by `manage.py member_ids_fill`, run
after the deploy with the site up (loyalty.base.backfill)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),  # (the members table: nothing later)
        ("loyalty", "0019_prepare_function"),
    ]

    operations = [
        migrations.AddField(
            model_name="purchaseline",
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
            model_name="refund",
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
            model_name="refundline",
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
    ]
