"""The audit trail: who on the staff changed what, when, before and after, and why.

django-auditlog keeps the records (its LogEntry table); this app says which models it watches,
puts the staff user on every record written during an admin request, records admin actions and
staff pages that write without a model save, and shows the trail in the admin with a CSV export.
See docs/ARCHITECTURE.md, "Audit trail"."""
