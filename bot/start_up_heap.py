"""Keep a serving process's start-up heap out of the garbage collector's full passes.

A front loads Bolt, uvicorn, psycopg, SQLAlchemy and the bot before its first
request: some 140,000 objects that live as long as the process. Each full
collection walked them all, with every thread stopped: 80 ms for a
``gc.collect()`` after the front's imports on the 2-core development machine,
and 149 ms for one that came on its own while ``bench/ack.py`` was sending,
landing on whichever acknowledgement was in flight. Frozen once the process is ready
(``gc.freeze``, as Python's documentation suggests for long-lived servers),
they are left out of every later collection; what requests make is collected
as before.
"""

from __future__ import annotations

import gc


def freeze_start_up_heap() -> None:
    """Collect what start-up left as garbage, then freeze every object still alive."""
    gc.collect()
    gc.freeze()
