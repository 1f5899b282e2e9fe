"""The watch's samples: before approval, at the run's start, and the watch's start.

With ``watch`` set on a target, the bot samples the counters of
``pg_stat_statements`` and ``pg_stat_user_tables`` three times before the
watch begins: at the request's pre-flight (``watch_sampled``), at the start of
its run, and when the run has succeeded. The first two bound "before the run"
(see ``watch_report``); the third starts "after". ``watch_started`` records
them, so a restarted bot resumes the watch from the log. No sample ever fails
a run: a database that cannot be read is a note in the watch's report. The
watch holds no lock: the ``WatchKeeper`` finishes it beside other runs.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import psycopg

from audit.store import EventStore, StoreError
from commands.errors import MigrateBotError
from commands.pipeline.context import BOT_ACTOR, RunContext
from commands.pipeline.progress import RunOutcome
from commands.pipeline.watch_report import before_run
from commands.postgres.connections import connect
from commands.postgres.statement_stats import (
    StatsSource,
    UsageSample,
    find_statement_stats,
    sample_usage,
    statement_texts,
)
from commands.requests import Request
from commands.state.vocabulary import EventKind, RequestKind
from commands.targets import TargetHandle

log = logging.getLogger(__name__)

WATCHED_KINDS = (RequestKind.UPGRADE, RequestKind.DOWNGRADE)  # a restore renews every table


def sample_target(handle: TargetHandle) -> tuple[UsageSample, bool]:
    """Counters now, and whether ``pg_stat_statements`` was there to read (the table
    scans are read without it). Raises ``DatabaseUnavailableError``, ``psycopg.Error``."""
    with connect(handle.database) as conn:
        source = find_statement_stats(conn)
        readable = source if isinstance(source, StatsSource) else None
        return sample_usage(conn, readable, roles=handle.config.live_use.roles), bool(readable)


def texts_of(handle: TargetHandle, queryids: list[str]) -> dict[str, str]:
    """The statements' texts, to name the slower ones (none without pg_stat_statements)."""
    if not queryids:
        return {}
    with connect(handle.database) as conn:
        source = find_statement_stats(conn)
        return statement_texts(conn, source, queryids) if isinstance(source, StatsSource) else {}


def _try_sample(handle: TargetHandle, when: str) -> UsageSample | None:
    try:
        return sample_target(handle)[0]
    except (MigrateBotError, psycopg.Error) as exc:
        log.warning("no watch sample of %s %s: %s", handle.name, when, exc)
        return None


def record_intake_sample(store: EventStore, handle: TargetHandle, request: Request) -> None:
    """Before approval: the sample that starts the period "before the run"."""
    if not handle.config.watch.enabled or request.kind not in WATCHED_KINDS:
        return
    sample = _try_sample(handle, "before approval")
    if sample is not None:
        store.append(
            kind=EventKind.WATCH_SAMPLED,
            actor=BOT_ACTOR,
            request_id=request.id,
            target=request.target,
            data=sample.to_json(),
        )


class RunWatch:
    """One run's part of the watch: the sample at its start, the watch at its success."""

    def __init__(self, context: RunContext, request: Request, handle: TargetHandle) -> None:
        self.context = context
        self.request = request
        self.handle = handle
        self.at_start = _try_sample(handle, "at the run's start")

    @classmethod
    def at_run_start(
        cls, context: RunContext, request: Request, handle: TargetHandle
    ) -> RunWatch | None:
        """The run's first sample, when the target is watched (None: it is not)."""
        if not handle.config.watch.enabled or request.kind not in WATCHED_KINDS:
            return None
        return cls(context, request, handle)

    def after(self, outcome: RunOutcome) -> None:
        """A succeeded run starts the watch (``watch_started``); anything else ends it here."""
        if not outcome.succeeded:
            return
        try:
            self.context.store.append(
                kind=EventKind.WATCH_STARTED,
                actor=self.context.actor,
                request_id=self.request.id,
                target=self.request.target,
                data=self._started(),
            )
        except StoreError as exc:  # the run's outcome is recorded; only the watch is lost
            log.warning("the watch of %s could not start: %s", self.request.id, exc)

    def _started(self) -> dict[str, Any]:
        watch = self.handle.config.watch
        assert watch.period is not None
        start, available = None, False
        try:
            start, available = sample_target(self.handle)
        except (MigrateBotError, psycopg.Error) as exc:
            log.warning("no watch sample of %s after its run: %s", self.handle.name, exc)
        now = self.context.clock()
        data: dict[str, Any] = {
            "period_s": watch.period,
            "until": (now + timedelta(seconds=watch.period)).isoformat(),
            "health_url": self.handle.config.health_url,
            "statements_available": available,
            "before": None,
            "start": None if start is None else start.to_json(),
        }
        if start is not None and self.at_start is not None:
            data["before"] = before_run(self._before_approval(), self.at_start).to_json()
        return data

    def _before_approval(self) -> UsageSample | None:
        found = self.context.store.events(
            request_id=self.request.id,
            kinds=[EventKind.WATCH_SAMPLED],
            newest_first=True,
            limit=1,
        )
        return UsageSample.from_json(found[0].data) if found else None
