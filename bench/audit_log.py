"""Benchmark the audit log: appends per second and the time to verify a large log.

    .venv/bin/python bench/audit_log.py [--events 100000] [--single 2000] [--batch 1000]

Figures printed:
- single appends: each event in its own BEGIN IMMEDIATE transaction, committed
  with synchronous=FULL in WAL mode (how the bot writes: one event per action);
- batched appends: ``--batch`` events per transaction (how the log is filled here);
- request lives: create → pre-flight → 5 checklist ticks → approve → start →
  3 steps → finish through ``RequestService`` (15 events each) on the full log;
- verify: ``EventStore.verify`` over every event, and ``migrate-bot audit verify``
  end to end in a fresh process.
Events carry a realistic payload (an approval's: fingerprint, groups, flags).
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from audit.sqlite_store import SqliteEventStore
from audit.store import EventStore
from commands.config.targets_file import BUNDLED_MIGRATIONS, parse_config
from commands.migration.script.fingerprint import PlanFingerprint, RevisionFile
from commands.requests import RequestService
from commands.state.vocabulary import ChecklistItem, RequestKind, RequestState, StepStatus

PAYLOAD = {
    "fingerprint": hashlib.sha256(b"plan").hexdigest(),
    "groups": ["@db-admins"],
    "complete": True,
    "still_needed": [],
}


def append_single(store: EventStore, count: int) -> float:
    started = time.perf_counter()
    for index in range(count):
        store.append(
            kind="bench", actor="U0BENCH", request_id=f"B-{index}", target="prod", data=PAYLOAD
        )
    return time.perf_counter() - started


def append_batched(store: EventStore, count: int, batch: int) -> float:
    started = time.perf_counter()
    done = 0
    while done < count:
        with store.transaction() as tx:
            for index in range(done, min(done + batch, count)):
                tx.append(
                    kind="bench",
                    actor="U0BENCH",
                    request_id=f"B-{index}",
                    target="prod",
                    data=PAYLOAD,
                )
        done = min(done + batch, count)
    return time.perf_counter() - started


def request_lives(path: Path, count: int) -> float:
    """Seconds for ``count`` whole request lives through the service on ``path``."""
    config = parse_config(
        textwrap.dedent(
            f"""
            [bot]
            state_path = "{path.name}"
            [targets.prod]
            database_url_env = "X"
            script_location = "{BUNDLED_MIGRATIONS.as_posix()}"
            approvers = ["U0BOB"]
            """
        ),
        source="bench",
        base=path.parent,
    )
    service = RequestService(SqliteEventStore(path), config)
    plan = PlanFingerprint(
        "prod", "upgrade", (), ("r3",), tuple(RevisionFile(f"r{i}", "0" * 64) for i in range(1, 4))
    )
    started = time.perf_counter()
    for _ in range(count):
        request = service.create(
            kind=RequestKind.UPGRADE, target="prod", requester="U0ALICE", fingerprint=plan
        )
        service.record_preflight(request.id, actor="bot", passed=True, summary="ok")
        for item in ChecklistItem:
            service.tick_checklist(request.id, item=item, actor="U0ALICE")
        service.approve(request.id, approver="U0BOB")
        service.start_run(request.id, actor="bot", fingerprint_now=plan)
        for rev in ("r1", "r2", "r3"):
            service.record_step(
                request.id, actor="bot", step="upgrade", revision=rev, status=StepStatus.SUCCEEDED
            )
        service.finish_run(request.id, actor="bot", outcome=RequestState.SUCCEEDED)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000, help="events in the log")
    parser.add_argument("--single", type=int, default=2_000, help="single appends to time")
    parser.add_argument("--batch", type=int, default=1_000, help="events per transaction")
    parser.add_argument("--lives", type=int, default=50, help="request lives to time")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-audit-") as tmp:
        path = Path(tmp) / "audit.sqlite3"
        store = SqliteEventStore(path)
        single = append_single(store, args.single)
        print(
            f"single appends (1 event per transaction, synchronous=FULL, WAL):"
            f" {args.single / single:,.0f} events/s ({args.single:,} in {single:.2f} s)"
        )
        rest = args.events - args.single
        batched = append_batched(store, rest, args.batch)
        print(
            f"batched appends ({args.batch:,} events per transaction):"
            f" {rest / batched:,.0f} events/s ({rest:,} in {batched:.2f} s)"
        )
        lives = request_lives(path, args.lives)
        print(
            f"request lives through RequestService (15 events each, log of"
            f" {args.events:,}+): {args.lives / lives:,.1f} lives/s,"
            f" {lives / (args.lives * 15) * 1000:.2f} ms per transition"
        )

        started = time.perf_counter()
        report = store.verify()
        took = time.perf_counter() - started
        assert report.ok, report.breach
        print(
            f"verify (EventStore.verify): {report.events:,} events in {took:.2f} s"
            f" ({report.events / took:,.0f} events/s)"
        )
        cli = Path(sys.executable).with_name("migrate-bot")
        started = time.perf_counter()
        subprocess.run(
            [str(cli), "audit", "verify", "--file", str(path)], check=True, capture_output=True
        )
        print(
            f"`migrate-bot audit verify` end to end (new process): "
            f"{time.perf_counter() - started:.2f} s"
        )
        size = sum(p.stat().st_size for p in Path(tmp).iterdir())
        print(f"log size: {size / 1e6:.1f} MB for {report.events:,} events")


if __name__ == "__main__":
    main()
