"""What the backfill bench's simulated application (``app_process``) waited on in each
phase: the evidence for where its write latency goes.

Sampled every 10 ms from ``pg_stat_activity``: each active session of the
application (``simulated-app``) counts once under its wait event
(``Lock:transactionid`` is a row lock held by another transaction,
``LWLock:WALWrite``/``IO:WalSync`` a commit waiting for WAL to reach disk)
or under ``CPU`` when it waits on nothing PostgreSQL knows of (running, or
waiting for a core). Slow writes are active longest, so they dominate the
samples. Beside that, read at the phase's start and end: how long the
application's backends waited for a core (``/proc/PID/schedstat``, the
kernel's run-queue delay), the machine's CPU use (``/proc/stat``), the WAL
written (``pg_stat_wal``), checkpoints (``pg_stat_checkpointer``), and
whether an autovacuum worker was seen running.
"""

from __future__ import annotations

import os
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl
from commands.units import format_bytes, format_duration

APP = "simulated-app"
INTERVAL_S = 0.01
CPU_EVERY = 25  # samples between two readings of every process's CPU (~0.3 s)
_NAMES = "SELECT pid, coalesce(nullif(application_name, ''), backend_type) FROM pg_stat_activity"
_SAMPLE = """
SELECT backend_type, application_name, coalesce(wait_event_type || ':' || wait_event, 'CPU')
  FROM pg_stat_activity
 WHERE state = 'active' AND pid <> pg_backend_pid()
   AND (application_name = %s OR backend_type = 'autovacuum worker')
"""
_COUNTERS = """
SELECT (SELECT wal_bytes FROM pg_stat_wal)::bigint,
       (SELECT wal_buffers_full FROM pg_stat_wal),
       (SELECT num_timed + num_requested FROM pg_stat_checkpointer)
"""


def _schedstat(pid: int) -> tuple[int, int]:
    """(ns on a core, ns waiting for one) of a process so far; zeros once it is gone."""
    try:
        run, wait, _ = Path(f"/proc/{pid}/schedstat").read_text().split()
    except (OSError, ValueError):
        return 0, 0
    return int(run), int(wait)


