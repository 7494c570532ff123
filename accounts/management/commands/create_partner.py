"""`python manage.py create_partner NAME`: a partner and its first API key.

The raw key is printed once, as the last line of the output, so a script can take it with
`tail -n 1`; only its digest is stored.
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts import services
from loyalty.base.errors import LoyaltyError


class Command(BaseCommand):
    help = (
        "Create a partner (a till, web shop or CRM) and an API key for it. "
        "The new key is printed as the last line and is shown only this once."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="The partner's name, unique.")
        parser.add_argument(
            "--currency",
            default=None,
            help="ISO 4217 code of the amounts the partner reports (default: LOYALTY_CURRENCY).",
        )
        parser.add_argument(
            "--key-name", default="Initial key", help="A name for the API key, for staff."
        )

    def handle(self, *args, **options):
        try:
            with transaction.atomic():
                partner = services.partner_create(
                    name=options["name"], currency=options["currency"]
                )
                key, raw_key = services.api_key_create(partner=partner, name=options["key_name"])
        except LoyaltyError as exc:
            raise CommandError(f"Could not create the partner: {exc.message}") from exc
        self.stdout.write(
            f'Created partner "{partner.name}" ({partner.currency}, id {partner.pk}).'
        )
        self.stdout.write(
            f'API key "{key.name}" (prefix {key.prefix}). It is shown only now; store it safely:'
        )
        self.stdout.write(raw_key)
