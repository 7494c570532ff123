"""The points core: the ledger, purchases and refunds, earning rules, tiers, the job registry and
the hooks the feature apps register on. It imports accounts, the outbox apps (notifications,
webhooks) and the base, never a feature."""
