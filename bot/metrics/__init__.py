"""Prometheus metrics of a running bot: what it did, read from the audit log at scrape time,
and what only the process sees (Slack API errors, the outbox)."""
