"""An index of webhook events by member: the member's data download lists what partners were
told about them (members/export.py), which without it would read every event kept."""

from django.db import migrations, models

from loyalty.base.online_index import AddIndexOnline


class Migration(migrations.Migration):
    # (CREATE INDEX CONCURRENTLY cannot run in a transaction; writes go on while it builds)
    atomic = False

    dependencies = [("webhooks", "0005_member_on_events_and_deliveries")]

    operations = [
        AddIndexOnline(
            model_name="webhookevent",
            index=models.Index(fields=["member"], name="event_member"),
        ),
    ]
