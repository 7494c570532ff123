"""The insights policy's one row (staff change it in the admin) and the beat schedule of the
nightly ladder and of campaign sending. Idempotent: what exists is left as it is."""

from django.conf import settings
from django.db import migrations
from django.utils import timezone

# name, task, crontab (minute, hour), description
SCHEDULE = [
    (
        "insights: nightly ladder",
        "insights.tasks.insights_task",
        ("30", "4"),
        "Daily: every member's rung, RFM scores and attrition signals, and the dashboard's figures.",
    ),
    (
        "insights: campaigns",
        "insights.tasks.campaigns_task",
        ("*/10", "*"),
        "Every 10 minutes: sends what launched campaigns have still to send.",
    ),
]


def create(apps, schema_editor):
    apps.get_model("insights", "InsightsPolicy").objects.get_or_create(pk=1)
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    created_any = False
    for name, task, (minute, hour), description in SCHEDULE:
        fields = {
            "minute": minute,
            "hour": hour,
            "day_of_month": "*",
            "month_of_year": "*",
            "day_of_week": "*",
            "timezone": settings.TIME_ZONE,
        }
        crontab = CrontabSchedule.objects.filter(**fields).order_by("pk").first()
        if crontab is None:
            crontab = CrontabSchedule.objects.create(**fields)
        _task, created = PeriodicTask.objects.get_or_create(
            name=name,
            defaults={"task": task, "crontab": crontab, "enabled": True, "description": description},
        )
        created_any = created_any or created
    if created_any:
        PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def delete(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(
        name__in=[row[0] for row in SCHEDULE]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("insights", "0001_initial"),
        ("django_celery_beat", "0018_improve_crontab_helptext"),
    ]

    operations = [migrations.RunPython(create, delete)]
