"""The replicator in this process, on a real Litestream: it keeps replicating after its
child is killed, tells once when replication stops (S3 cut off behind a relay) and once
when it is back, and its configuration and environment hold no credential; the config
keys refuse what they cannot use."""

from __future__ import annotations

import os
import signal
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import psutil
import pytest

from audit.sqlite_store import SqliteEventStore
from bot.views.replication import replication_resumed, replication_stopped
from commands.errors import ConfigError
from commands.state.litestream import replicator_environment, write_config
from commands.state.location import StateReplica
from commands.state.replica_status import ReplicaStatus
from commands.state.replicator import Replicator
from tests.support.polling import wait_for
from tests.support.reliability.http_relay import Action, HttpRelay
from tests.support.request_helpers import write_config as write_targets
from tests.support.s3_server import S3Bucket


def append(store: SqliteEventStore, count: int) -> None:
    for n in range(count):
        store.append(kind="target_frozen", actor="U0BOB", target="app", data={"n": n})


def caught_up(replicator: Replicator) -> ReplicaStatus | None:
    status = replicator.status()
    return status if status.txid and status.replicated_txid == status.txid else None


def litestream_child() -> psutil.Process:
    children = [c for c in psutil.Process().children() if c.name() == "litestream"]
    assert len(children) == 1, children
    return children[0]


def test_a_killed_replicator_is_started_again_and_replicates_on(tmp_path: Path) -> None:
    store = SqliteEventStore(tmp_path / "state.sqlite3")
    append(store, 3)
    replica = StateReplica(f"file://{tmp_path / 'replica'}")
    replicator = Replicator(store.path, replica).start()
    try:
        first = wait_for(lambda: caught_up(replicator), 30, "the first copy")
        assert first.seconds_behind == 0 and first.restarts == 0 and first.running
        litestream_child().send_signal(signal.SIGKILL)
        wait_for(lambda: replicator.status().restarts == 1, 30, "the replicator's restart")
        append(store, 3)
        later = wait_for(
            lambda: (s := caught_up(replicator)) and s.txid > first.txid and s, 30, "new copies"
        )
        assert later.running and not later.stopped
    finally:
        replicator.stop()
    assert not [c for c in psutil.Process().children() if c.name() == "litestream"]
    assert list((tmp_path / "replica").rglob("*.ltx"))


def test_replication_cut_off_is_told_once_and_its_return_once(tmp_path: Path, s3: S3Bucket) -> None:
    told: list[tuple[str, ReplicaStatus]] = []
    store = SqliteEventStore(tmp_path / "state.sqlite3")
    append(store, 2)
    with HttpRelay(s3.endpoint) as relay:
        replica = StateReplica(f"s3://{s3.name}/state", relay.url)
        replicator = Replicator(
            store.path,
            replica,
            on_stopped=lambda s: told.append(("stopped", s)),
            on_resumed=lambda s: told.append(("resumed", s)),
            stopped_after=3.0,
        ).start()
        try:
            wait_for(lambda: caught_up(replicator), 30, "the first copy")
            relay.rule = lambda _exchange: Action(drop=True)  # the store is out of reach
            append(store, 2)
            wait_for(lambda: told, 60, "the stop to be told")
            behind = replicator.status()
            assert behind.stopped and behind.seconds_behind and behind.seconds_behind > 3
            assert behind.replicated_txid is not None and behind.txid is not None
            assert behind.replicated_txid < behind.txid
            relay.rule = lambda _exchange: None
            wait_for(lambda: len(told) == 2, 90, "the return to be told")
            assert [word for word, _ in told] == ["stopped", "resumed"]
            wait_for(lambda: caught_up(replicator), 30, "the copies made meanwhile")
        finally:
            replicator.stop()


def test_the_replicators_configuration_and_environment_hold_no_secret(tmp_path: Path) -> None:
    environ = {
        "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "s3cr3t",
        "AWS_CA_BUNDLE": "/etc/ca.pem",
        "SLACK_BOT_TOKEN": "xoxb-secret",
        "PROD_DATABASE_URL": "postgresql://u:pw@db/prod",
        "PATH": os.environ["PATH"],
    }
    passed = replicator_environment(environ)
    assert passed["AWS_SECRET_ACCESS_KEY"] == "s3cr3t"  # the AWS chain reads it from here
    assert "SLACK_BOT_TOKEN" not in passed and "PROD_DATABASE_URL" not in passed
    assert "AWS_CA_BUNDLE" not in passed and passed["SSL_CERT_FILE"] == "/etc/ca.pem"
    config = write_config(
        tmp_path,
        database=tmp_path / "state.sqlite3",
        replica=StateReplica("s3://bucket/prefix", "http://127.0.0.1:9000"),
        control_socket=None,
    )
    text = config.read_text()
    assert "s3cr3t" not in text and "AKIA" not in text and '"force-path-style": true' in text
    assert config.stat().st_mode & 0o077 == 0


@pytest.mark.parametrize(
    ("keys", "says"),
    [
        ('state_replica = "gs://bucket/x"', "must be s3://bucket[/prefix] or file://folder"),
        ('state_replica = "s3://No_Such/x"', "is not a valid S3 bucket name"),
        ('state_replica_endpoint_url = "http://127.0.0.1:9000"', "only used with state_replica"),
        (
            'state_replica = "file://replica"\nstate_replica_endpoint_url = "http://h:1"',
            "only used with an s3:// replica",
        ),
        (
            'state_replica = "s3://bucket/x"\nstate_url_env = "STATE_URL"',
            "replicate that database with PostgreSQL's own tools",
        ),
    ],
)
def test_the_replica_keys_refuse_what_they_cannot_use(tmp_path: Path, keys: str, says: str) -> None:
    with pytest.raises(ConfigError, match=r"bot\.state_replica") as error:
        write_targets(tmp_path, bot_keys=keys)
    assert says in str(error.value)


def test_a_file_replica_is_a_folder_relative_to_the_targets_file(tmp_path: Path) -> None:
    config = write_targets(tmp_path, bot_keys='state_replica = "file://replica"')
    replica = config.bot.state_replica
    assert replica == StateReplica(f"file://{(tmp_path / 'replica').as_posix()}")


def test_the_ops_channel_is_told_what_stopped_why_and_where_to_read_on() -> None:
    status = ReplicaStatus(
        replica="s3://acme/state at https://minio.internal:9000",
        running=True,
        restarts=2,
        txid=42,
        replicated_txid=40,
        seconds_behind=75.0,
        last_replicated_at=datetime(2026, 12, 7, 9, 30, tzinfo=UTC),
        stopped=True,
        error="litestream's control socket did not answer: timed out",
    )
    text, blocks = replication_stopped(status)
    assert "s3://acme/state" in text and "timed out" in text and "40 of 42" in text
    assert "2026-12-07 09:30:00 UTC" in text and "docs/operations.md" in text
    assert blocks[0]["text"]["text"] == text
    back, _ = replication_resumed(replace(status, stopped=False, replicated_txid=42))
    assert "replicated to s3://acme/state" in back and "42 of 42" in back
    assert status.to_json()["ok"] is False and status.to_json()["seconds_behind"] == 75.0
