"""API key scopes: every key existing before them keeps every scope."""

from django.db import migrations, models

import accounts.models

# The scopes as they were when scopes came in (frozen: ApiScope may grow later).
EVERY_SCOPE = ["read", "purchases", "redemptions", "vouchers", "feedback", "members"]


def give_existing_keys_every_scope(apps, schema_editor):
    PartnerApiKey = apps.get_model("accounts", "PartnerApiKey")
    PartnerApiKey.objects.update(scopes=EVERY_SCOPE)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0007_erasure"),
    ]

    operations = [
        migrations.AddField(
            model_name="partnerapikey",
            name="scopes",
            field=models.JSONField(default=accounts.models.all_api_scopes, verbose_name="scopes"),
        ),
        migrations.RunPython(give_existing_keys_every_scope, migrations.RunPython.noop),
    ]
