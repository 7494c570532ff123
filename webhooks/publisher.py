"""Handing committed deliveries to the broker from a thread of the process, not the request.

A purchase's answer need not wait for Redis: its event and delivery rows are committed, and
the broker only says "try this one now". So after commit the request puts the delivery ids on
this process's queue and returns; a daemon thread takes what has gathered (up to
`BATCH_MAX` ids, waiting at most `LINGER_SECONDS` for more) and publishes one
`webhook_deliver_many_task` for them: one broker round trip for many purchases instead of one
each, and none inside a request.

Nothing is lost by it. Ids the thread could not publish (the broker down, the process stopped
before the thread ran) are still pending deliveries in the database, due now, and the periodic
dispatcher (`deliveries_dispatch_due`, every minute) enqueues them; a delivery enqueued twice is
attempted once (delivery_claim). Where Celery runs tasks eagerly (the demo without a broker,
most tests) the ids are enqueued at once, in the caller's thread, as before.
"""

from __future__ import annotations

import logging
import os
import queue
import threading

from celery import current_app

logger = logging.getLogger(__name__)

BATCH_MAX = 200
LINGER_SECONDS = 0.02


class Publisher:
    """The process's queue of delivery ids and the daemon thread that publishes them. Made
    again after a fork (gunicorn's and Celery's workers): a thread does not survive one."""

    def __init__(self):
        self.pid = os.getpid()
        self.ids: queue.SimpleQueue[int] = queue.SimpleQueue()
        self.idle = threading.Event()
        self.idle.set()
        self.thread = threading.Thread(target=self._run, name="webhook-publisher", daemon=True)
        self.thread.start()

    def put(self, delivery_ids: list[int]) -> None:
        self.idle.clear()
        for delivery_id in delivery_ids:
            self.ids.put(delivery_id)

    def _take(self) -> list[int]:
        batch = [self.ids.get()]
        try:
            while len(batch) < BATCH_MAX:
                batch.append(self.ids.get(timeout=LINGER_SECONDS))
        except queue.Empty:
            pass
        return batch

    def _run(self) -> None:
        from .tasks import webhook_deliver_many_task

        while True:
            batch = self._take()
            try:
                webhook_deliver_many_task.delay(batch)
            except Exception:  # the broker down: the dispatcher sends them (module docstring)
                logger.warning(
                    "Could not hand %d webhook deliveries to the broker; the dispatcher will.",
                    len(batch),
                    exc_info=True,
                )
            if self.ids.empty():
                self.idle.set()

    def wait_idle(self, timeout: float) -> bool:
        """For tests and shutdown: wait until what was put is handed over."""
        return self.idle.wait(timeout)


_publisher: Publisher | None = None
_lock = threading.Lock()


def publisher() -> Publisher:
    global _publisher
    with _lock:
        if _publisher is None or _publisher.pid != os.getpid():
            _publisher = Publisher()
        return _publisher


def deliveries_publish(delivery_ids: list[int]) -> None:
    """Hand committed deliveries to the broker: through the thread, or at once where Celery
    runs tasks eagerly."""
    if current_app.conf.task_always_eager:
        from .tasks import webhook_deliver_task

        for delivery_id in delivery_ids:
            webhook_deliver_task.delay(delivery_id)
        return
    publisher().put(delivery_ids)
