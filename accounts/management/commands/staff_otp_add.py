"""`manage.py staff_otp_add EMAIL [--name NAME]`: a TOTP device (an authenticator app) for a staff
user, printed once as an otpauth:// link and a QR code to scan."""

import io

import segno
from django.core.management.base import BaseCommand, CommandError
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User, normalize_email


class Command(BaseCommand):
    help = (
        "Give a staff user a TOTP device for the admin's second factor and print its link and "
        "QR code to scan with an authenticator app (shown this once)."
    )

    def add_arguments(self, parser):
        parser.add_argument("email", help="The staff user's e-mail address.")
        parser.add_argument("--name", default="Authenticator app", help="The device's name.")

    def handle(self, *args, email, name, **options):
        user = User.objects.filter(email__iexact=normalize_email(email)).first()
        if user is None or not user.is_staff:
            raise CommandError(f"No staff user has the address {email}.")
        device = TOTPDevice.objects.create(user=user, name=name[:64], confirmed=True)
        qr = io.StringIO()
        segno.make(device.config_url, error="m").terminal(out=qr, compact=True)
        self.stdout.write(qr.getvalue())
        self.stdout.write(device.config_url)
