"""Scheduled requests: the slot a request is bound to (``slots``), and the scheduler that
reminds, starts or expires it when its maintenance window comes (``scheduler``).

Kept import-free here: the request model imports ``slots`` and the scheduler
imports the request service, so importing the package must pull in neither.
"""
