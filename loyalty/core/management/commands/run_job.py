"""Run a scheduled job by hand: `manage.py run_job NAME [--date YYYY-MM-DD] [--via-broker]`."""

from django.core.management.base import BaseCommand, CommandError

from loyalty.base.errors import LoyaltyError
from loyalty.core import jobs
from loyalty.core.catchup import catch_up_notice
from loyalty.core.models import JobRun


class Command(BaseCommand):
    help = (
        "Run a scheduled job for a day (default: today in the program's time zone). By default "
        "the batches run here, one after the other; --via-broker enqueues them for the workers. "
        "Running a job again for the same day pays nothing twice."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", choices=jobs.job_names(), help="The job.")
        parser.add_argument("--date", dest="day", help="The day it is for, YYYY-MM-DD.")
        parser.add_argument(
            "--via-broker",
            action="store_true",
            help="Plan here and send the batches to the Celery workers (needs REDIS_URL).",
        )

    def handle(self, *args, name, day, via_broker, **options):
        try:
            day = jobs.parse_day(day)
            if via_broker:
                run = jobs.job_start(name=name, day=day, trigger=JobRun.Trigger.MANUAL)
            else:
                run = jobs.job_run(name=name, day=day)
        except LoyaltyError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(self.summary(run, via_broker))
        notice = catch_up_notice(run)
        if notice:
            self.stderr.write(notice)
        if run.errors:
            raise CommandError(f"{run.errors} error(s); see the job run {run.pk} in the admin.")

    @staticmethod
    def summary(run: JobRun, via_broker: bool) -> str:
        title = f"{run.label} for {run.day.isoformat()}: run {run.pk}"
        if via_broker and run.finished_at is None:
            return f"{title}, {run.batches_planned} batch(es) sent to the workers."
        seconds = run.duration.total_seconds() if run.duration else 0.0
        details = ", ".join(
            f"{key} {value}" for key, value in sorted(run.details.items()) if key != "catch_up"
        )
        return (
            f"{title}, {run.batches_done}/{run.batches_planned} batch(es) in {seconds:.1f} s: "
            f"{run.considered} considered, {run.paid} paid or changed, {run.skipped} skipped, "
            f"{run.errors} error(s)" + (f" ({details})" if details else "") + "."
        )
