"""Load: `/migrate status` and `plan` from many senders at once while a migration runs.

The run is held inside its middle revision by a gate the test controls (the
revision waits, in PostgreSQL, for a row in ``load_gate``), so every request
lands while it runs, however slow the machine, and nothing sleeps longer than
needed. Each request's acknowledgement (the HTTP answer Slack waits for) must
come within Slack's three seconds; every request is answered (at the local
Slack server) before the gate opens, i.e. while the run goes on; then the run
succeeds with its revisions applied in the planned order, the database at
head and the audit chain intact. The latencies are printed and recorded.
200 requests from 20 senders with --full (30 to 80 s on 2 busy cores, most of it
the bot answering 100 plans); 40 from 8 without.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from audit.sqlite_store import SqliteEventStore
from bot.local_slack.workspace import Ephemeral
from bot.views.run_picture import run_picture
from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl
from commands.requests import Request
from commands.requests.ledger import load
from commands.state.vocabulary import RequestState, StepStatus
from tests.support.alembic_projects import Rev, table
from tests.support.databases import create_database, drop_database
from tests.support.polling import wait_for
from tests.support.reliability.bot_process import BotProcess
from tests.support.reliability.hostile_support import (
    BOB,
    CHANNELS,
    DEV,
    USERS,
    ask,
    full_run,
    targets_file,
)

SLACK_ACK_LIMIT_S = 3.0
FULL, FAST = (200, 20), (40, 8)  # requests, senders
REVISIONS = ("t_one", "gated", "t_three")
COMMANDS = ("status app", "plan app")  # each sender alternates, starting with status
ANSWER_TEXT = {"status app": "Status of app", "plan app": "Plan for app"}
GATE_WAIT = """
DO $$
BEGIN
    WHILE NOT EXISTS (SELECT FROM load_gate) LOOP
        IF clock_timestamp() > statement_timestamp() + interval '600 seconds' THEN
            RAISE EXCEPTION 'the load test never opened its gate';
        END IF;
        PERFORM pg_sleep(0.05);
    END LOOP;
END
$$
"""


def revisions() -> list[Rev]:
    gated = Rev(
        "gated",
        ("t_one",),
        (GATE_WAIT, "CREATE TABLE t_gated (id int)"),
        ("DROP TABLE t_gated",),
        "waits for the load test's gate",
    )
    return [table("t_one"), gated, table("t_three", ("gated",))]


@pytest.fixture
def database(pg_server: DatabaseUrl) -> Iterator[DatabaseUrl]:
    database = create_database(pg_server, "load")
    with connect(database) as conn:
        conn.execute("CREATE TABLE load_gate (opened timestamptz)")
    yield database
    drop_database(pg_server, database)


def percentile(values: list[float], p: float) -> float:
    """The nearest-rank percentile: the smallest value with ``p`` % at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def burst(bot: BotProcess, senders: list[str], per_sender: int) -> list[tuple[str, float, int]]:
    """Each sender sends its share one after another, all senders at once: (user, s, status)."""
    results: list[tuple[str, float, int]] = []
    lock = threading.Lock()
    start = threading.Barrier(len(senders))

    def send(user: str) -> None:
        start.wait()
        for i in range(per_sender):
            body = bot.sender.command_body(COMMANDS[i % 2], user=user, channel=DEV)
            began = time.perf_counter()
            status, _ = bot.sender.post(body)
            took = time.perf_counter() - began
            with lock:
                results.append((user, took, status))

    threads = [threading.Thread(target=send, args=(user,)) for user in senders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def applied(request: Request) -> list[str]:
    assert request.run is not None
    return [
        s.revision for s in request.run.steps if s.revision and s.status is StepStatus.SUCCEEDED
    ]


def open_gate(database: DatabaseUrl) -> None:
    with connect(database) as conn:
        conn.execute("INSERT INTO load_gate VALUES (now())")


def answers_to(bot: BotProcess, senders: list[str], since: int) -> list[Ephemeral]:
    return [e for e in bot.slack.workspace.ephemerals[since:] if e.user in senders]


def headline(answer: Ephemeral) -> str:
    return str((answer.blocks or [{}])[0].get("text", {}).get("text", ""))


def test_status_and_plan_from_many_senders_are_acked_in_time_while_a_run_goes_on(
    database: DatabaseUrl,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    reliability: Callable[..., None],
) -> None:
    total, sender_count = FULL if full_run(request) else FAST
    config = targets_file(tmp_path, revisions())
    url = database.text()
    senders = [f"U0LOAD{i:02d}" for i in range(sender_count)]
    users = {**USERS, **{user: user.lower() for user in senders}}
    store = SqliteEventStore(tmp_path / "state.sqlite3")
    with BotProcess(
        config, workdir=tmp_path, users=users, channels=CHANNELS, environ={"APP_DATABASE_URL": url}
    ) as bot:
        message, request_id = ask(bot, "upgrade app")
        planned = load(store, request_id).fingerprint.revision_ids
        assert bot.click(message, "approve", user=BOB) == 200

        def in_gated_revision() -> bool:
            picture = run_picture(load(store, request_id))
            return picture is not None and picture.current_revision == "gated"

        try:
            wait_for(in_gated_revision, 120, "the run to reach the gated revision")
            since = len(bot.slack.workspace.ephemerals)
            began = time.monotonic()
            results = burst(bot, senders, total // sender_count)
            burst_s = time.monotonic() - began
            wait_for(
                lambda: len(answers_to(bot, senders, since)) >= total,
                300,
                "an answer to every request",
            )
            answered_s = time.monotonic() - began
            assert in_gated_revision(), "the run left the gated revision before the gate opened"
        finally:
            open_gate(database)
        done = wait_for(lambda: (r := load(store, request_id)).state.is_final and r, 180, "the run")
        answers = answers_to(bot, senders, since)
        log = bot.log_text()
    latencies = [took for _, took, _ in results]
    p50, p99, worst = percentile(latencies, 50), percentile(latencies, 99), max(latencies)
    print(
        f"\nload: {len(results)} requests from {sender_count} senders in {burst_s:.1f} s"
        f" during a run, all answered {answered_s:.1f} s after the first;"
        f" ack p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max {worst * 1000:.0f} ms"
    )
    assert "Traceback" not in log and " ERROR " not in log, log[-3000:]
    assert len(results) == total and {status for _, _, status in results} == {200}
    assert worst < SLACK_ACK_LIMIT_S, sorted(latencies)[-5:]
    per_sender = total // sender_count
    expected = Counter(ANSWER_TEXT[COMMANDS[i % 2]] for i in range(per_sender))
    for user in senders:
        theirs = Counter(a.text for a in answers if a.user == user)
        assert theirs == expected, (user, theirs)
    # Mid-run, status sees what is committed: t_one, with the gated revision still pending.
    assert {headline(a) for a in answers if a.text == "Status of app"} == {
        "app: ⏳ 2 revision(s) pending"
    }
    assert done.state is RequestState.SUCCEEDED, done.closure
    assert planned == REVISIONS and applied(done) == list(planned)
    with connect(database) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == ("t_three",)
    chain = store.verify()
    assert chain.ok and chain.events > 0, chain.breach
    reliability(
        area="load",
        fault=f"/migrate status and plan from {sender_count} concurrent senders while a run"
        " is inside a revision",
        tried=total,
        outcome=f"all acked within 3 s (p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms,"
        f" max {worst * 1000:.0f} ms); all answered during the run; the run succeeded as"
        " planned, database at head, audit chain verified",
    )
