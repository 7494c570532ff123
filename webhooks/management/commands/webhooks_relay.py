"""`manage.py webhooks_relay`: send the webhook outbox's due deliveries in batches until told to
stop (SIGTERM or SIGINT end it after the batch in hand). See webhooks.relay."""

import logging
import signal
import threading

from django.core.management.base import BaseCommand, CommandError

from webhooks.relay import BATCH_SIZE, IDLE_SECONDS, relay_run

logger = logging.getLogger("webhooks.relay")


class Command(BaseCommand):
    help = "Send due webhook deliveries in batches until stopped (webhooks.relay)."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
        parser.add_argument(
            "--idle", type=float, default=IDLE_SECONDS, help="seconds between looks when idle"
        )

    def handle(self, *args, batch_size, idle, **options):
        if batch_size < 1 or idle <= 0:
            raise CommandError("--batch-size must be at least 1 and --idle above 0.")
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        logger.info("Webhook relay started (batches of %d, idle %s s).", batch_size, idle)
        relay_run(stop=stop, batch_size=batch_size, idle_seconds=idle)
        logger.info("Webhook relay stopped.")
