"""Logging for every front: text or JSON lines, request id and target bound, secrets masked."""
