"""`python manage.py seed_demo`: demo data to try the program with; safe to run again."""

from django.core.management.base import BaseCommand, CommandError

from loyalty import demo
from loyalty.base.errors import LoyaltyError


class Command(BaseCommand):
    help = (
        "Add demo data (tiers, earning rules, the partner Demo Shop with a published API key, "
        "a staff user and a member with a year of history) and print where to log in. "
        "Running it again changes nothing. For development only."
    )

    def handle(self, *args, **options):
        try:
            data = demo.seed_demo()
        except LoyaltyError as exc:
            raise CommandError(f"Could not seed the demo data: {exc.message}") from exc
        for line in demo.login_lines(data):
            self.stdout.write(line)
