"""``Pipeline.run`` for any request: a fleet request runs its members in waves.

The fronts hand every approved request to one runner; a fleet request goes to
``FleetRun``, whose members go back through this same class (so a subclass,
the bot's log-tagging one, tags each member's run as well), and any other
request to the pipeline itself.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from commands.fleet.run import FleetRun
from commands.pipeline import Pipeline, RunOutcome
from commands.pipeline.run import UpdateSink, ignore_updates


class Runner(Pipeline):
    """Runs approved requests, fleets included; one instance per bot process."""

    # run first in each thread that runs a fleet's member (a front lowers its priority)
    member_thread_setup: Callable[[], None] | None = None

    def run(
        self,
        request_id: str,
        *,
        on_update: UpdateSink = ignore_updates,
        until: datetime | None = None,
        cancel: threading.Event | None = None,
        **handed: Any,
    ) -> RunOutcome:
        """As ``Pipeline.run``; a fleet's ``on_update`` gets ``FleetUpdate``s."""
        request = self.context.requests.get(request_id)
        if not request.is_fleet:
            return super().run(
                request_id, on_update=on_update, until=until, cancel=cancel, **handed
            )
        fleet = FleetRun(
            self.context,
            pipeline=type(self),
            on_update=on_update,  # type: ignore[arg-type]  # a fleet's watchers take FleetUpdates
            thread_setup=self.member_thread_setup,
        )
        return fleet.run(request.id, until=until, cancel=cancel)
