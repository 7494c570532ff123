"""/metrics counts the outboxes' pending and failed rows, and finds the longest-waiting due one,
through partial indexes: a scrape reads the few rows it counts, not every delivery and e-mail
ever kept (loyalty/ops.py)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from notifications.models import OutgoingEmail
from webhooks.models import WebhookDelivery

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def _plan(queryset) -> str:
    """The plan of a count, with sequential scans priced out (the test tables are tiny, so the
    planner would read them whole): what shows is whether an index can answer it."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
    return queryset.explain()


@pytest.mark.parametrize(
    "queryset, index",
    [
        (lambda: WebhookDelivery.objects.filter(status="pending"), "delivery_pending_due"),
        (lambda: WebhookDelivery.objects.filter(status="failed"), "delivery_failed"),
        (
            lambda: WebhookDelivery.objects.filter(
                status="failed", last_attempt_at__gte=timezone.now() - timedelta(days=1)
            ),
            "delivery_failed",
        ),
        (  # the overdue gauge: the longest-waiting due row
            lambda: WebhookDelivery.objects.filter(
                status="pending", next_attempt_at__lte=timezone.now()
            ).order_by("next_attempt_at")[:1],
            "delivery_pending_due",
        ),
        (lambda: OutgoingEmail.objects.filter(status="pending"), "email_pending_by_due"),
        (lambda: OutgoingEmail.objects.filter(status="failed"), "email_failed"),
    ],
)
def test_each_outbox_count_reads_a_partial_index(queryset, index):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's planner")
    plan = _plan(queryset().values("pk"))
    assert index in plan, plan
