"""Keeps the watches after successful runs, from the audit log, beside everything else.

A thread finds the open watches in the log (``watch_started`` without
``watch_finished``; at its start, through the request index, so it does not
read every watch the history holds), so a watch started by another process
(the CLI) or before a restart is kept too. Every ``check_every`` it asks the health URL
and compares the counters so far: the first regression is recorded
(``watch_regressed``) and told at once. At the watch's end it samples once
more, records the report (``watch_finished``, once, even with two bots on one
log) and hands it over. It takes no lock: other runs go on meanwhile, and the
report names any that ran on the same target. A worker of a shared deployment
keeps only the watches of its own targets (the databases it can reach).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import psycopg

from audit.chain import Event
from audit.store import StoreError
from commands.checks.health_probe import probe_health
from commands.errors import MigrateBotError
from commands.pipeline.context import RunContext
from commands.pipeline.watch import sample_target, texts_of
from commands.pipeline.watch_report import SINCE_RESET, Before, Health, WatchReport, compare
from commands.postgres.statement_stats import UsageSample
from commands.requests.index import watching_ids
from commands.state.vocabulary import EventKind
from commands.units import format_duration

log = logging.getLogger(__name__)

POLL_S = 5.0  # how often the log is read for new and due watches
MIN_CHECK_S = 5.0  # the health URL and the counters, at most this often
CHECKS_PER_WATCH = 20
GIVE_UP_S = 600  # a watch whose database stays unreadable this long past its end is closed
WATCH_KINDS = [EventKind.WATCH_STARTED, EventKind.WATCH_REGRESSED, EventKind.WATCH_FINISHED]

ReportSink = Callable[[WatchReport], None]


@dataclass
class OpenWatch:
    """A watch in progress, as its ``watch_started`` event describes it."""

    request_id: str
    target: str
    until: datetime
    period_s: float
    before: Before | None
    start: UsageSample | None
    health: Health | None
    statements_available: bool
    alerted: bool
    resumed_at: datetime | None = None  # set when this process took over a running watch
    next_check: float = 0.0

    @classmethod
    def from_event(cls, event: Event, *, alerted: bool, resumed_at: datetime | None) -> OpenWatch:
        data = event.data
        url = data.get("health_url")
        return cls(
            request_id=event.request_id or "",
            target=event.target or "",
            until=datetime.fromisoformat(data["until"]),
            period_s=float(data["period_s"]),
            before=Before.from_json(data["before"]) if data.get("before") else None,
            start=UsageSample.from_json(data["start"]) if data.get("start") else None,
            health=Health(url) if url else None,
            statements_available=bool(data.get("statements_available")),
            alerted=alerted,
            resumed_at=resumed_at,
        )

    @property
    def check_every(self) -> float:
        return max(MIN_CHECK_S, self.period_s / CHECKS_PER_WATCH)


class WatchKeeper:
    """Finishes watches: ``start()`` a thread, or call ``tick()`` (tests, the CLI)."""

    def __init__(
        self,
        context: RunContext,
        *,
        on_started: ReportSink | None = None,
        on_regressed: ReportSink | None = None,
        on_finished: ReportSink | None = None,
        poll_s: float = POLL_S,
        targets: Collection[str] | None = None,
    ) -> None:
        self.context = context
        self.targets = None if targets is None else frozenset(targets)  # None: every target
        self.on_started = on_started
        self.on_regressed = on_regressed
        self.on_finished = on_finished
        self.poll_s = poll_s
        self._open: dict[str, OpenWatch] = {}
        self._seen: int | None = None  # the last watch event taken; None before the first look
        self._born = context.clock()  # watches started before this were begun by another
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="watch-keeper", daemon=True)

    def start(self) -> WatchKeeper:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(30)

    def open_watches(self) -> list[str]:
        return list(self._open)

    def _loop(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                self.tick()
            except Exception:
                log.exception("the watch keeper's round failed; it tries again")

    def tick(self) -> list[WatchReport]:
        """One round: new watches found, due checks made, due watches finished."""
        self._refresh()
        finished = []
        for watch in list(self._open.values()):
            report = self._step(watch)
            if report is not None:
                finished.append(report)
        return finished

    # the log -------------------------------------------------------------------

    def _refresh(self) -> None:
        store = self.context.store
        if self._seen is None:  # the first look: the watches still open, not every one ever
            head = store.head()
            self._seen = head.seq if head else 0
            for request_id in watching_ids(store):
                for event in store.events(request_id=request_id, kinds=WATCH_KINDS):
                    if event.seq <= self._seen:
                        self._take(event)
        for event in store.events(kinds=WATCH_KINDS, after_seq=self._seen):
            self._seen = event.seq
            self._take(event)

    def _take(self, event: Event) -> None:
        if self.targets is not None and event.target not in self.targets:
            return
        request_id = event.request_id or ""
        if event.kind == EventKind.WATCH_STARTED:
            taken_over = datetime.fromisoformat(event.ts) < self._born
            resumed = self.context.clock() if taken_over else None
            watch = OpenWatch.from_event(event, alerted=False, resumed_at=resumed)
            self._open[request_id] = watch
            if not taken_over:
                self._deliver(self.on_started, self._report(watch, watch.until, final=False))
        elif event.kind == EventKind.WATCH_REGRESSED and request_id in self._open:
            self._open[request_id].alerted = True
        elif event.kind == EventKind.WATCH_FINISHED:
            self._open.pop(request_id, None)

    # one watch -----------------------------------------------------------------

    def _step(self, watch: OpenWatch) -> WatchReport | None:
        now = self.context.clock()
        due = now >= watch.until
        if not due and time.monotonic() < watch.next_check:
            return None
        watch.next_check = time.monotonic() + watch.check_every
        try:
            report = self._look(watch, final=due)
        except (MigrateBotError, psycopg.Error) as exc:
            log.warning("the watch of %s cannot read %s: %s", watch.request_id, watch.target, exc)
            if not due or now < watch.until + timedelta(seconds=GIVE_UP_S):
                return None
            unread = (f"could not read the database: {exc}",)
            report = self._report(watch, now, final=True, notes=unread)
        if report.final:
            return self._finish(watch, report)
        if report.regressed and not watch.alerted:
            self._record(watch, EventKind.WATCH_REGRESSED, report)
            watch.alerted = True
            self._deliver(self.on_regressed, report)
        return None

    def _look(self, watch: OpenWatch, *, final: bool) -> WatchReport:
        """Ask the health URL, sample the counters and compare them with before."""
        if watch.health is not None:
            answer = probe_health(watch.health.url)
            watch.health = watch.health.after(answer.ok, answer.describe(), self.context.clock())
        handle = self.context.target(watch.target)
        end, _ = sample_target(handle)
        if watch.start is None or watch.before is None:
            return self._report(watch, end.at, final=final)
        comparison = compare(
            watch.before,
            watch.start,
            end,
            settings=handle.config.watch,
            small_table_rows=handle.config.checks.small_table_rows,
        )
        texts = texts_of(handle, [s.queryid for s in comparison.slowed])
        report = replace(
            self._report(watch, end.at, final=final),
            compared=comparison.compared,
            slowed=tuple(replace(s, text=texts.get(s.queryid, s.text)) for s in comparison.slowed),
            scans=comparison.scans,
            failures=comparison.failures,
        )
        return with_signals(report)

    def _report(
        self, watch: OpenWatch, end: datetime, *, final: bool, notes: tuple[str, ...] = ()
    ) -> WatchReport:
        start = watch.start.at if watch.start else end
        before = watch.before or Before(SINCE_RESET, None, start, {}, {})
        report = WatchReport(
            request_id=watch.request_id,
            target=watch.target,
            start=start,
            end=end,
            planned_s=watch.period_s,
            before=before,
            compared=0,
            health=watch.health,
            notes=(*notes, *self._notes(watch, start, end)),
            final=final,
            statements_available=watch.statements_available and watch.before is not None,
        )
        return with_signals(report, counters=watch.start is not None)

    def _notes(self, watch: OpenWatch, start: datetime, end: datetime) -> list[str]:
        notes = []
        if watch.resumed_at is not None and watch.health is not None:
            notes.append(
                "the bot restarted during the watch: the health URL was asked from"
                f" {watch.resumed_at:%H:%M:%S %Z} on"
            )
        late = (end - start).total_seconds() - watch.period_s
        if late > max(60.0, watch.period_s / 2):
            notes.append(
                f"it ended {format_duration(late)} late (no bot was running at its end): 'after'"
                " is that much longer"
            )
        if watch.start is None:
            notes.append("the database could not be read when the run ended: nothing to compare")
        elif watch.before is None:
            notes.append("the database could not be read when the run began: nothing to compare")
        others = self.context.requests.requests(target=watch.target, limit=20)
        for other in others:
            run = other.run
            if other.id != watch.request_id and run and start <= run.started_at <= end:
                notes.append(
                    f"{other.id} ran on {watch.target} during the watch: its effect is in"
                    " the figures"
                )
        return notes

    def _finish(self, watch: OpenWatch, report: WatchReport) -> WatchReport | None:
        """Record the report once (another process may have finished it first)."""
        try:
            with self.context.store.transaction() as tx:
                done = tx.events(request_id=watch.request_id, kinds=[EventKind.WATCH_FINISHED])
                if not done:
                    data = {**report.to_json(), "alerted_before": watch.alerted}
                    tx.append(
                        kind=EventKind.WATCH_FINISHED,
                        actor=self.context.actor,
                        request_id=watch.request_id,
                        target=watch.target,
                        data=data,
                    )
        except StoreError as exc:
            log.warning("the watch of %s waits for the audit log: %s", watch.request_id, exc)
            return None
        self._open.pop(watch.request_id, None)
        if done:
            return None
        self._deliver(self.on_finished, report)
        return report

    def _record(self, watch: OpenWatch, kind: EventKind, report: WatchReport) -> None:
        try:
            self.context.store.append(
                kind=kind,
                actor=self.context.actor,
                request_id=watch.request_id,
                target=watch.target,
                data=report.to_json(),
            )
        except StoreError as exc:
            log.warning("the watch of %s could not record %s: %s", watch.request_id, kind, exc)

    @staticmethod
    def _deliver(sink: ReportSink | None, report: WatchReport) -> None:
        if sink is None:
            return
        try:
            sink(report)
        except Exception:
            log.exception("the watch's report for %s could not be delivered", report.request_id)


def with_signals(report: WatchReport, *, counters: bool = True) -> WatchReport:
    """``report`` with the signals it read, and those it could not with why: "no
    regression" is said only when none is missing."""
    read, unread = [], []
    if report.statements_available:
        read.append("statements (pg_stat_statements)")
    else:
        unread.append("statements: pg_stat_statements is not readable on the target")
    if report.failures is not None:
        read.append("failures (pg_stat_database: rollbacks, conflicts, deadlocks)")
    elif counters:
        unread.append("failures: pg_stat_database was not sampled before the watch")
    if counters:
        read.append("sequential scans (pg_stat_user_tables)")
    else:
        unread.append("every counter: the database could not be read when the run ended")
    if report.health is not None:
        if report.health.checks:
            read.append("the health URL")
        elif report.final:
            unread.append("the health URL: never answered a check")
    return replace(report, signals=tuple(read), unread=tuple(unread))
