"""The loyalty program's project package: the wiring on the top floor (settings, URLs, the
Celery app, WSGI, the demo seed), and below it the points core (loyalty/core/) and the base every
floor uses (loyalty/base/). See docs/ARCHITECTURE.md for the floor plan."""

from .celery import app as celery_app

__all__ = ["celery_app"]
