"""The beat schedule of the scheduled jobs (loyalty/jobs.py), in django-celery-beat's tables.

Staff see, pause or move them in the admin (Periodic tasks). The crontabs run in the program's
time zone (TIME_ZONE), early in the morning; the tier review on the first of the month. Creating
them is idempotent: a schedule that exists (perhaps changed by staff) is left as it is.
"""

from django.conf import settings
from django.db import migrations
from django.utils import timezone

# name, task, (minute, hour, day of month), description
SCHEDULE = [
    (
        "jobs: points and voucher expiry",
        "loyalty.tasks.points_expiry_task",
        ("30", "1", "*"),
        "Expires points past their expiry date, tells members 30 days before, expires vouchers.",
    ),
    (
        "jobs: housekeeping",
        "loyalty.tasks.housekeeping_task",
        ("30", "2", "*"),
        "Deletes Idempotency-Keys past their retention and old finished webhook deliveries.",
    ),
    (
        "jobs: tier review",
        "loyalty.tasks.tier_review_task",
        ("0", "3", "1"),
        "Monthly: members below their tier get a grace period first, then move down one tier.",
    ),
    (
        "jobs: anniversary thank-you",
        "rewards.tasks.anniversary_task",
        ("0", "5", "*"),
        "Thanks members on their membership anniversary with their tier's bonus and a card.",
    ),
    (
        "jobs: birthday greetings",
        "rewards.tasks.birthdays_task",
        ("15", "5", "*"),
        "Greets members on their birthday with the gift that delights them.",
    ),
]


def create_schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    created_any = False
    for name, task, (minute, hour, day_of_month), description in SCHEDULE:
        fields = {
            "minute": minute,
            "hour": hour,
            "day_of_month": day_of_month,
            "month_of_year": "*",
            "day_of_week": "*",
            "timezone": settings.TIME_ZONE,
        }
        # CrontabSchedule has no unique constraint: reuse the first match.
        crontab = CrontabSchedule.objects.filter(**fields).order_by("pk").first()
        if crontab is None:
            crontab = CrontabSchedule.objects.create(**fields)
        _task, created = PeriodicTask.objects.get_or_create(
            name=name,
            defaults={
                "task": task,
                "crontab": crontab,
                "enabled": True,
                "description": description,
            },
        )
        created_any = created_any or created
    if created_any:
        # What PeriodicTask's post_save signal does: tell a running beat to reload.
        PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def delete_schedule(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name__in=[row[0] for row in SCHEDULE]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty", "0004_tier_anniversary_bonus_jobrun"),
        ("django_celery_beat", "0018_improve_crontab_helptext"),
    ]

    operations = [migrations.RunPython(create_schedule, delete_schedule)]
