"""The partner REST API v1: shared plumbing (keys, problems, idempotency) and the URL map."""
