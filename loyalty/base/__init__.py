"""The base floor: what every floor uses. Errors and their problem responses, per-process
caching, prepared statements, the partner API's plumbing, helpers for staff and member pages.
It imports nothing of the program's apps."""
