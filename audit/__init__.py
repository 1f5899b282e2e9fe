"""The audit log: append-only, hash-chained events in SQLite. Imports nothing of ours."""
