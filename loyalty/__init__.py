"""The loyalty program: project package and the core (points ledger, purchases, tiers)."""

from .celery import app as celery_app

__all__ = ["celery_app"]
