"""The member's id on rows that hang off a member (docs/SCALING.md, "Cheap now").

When the tables are distributed by member (Citus), a row must carry its member's id to live on
that member's shard beside its parent. Rows that reach their member only through a parent (a
purchase's lines, an entry's lot movements, a redemption's voucher, an item's answers) carry a
copy, written by the services that write them; older rows are filled by `manage.py
member_ids_fill` (loyalty.base.backfill). The column is nullable, with no constraint (adding one
would scan the table; the parent's own member_id has it) and no index (nothing looks rows up by
it, but the webhook events, which have one), so it comes at no cost to a table of any size.
"""

from django.db import models


def member_copy() -> models.ForeignKey:
    return models.ForeignKey(
        "accounts.Member",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
