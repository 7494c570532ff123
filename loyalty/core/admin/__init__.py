"""Staff pages of the core: the ledger and purchases (history, read-only), the program's
configuration (tiers, earning rules), job runs, and the members with "Adjust points".

The ledger, lots, purchases, refunds and tier changes are history: staff can look, never add,
change or delete (points change only through services, e.g. the member admin's "Adjust points").
Tiers and earning rules are configuration and are edited here. Adjustments above the support
limit wait for a manager on their own list. Hardship pauses are granted, refused, ended and
extended from their list, and their policy is edited here. Anomalies (partners near or past
their sanity limits) are looked at and marked reviewed.
"""

from . import (  # noqa: F401 (each registers its admins)
    adjustments,
    anomalies,
    ledger,
    members,
    pauses,
    program,
)
