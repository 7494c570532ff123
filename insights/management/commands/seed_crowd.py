"""`python manage.py seed_crowd`: the demo's crowd for the staff dashboard (after seed_demo)."""

from django.core.management.base import BaseCommand, CommandError

from insights.demo import seed_crowd
from loyalty.base.errors import LoyaltyError

DASHBOARD_URL = "http://127.0.0.1:8000/admin/insights/memberinsight/dashboard/"


class Command(BaseCommand):
    help = (
        "Add a crowd of demo members on every rung of the loyalty ladder, a year of nightly "
        "runs and a finished win-back campaign with a holdout, for the staff dashboard. "
        "Needs seed_demo first; running it again changes nothing. For development only."
    )

    def handle(self, *args, **options):
        try:
            report = seed_crowd()
        except LoyaltyError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(report.summary() if report.changed else "The crowd is there already.")
        self.stdout.write(f"Staff dashboard: {DASHBOARD_URL}")
