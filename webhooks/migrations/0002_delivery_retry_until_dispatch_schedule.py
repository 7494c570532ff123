"""Deliveries get an explicit retry window; the due-delivery dispatcher gets its beat schedule.

The schedule lives in django-celery-beat's tables so staff can see, pause or change it in the
admin. Creating it is idempotent: a schedule staff have changed is left as it is.
"""

from datetime import timedelta

import django.core.validators
from django.db import migrations, models
from django.db.models import F, OuterRef, Subquery
from django.utils import timezone

import webhooks.models

DISPATCH_TASK_NAME = "webhooks: dispatch due deliveries"
DISPATCH_TASK = "webhooks.tasks.webhooks_dispatch_due_task"


def set_retry_until_from_event(apps, schema_editor):
    WebhookDelivery = apps.get_model("webhooks", "WebhookDelivery")
    WebhookEvent = apps.get_model("webhooks", "WebhookEvent")
    window_end = (
        WebhookEvent.objects.filter(pk=OuterRef("event_id"))
        .annotate(window_end=F("created_at") + timedelta(hours=24))
        .values("window_end")
    )
    WebhookDelivery.objects.update(retry_until=Subquery(window_end[:1]))


def create_dispatch_schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    # IntervalSchedule has no unique constraint on (every, period): reuse the first match.
    every_minute = IntervalSchedule.objects.filter(every=1, period="minutes").order_by("pk").first()
    if every_minute is None:
        every_minute = IntervalSchedule.objects.create(every=1, period="minutes")
    _task, created = PeriodicTask.objects.get_or_create(
        name=DISPATCH_TASK_NAME,
        defaults={
            "task": DISPATCH_TASK,
            "interval": every_minute,
            "enabled": True,
            "description": (
                "Sends webhook deliveries whose next attempt is due (first attempts the "
                "after-commit enqueue missed, and retries with backoff)."
            ),
        },
    )
    if created:
        # What PeriodicTask's post_save signal does: tell a running beat to reload.
        PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def delete_dispatch_schedule(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name=DISPATCH_TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("webhooks", "0001_initial"),
        ("django_celery_beat", "0018_improve_crontab_helptext"),
    ]

    operations = [
        migrations.AddField(
            model_name="webhookdelivery",
            name="retry_until",
            field=models.DateTimeField(
                default=webhooks.models.retry_until_default,
                help_text=(
                    "A failed attempt at or after this moment fails the delivery for good. It "
                    "is the event's time plus 24 hours, or, after a staff \"Send again\", that "
                    "moment plus 24 hours."
                ),
                verbose_name="retry until",
            ),
        ),
        migrations.AlterField(
            model_name="webhookendpoint",
            name="url",
            field=models.URLField(
                max_length=500,
                validators=[django.core.validators.URLValidator(schemes=["http", "https"])],
                verbose_name="URL",
            ),
        ),
        migrations.RunPython(set_retry_until_from_event, migrations.RunPython.noop),
        migrations.RunPython(create_dispatch_schedule, delete_dispatch_schedule),
    ]
