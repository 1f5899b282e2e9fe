"""Reaching PostgreSQL from this process: URLs, connections, pg_dump/pg_restore, the
embedded server and scratch databases."""
