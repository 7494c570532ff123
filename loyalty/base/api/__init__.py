"""The partner API's plumbing: problems, parsing, rendering, pagination, throttling, the
API's own request handler. The views live with their apps."""
