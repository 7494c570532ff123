"""`member_id` on vouchers, copied from their redemption (loyalty.base.distribution). Older rows
are filled by `manage.py member_ids_fill` (loyalty.base.backfill)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),  # (the members table: nothing later)
        ("rewards", "0005_saving_goal"),
    ]

    operations = [
        migrations.AddField(
            model_name="voucher",
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
