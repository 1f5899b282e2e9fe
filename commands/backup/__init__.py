"""Verified backups and restores: take (pg_dump, streamed, checked, stored), records,
restore, start-up cleanup, and ``storage/`` for where backups are kept."""
