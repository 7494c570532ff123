"""Starting data of the feedback book: a response policy per severity (staff change it in the
admin), the beat schedule of its two tasks, and the Managers group escalations go to.

Idempotent: rows that exist (perhaps changed by staff) are left as they are.
"""

from django.conf import settings
from django.db import migrations
from django.utils import timezone

# severity: (hours to the first answer, hours to resolution)
POLICIES = {"critical": (4, 24), "high": (24, 72), "normal": (48, 168), "low": (120, 336)}

# name, task, crontab (minute, hour), description
SCHEDULE = [
    (
        "feedback: escalation",
        "feedback.tasks.feedback_escalate_task",
        ("*/15", "*"),
        "Every 15 minutes: tells the managers about severe and overdue feedback, once per item.",
    ),
    (
        "feedback: quarterly survey",
        "feedback.tasks.surveys_invite_task",
        ("45", "5"),
        "Daily: asks yesterday's buyers and answered complainants two questions, once a quarter.",
    ),
]


def create(apps, schema_editor):
    ResponsePolicy = apps.get_model("feedback", "ResponsePolicy")
    for severity, (first, resolution) in POLICIES.items():
        ResponsePolicy.objects.get_or_create(
            severity=severity,
            defaults={"first_answer_hours": first, "resolution_hours": resolution},
        )
    Group = apps.get_model("auth", "Group")
    Group.objects.get_or_create(name=settings.FEEDBACK_MANAGERS_GROUP)

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
        ("feedback", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("django_celery_beat", "0018_improve_crontab_helptext"),
    ]

    operations = [migrations.RunPython(create, delete)]
