"""Leave the process the way Python would, minus freeing every module first.

An interpreter's teardown frees each module and object it loaded, one by one:
0.2 s after a command that loaded SQLAlchemy, Alembic and psycopg, 0.3 s
after a whole ``upgrade`` (``bench/long_history.py``), paid by every call of
the console script after its answer is printed. Nothing anyone can see
depends on it. What a normal exit does that can be seen is kept, in Python's
order: the threads that are not daemons are waited for, the ``atexit``
handlers run (logging's flush, ``weakref.finalize``'s, tempfile's), and the
buffered output is flushed; then the process ends with ``os._exit``, as
``multiprocessing``'s children do. In-process callers (the tests, the
sandbox) use ``main``, which only returns the code.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from typing import NoReturn


def exit_quickly(code: int) -> NoReturn:
    """End the process with ``code`` once threads, atexit handlers and output are done."""
    current = threading.current_thread()
    for thread in threading.enumerate():
        if thread is not current and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`| head`): nothing more to say
            code = code or 1
    os._exit(code)
