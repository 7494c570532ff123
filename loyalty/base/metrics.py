"""The program's own Prometheus metrics that count events as they happen (every floor may
count): purchases and points. What can be read from the database when Prometheus scrapes (job
runs, the outboxes' backlogs, failed deliveries) is read then instead (loyalty/ops.py).

Under gunicorn, set PROMETHEUS_MULTIPROC_DIR (an empty folder shared by the workers;
gunicorn.conf.py empties it at start) so that every worker's counts add up on /metrics.
"""

from prometheus_client import Counter

PURCHASES = Counter("loyalty_purchases", "Purchases recorded")
POINTS_EARNED = Counter("loyalty_points_earned", "Points earned on purchases")
POINTS_SPENT = Counter("loyalty_points_spent", "Points spent on rewards")
