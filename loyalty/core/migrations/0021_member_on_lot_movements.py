"""`member_id` on lot movements, copied from their entry (as loyalty/0020 for the purchase's
children). Older rows are filled by `manage.py member_ids_fill` (loyalty.base.backfill)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),  # (the members table: nothing later)
        ("loyalty", "0020_member_on_purchase_children"),
    ]

    operations = [
        migrations.AddField(
            model_name="lotmovement",
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
