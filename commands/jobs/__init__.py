"""The job queue of a shared deployment: procrastinate on the shared PostgreSQL.

Fronts (``migrate-bot serve``) enqueue; workers (``migrate-bot worker``) run.
``queue`` holds the app and what fronts call (``JobQueue``, ``QueuedRuns``);
``tasks`` the two tasks workers run; ``stalled`` what a worker does about the
jobs of a worker that died. Kept import-free here.
"""
