"""Many approvals and run starts at once, from threads and from separate processes on
the same state (the SQLite file, or the shared PostgreSQL): exactly one approval,
exactly one run, the chain intact."""

from __future__ import annotations

import multiprocessing
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from commands.config.targets_file import parse_config
from commands.requests import AlreadyDoneError, RequestService
from commands.state.audit_log import open_audit_log
from commands.state.vocabulary import EventKind, RequestState
from tests.support.request_helpers import (
    APPROVER,
    SECOND_APPROVER,
    fingerprint,
    make_service,
    ready_for_approval,
    write_config,
)
from tests.support.shared_state import SHARED_BOT_KEYS

PROCESSES = 4
THREADS_PER_PROCESS = 10
THREADS_HERE = 50
WAIT_SECONDS = 120


def race(
    service: RequestService,
    action: str,
    request_id: str,
    actors: list[str],
    go: Callable[[], object],
) -> list[str]:
    """Start a thread per actor, wait for ``go`` (every process ready), then let all fire."""
    results: list[str] = []
    fire = threading.Event()

    def attempt(actor: str) -> None:
        fire.wait()
        try:
            if action == "approve":
                service.approve(request_id, approver=actor)
            else:
                service.start_run(request_id, actor=actor, fingerprint_now=fingerprint())
            results.append("done")
        except AlreadyDoneError:
            results.append("already")
        except Exception as exc:  # reported, and fails the test below
            results.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=attempt, args=(actor,)) for actor in actors]
    for thread in threads:
        thread.start()
    go()
    fire.set()
    for thread in threads:
        thread.join(WAIT_SECONDS)
    return results


def open_service(config_path: Path) -> RequestService:
    config = parse_config(config_path.read_text(), source=str(config_path), base=config_path.parent)
    return RequestService(open_audit_log(config.bot.state), config)


def child(config_path: Path, request_id: str, barrier: object, results: object) -> None:
    """One bot process: ten threads approve, then ten threads try to start the run."""
    service = open_service(config_path)
    approvers = [APPROVER, SECOND_APPROVER] * (THREADS_PER_PROCESS // 2)
    wait = lambda: barrier.wait(WAIT_SECONDS)  # type: ignore[attr-defined]  # noqa: E731
    approvals = race(service, "approve", request_id, approvers, wait)
    starts = race(service, "start_run", request_id, ["bot-b"] * THREADS_PER_PROCESS, wait)
    results.put((approvals, starts))  # type: ignore[attr-defined]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_one_approval_and_one_run_from_many_threads_and_processes(
    tmp_path: Path, request: pytest.FixtureRequest, backend: str
) -> None:
    shared = backend == "postgres" and request.getfixturevalue("shared_state_url")
    config = write_config(tmp_path, bot_keys=SHARED_BOT_KEYS if shared else "")
    service = make_service(config)
    request = ready_for_approval(service)
    before = len(service.store.events())

    spawn = multiprocessing.get_context("spawn")
    barrier = spawn.Barrier(PROCESSES + 1)
    queue = spawn.Queue()
    config_path = tmp_path / "migrate-bot.toml"
    processes = [
        spawn.Process(target=child, args=(config_path, request.id, barrier, queue))
        for _ in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    local = open_service(config_path)
    wait = lambda: barrier.wait(WAIT_SECONDS)  # noqa: E731
    approvals = race(local, "approve", request.id, [APPROVER, SECOND_APPROVER] * 25, wait)
    starts = race(local, "start_run", request.id, ["bot-a"] * THREADS_HERE, wait)
    for _ in processes:
        more_approvals, more_starts = queue.get(timeout=WAIT_SECONDS)
        approvals += more_approvals
        starts += more_starts
    for process in processes:
        process.join(WAIT_SECONDS)
        assert process.exitcode == 0

    total = THREADS_HERE + PROCESSES * THREADS_PER_PROCESS
    assert Counter(approvals) == {"done": 1, "already": total - 1}, Counter(approvals)
    assert Counter(starts) == {"done": 1, "already": total - 1}, Counter(starts)
    new_kinds = Counter(e.kind for e in service.store.events()[before:])
    assert new_kinds == {EventKind.APPROVAL_GRANTED: 1, EventKind.RUN_STARTED: 1}
    assert service.get(request.id).state is RequestState.RUNNING
    report = service.store.verify()
    assert report.ok and report.head == service.store.recorded_head()
