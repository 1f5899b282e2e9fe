"""The tasks a worker runs, as procrastinate knows them, and what they hand over to.

A task is only a door: the work itself is the worker process's (the Bolt app
that replays an interaction, the request flow that runs a request), given to
procrastinate as ``additional_context["handlers"]`` when the worker starts.
Neither task is retried: a lost interaction is clicked again, and a run that
died is ``interrupted``, never resumed by itself.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Protocol

from procrastinate import Blueprint, JobContext

ABORT_POLL_S = 1.0

tasks = Blueprint()


class JobHandlers(Protocol):
    """What a worker process does for each task."""

    def interaction(self, body: Mapping[str, Any]) -> None: ...

    def run(
        self, request_id: str, target: str, *, until: datetime | None, cancel: threading.Event
    ) -> None: ...


def _handlers(context: JobContext) -> JobHandlers:
    handlers: JobHandlers = context.additional_context["handlers"]
    return handlers


@tasks.task(name="interaction", pass_context=True)
def interaction(context: JobContext, body: dict[str, Any]) -> None:
    _handlers(context).interaction(body)


@tasks.task(name="run", pass_context=True)
def run(context: JobContext, request_id: str, target: str, until: str | None) -> None:
    """Run the request; an abort asked for (the Stop button, from any process) cancels it."""
    cancel = threading.Event()
    done = threading.Event()
    watcher = threading.Thread(
        target=_watch_abort, args=(context.should_abort, cancel, done), daemon=True
    )
    watcher.start()
    try:
        deadline = datetime.fromisoformat(until) if until else None
        _handlers(context).run(request_id, target, until=deadline, cancel=cancel)
    finally:
        done.set()


def _watch_abort(
    should_abort: Callable[[], bool], cancel: threading.Event, done: threading.Event
) -> None:
    while not done.wait(ABORT_POLL_S):
        if should_abort():
            cancel.set()
            return
