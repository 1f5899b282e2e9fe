"""Running revisions: the Alembic child process, its driver, and the careful executor
(timeouts, lock retries, a watch on who blocks whom)."""
