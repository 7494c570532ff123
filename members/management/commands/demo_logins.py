"""`python manage.py demo_logins`: the demo's logins and links in a short box (what `make run`
prints last, and again once the demo's worker and web server have said their first lines)."""

import signal
import time

from django.core.management.base import BaseCommand

from loyalty import demo


class Command(BaseCommand):
    help = "Print the demo's logins and links in a short box (after seed_demo). For the demo only."

    def add_arguments(self, parser):
        parser.add_argument("--site", default=demo.SITE_URL, help="The site's address.")
        parser.add_argument(
            "--after", type=float, default=0, help="Wait this many seconds before printing."
        )
        parser.add_argument(
            "--stay",
            action="store_true",
            help="Then wait until stopped (in a Procfile, where a process that ends stops all).",
        )

    def handle(self, *args, **options):
        if options["after"]:
            time.sleep(options["after"])
        lines = demo.login_box(site_url=options["site"])
        self.stdout.write("\n".join(lines) if lines else "No demo data: run seed_demo first.")
        self.stdout.flush()
        if options["stay"]:
            signal.signal(signal.SIGTERM, lambda *_: exit(0))
            while True:
                signal.pause()
