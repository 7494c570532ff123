"""The e-mail outbox (notifications.outbox): its table, a row for each message of the last week
whose e-mail never went (an after-commit enqueue the broker lost, before there was an outbox),
and the beat schedule of its dispatcher. Creating the schedule is idempotent: a schedule staff
have changed is left as it is.
"""

import uuid
from datetime import timedelta

import django.utils.timezone
from django.db import migrations, models
from django.utils import timezone

DISPATCH_TASK_NAME = "notifications: dispatch due e-mails"
DISPATCH_TASK = "notifications.tasks.emails_dispatch_due_task"
BACKFILL_DAYS = 7


def outbox_rows_for_unsent_messages(apps, schema_editor):
    Message = apps.get_model("notifications", "Message")
    OutgoingEmail = apps.get_model("notifications", "OutgoingEmail")
    since = timezone.now() - timedelta(days=BACKFILL_DAYS)
    unsent = Message.objects.filter(
        email_wanted=True, emailed_at__isnull=True, created_at__gte=since
    ).values_list("pk", flat=True)
    OutgoingEmail.objects.bulk_create(
        [OutgoingEmail(kind="message", object_id=pk) for pk in unsent.iterator()],
        ignore_conflicts=True,
    )


def create_dispatch_schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
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
                "Sends e-mails whose next attempt is due (first attempts the after-commit "
                "enqueue missed, and retries with backoff)."
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
        ('notifications', '0001_initial'),
        ("django_celery_beat", "0018_improve_crontab_helptext"),
    ]

    operations = [
        migrations.CreateModel(
            name='OutgoingEmail',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ('kind', models.CharField(max_length=40, verbose_name='kind')),
                ('object_id', models.PositiveBigIntegerField(verbose_name='object id')),
                ('status', models.CharField(choices=[('pending', 'Pending'), ('sent', 'Sent'), ('failed', 'Failed')], default='pending', max_length=10, verbose_name='status')),
                ('attempts', models.PositiveIntegerField(default=0, verbose_name='attempts')),
                ('next_attempt_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='next attempt at')),
                ('sent_at', models.DateTimeField(blank=True, null=True, verbose_name='sent at')),
                ('last_error', models.TextField(blank=True, verbose_name='last error')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='created at')),
            ],
            options={
                'verbose_name': 'outgoing e-mail',
                'verbose_name_plural': 'outgoing e-mails',
                'ordering': ['-created_at'],
                'indexes': [models.Index(condition=models.Q(('status', 'pending')), fields=['next_attempt_at'], name='email_pending_by_due')],
                'constraints': [models.UniqueConstraint(fields=('kind', 'object_id'), name='email_once_per_object')],
            },
        ),
        migrations.RunPython(outbox_rows_for_unsent_messages, migrations.RunPython.noop),
        migrations.RunPython(create_dispatch_schedule, delete_dispatch_schedule),
    ]
