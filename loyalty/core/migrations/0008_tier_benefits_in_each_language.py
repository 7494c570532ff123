"""A tier's benefits in each of the six languages; the text staff wrote so far is the English one.

Deploying it: the old code reads the column `benefits` in every query of tiers (each purchase
too), so migrate and restart the web, worker and beat processes together.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty", "0007_fewer_indexes_on_hot_tables"),
    ]

    operations = [
        migrations.RenameField(model_name="tier", old_name="benefits", new_name="benefits_en"),
        migrations.AlterField(
            model_name="tier",
            name="benefits_en",
            field=models.TextField(blank=True, verbose_name="benefits (English)"),
        ),
        *(
            migrations.AddField(
                model_name="tier",
                name=f"benefits_{code}",
                field=models.TextField(blank=True, default="", verbose_name=f"benefits ({name})"),
                preserve_default=False,
            )
            for code, name in [
                ("lt", "Lithuanian"),
                ("bg", "Bulgarian"),
                ("da", "Danish"),
                ("ru", "Russian"),
                ("pl", "Polish"),
            ]
        ),
    ]