def _process_cpu() -> dict[int, tuple[float, str]]:
    """Each process's CPU so far (seconds) and what it is: a postgres process by its title
    (``startup``, ``walreceiver``: the replica's), a Python one by its script, another by
    its program."""
    tick = os.sysconf("SC_CLK_TCK")
    used = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            comm, _, rest = stat.read_text().partition(" (")[2].rpartition(")")
            fields = rest.split()
            words = (stat.parent / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except (OSError, IndexError):
            continue
        program = Path(words[0]).name
        if not program:
            what = f"[{comm}]"  # a kernel thread
        elif words[0].startswith("postgres:"):
            title = words[0].split()[1:3]  # "startup recovering", "io worker"
            what = " ".join(["postgres", *(word for word in title if word.isalpha())])
        elif program.startswith("python"):
            what = " ".join(Path(word).name for word in words[1:3] if word)
        else:
            what = program
        used[int(stat.parent.name)] = ((int(fields[11]) + int(fields[12])) / tick, what)
    return used


def _cpu_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies of all cores so far."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


@dataclass
class PhaseWaits:
    """What one phase's sampling found."""

    events: Counter[str] = field(default_factory=Counter)
    samples: int = 0
    autovacuum_samples: int = 0
    app_run_s: float = 0.0
    app_queue_s: float = 0.0
    cpu_busy: float = 0.0
    wal_bytes: int = 0
    wal_buffers_full: int = 0
    checkpoints: int = 0
    cpu_by_process: Counter[str] = field(default_factory=Counter)

    def top(self, count: int = 4) -> str:
        """The application's active samples by wait event, largest shares first."""
        total = sum(self.events.values())
        if not total:
            return "-"
        return ", ".join(
            f"{name} {100 * seen / total:.0f}%" for name, seen in self.events.most_common(count)
        )

    def top_cpu(self, count: int = 6) -> str:
        """The processes that used most CPU in the phase (processes of one kind summed)."""
        return ", ".join(
            f"{name} {format_duration(seconds)}"
            for name, seconds in self.cpu_by_process.most_common(count)
        )

    def lines(self, writes: int) -> list[tuple[str, str]]:
        """Label and value of each figure; ``writes``: the application's writes in the phase."""
        per_write = format_duration(self.app_queue_s / max(writes, 1))
        return [
            ("app active, by wait", self.top()),
            (
                "app backends' run-queue wait",
                f"{format_duration(self.app_queue_s)} ({per_write} a write)",
            ),
            ("app backends' CPU", format_duration(self.app_run_s)),
            ("machine CPU busy", f"{100 * self.cpu_busy:.0f}%"),
            ("CPU by process", self.top_cpu()),
            ("WAL written", format_bytes(self.wal_bytes)),
            ("WAL buffers full", f"{self.wal_buffers_full:,}"),
            ("checkpoints", str(self.checkpoints)),
            ("autovacuum seen", f"{self.autovacuum_samples:,} of {self.samples:,} samples"),
        ]


class AppWaits:
    """Samples the application's sessions for a block; ``result`` after it."""

    def __init__(self, database: DatabaseUrl) -> None:
        self.database = database
        self.result = PhaseWaits()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.pids: list[int] = []
        self._names: dict[int, str] = {}  # pid: the primary's application_name or backend_type
        self._cpu_first: dict[int, tuple[float, str]] = {}
        self._cpu_last: dict[int, tuple[float, str]] = {}

    def __enter__(self) -> AppWaits:
        with connect(self.database) as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (APP,)
            ).fetchall()
            self.pids = [int(row[0]) for row in rows]
            self._counters = conn.execute(_COUNTERS).fetchone()
        self._sched = [_schedstat(pid) for pid in self.pids]
        self._cpu_first = _process_cpu()
        self._cpu = _cpu_jiffies()
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()
        result = self.result
        for (run0, wait0), pid in zip(self._sched, self.pids, strict=True):
            run1, wait1 = _schedstat(pid)
            result.app_run_s += max(run1 - run0, 0) / 1e9
            result.app_queue_s += max(wait1 - wait0, 0) / 1e9
        busy1, total1 = _cpu_jiffies()
        result.cpu_busy = (busy1 - self._cpu[0]) / max(total1 - self._cpu[1], 1)
        with connect(self.database) as conn:
            self._read_cpu(conn)
            after = conn.execute(_COUNTERS).fetchone()
        for pid, (seconds, what) in self._cpu_last.items():
            name = re.sub(r" \S*\d+$", "", self._names.get(pid, what))  # a run id: one line
            result.cpu_by_process[name] += seconds - self._cpu_first.get(pid, (0.0, ""))[0]
        assert after is not None and self._counters is not None
        result.wal_bytes = int(after[0]) - int(self._counters[0])
        result.wal_buffers_full = int(after[1]) - int(self._counters[1])
        result.checkpoints = int(after[2]) - int(self._counters[2])

    def _sample(self) -> None:
        with connect(self.database, application_name="bench-backfill waits") as conn:
            while not self.stop.wait(INTERVAL_S):
                rows = conn.execute(_SAMPLE, (APP,)).fetchall()
                self.result.samples += 1
                if self.result.samples % CPU_EVERY == 0:
                    self._read_cpu(conn)
                if any(row[0] == "autovacuum worker" for row in rows):
                    self.result.autovacuum_samples += 1
                self.result.events.update(row[2] for row in rows if row[1] == APP)

    def _read_cpu(self, conn: psycopg.Connection) -> None:
        """Every process's CPU now (a process gone since keeps its last reading), and the
        names of the primary's backends."""
        for pid, name in conn.execute(_NAMES).fetchall():
            self._names[int(pid)] = f"postgres {name}"
        self._cpu_last.update(_process_cpu())
