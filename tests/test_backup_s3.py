"""Backups to S3, spoken to over HTTP by boto3 against moto's standalone server."""

from __future__ import annotations

import hashlib
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path

import pytest
import zstandard

from audit.sqlite_store import SqliteEventStore
from audit.store import EventStore
from commands.backup.cleanup import cleanup_backups
from commands.backup.listing import list_backups
from commands.backup.records import ArchiveFormat, BackupError, Step
from commands.backup.restore import restore_backup
from commands.backup.restore_stream import ChecksumMismatchError
from commands.backup.storage import StorageError, StorageUnavailableError
from commands.backup.take import take_backup
from commands.demo.data import fill_demo_data
from commands.errors import MigrateBotError
from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl
from tests.support.backup_targets import (
    content_digest,
    event_kinds,
    fake_pg_bin,
    make_target,
    migrate,
    target_toml,
)
from tests.support.databases import create_database, drop_database
from tests.support.s3_server import S3Bucket, free_port

MIB = 1 << 20
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


@pytest.fixture(scope="module")
def larger_db(
    pg_server: DatabaseUrl, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DatabaseUrl]:
    """A database whose dump spans several 5 MB parts, compressed or not: 36,000 demo
    rows (13 MB uncompressed, 3 MB with zstd) and 16 MB of hex digits (8 MB with zstd)."""
    database = create_database(pg_server, "s3")
    migrate(make_target(database, tmp_path_factory.mktemp("larger")))
    fill_demo_data(database, rows=36_000)
    with connect(database) as conn:
        conn.execute(
            "CREATE TABLE digests AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) AS hex"
            " FROM generate_series(1, 240000) AS g"
        )
    yield database
    drop_database(pg_server, database)


def s3_target(database: DatabaseUrl, tmp_path: Path, s3: S3Bucket, **settings: object):
    settings = {"backup": f"s3://{s3.name}/db/prod", "s3_endpoint_url": s3.endpoint, **settings}
    return make_target(database, tmp_path, **settings)


def test_multipart_encrypted_backup_restores_with_equal_data(
    larger_db: DatabaseUrl, tmp_path: Path, s3: S3Bucket, store: EventStore
) -> None:
    handle = s3_target(larger_db, tmp_path, s3, backup_compression="none", s3_part_size_mb=5)
    before = content_digest(larger_db)

    record = take_backup(handle, store=store, actor="U0ALICE")

    key = f"db/prod/{record.name}"
    assert record.uri == f"s3://{s3.name}/{key}" and record.encryption == "AES256"
    assert record.size > 2 * 5 * MIB
    first_part = s3.client.head_object(Bucket=s3.name, Key=key, PartNumber=1)
    assert first_part["PartsCount"] == math.ceil(record.size / (5 * MIB))
    assert first_part["ContentLength"] == 5 * MIB
    head = s3.client.head_object(Bucket=s3.name, Key=key)
    assert head["ServerSideEncryption"] == "AES256" and head["ContentLength"] == record.size
    body = s3.client.get_object(Bucket=s3.name, Key=key)["Body"].read()
    assert hashlib.sha256(body).hexdigest() == record.sha256
    assert s3.keys() == [key] and s3.open_uploads() == []

    with connect(larger_db) as conn:
        conn.execute("DELETE FROM segments WHERE start_seconds > 300")
    steps: list[Step] = []
    restore_backup(
        handle, record.id, store=store, actor="U0BOB", on_progress=lambda p: steps.append(p.step)
    )
    assert content_digest(larger_db) == before
    assert Step.CHECKSUM in steps and Step.ROW_COUNTS in steps


@pytest.mark.parametrize("restore_jobs", [1, 2])
def test_a_zstd_stream_goes_up_in_parts_while_it_is_dumped_and_restores(
    larger_db: DatabaseUrl, tmp_path: Path, s3: S3Bucket, store: EventStore, restore_jobs: int
) -> None:
    """The default format end to end: pg_dump's stream compressed by the bot, sent in
    parts while pg_dump runs, verified as sent; restored streamed (one transaction) or
    through a file (in parallel); the revision and every table's row count checked."""
    handle = s3_target(larger_db, tmp_path, s3, s3_part_size_mb=5, restore_jobs=restore_jobs)
    before = content_digest(larger_db)

    record = take_backup(handle, store=store, actor="U0ALICE")

    assert record.format == ArchiveFormat.CUSTOM_ZSTD and record.archive_size is not None
    assert record.size < record.archive_size / 2
    key = f"db/prod/{record.name}"
    first_part = s3.client.head_object(Bucket=s3.name, Key=key, PartNumber=1)
    assert first_part["PartsCount"] == math.ceil(record.size / (5 * MIB)) >= 2
    body = s3.client.get_object(Bucket=s3.name, Key=key)["Body"].read()
    assert hashlib.sha256(body).hexdigest() == record.sha256 and body[:4] == ZSTD_MAGIC
    assert s3.open_uploads() == []

    with connect(larger_db) as conn:
        conn.execute("DELETE FROM segments WHERE start_seconds > 300")
        conn.execute("DELETE FROM digests WHERE id % 3 = 0")
    result = restore_backup(handle, record.id, store=store, actor="U0BOB")
    assert content_digest(larger_db) == before
    assert result.stamped_from is None and result.tables_checked == len(record.row_counts)
    assert ("fetch" in result.durations_s) is (restore_jobs > 1)


def test_kms_encryption_with_a_key_id_on_a_single_put(
    populated_db: DatabaseUrl, tmp_path: Path, s3: S3Bucket, store: EventStore
) -> None:
    key_id = "arn:aws:kms:us-east-1:123456789012:key/backup-key"
    handle = s3_target(populated_db, tmp_path, s3, s3_sse="aws:kms", s3_kms_key_id=key_id)
    record = take_backup(handle, store=store, actor="U0ALICE")
    head = s3.client.head_object(Bucket=s3.name, Key=f"db/prod/{record.name}")
    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", key_id)
    assert record.encryption == "aws:kms"


def test_boto3s_own_endpoint_variable_is_honoured(
    populated_db: DatabaseUrl,
    tmp_path: Path,
    s3: S3Bucket,
    store: EventStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3.endpoint)
    handle = make_target(populated_db, tmp_path, backup=f"s3://{s3.name}", s3_sse="none")
    record = take_backup(handle, store=store, actor="U0ALICE")
    assert s3.keys() == [record.name] and record.encryption is None


@pytest.mark.parametrize(
    ("change", "match"),
    [
        # zstd's checks, or the sha256 once nonsense it decoded stopped pg_restore
        (
            "flip a byte",
            r"(does not decompress \(zstd.*\)|is not the file backed up: .*)[:;] it was",
        ),
        ("another backup", r"is not the file backed up: sha256 .* it was changed or damaged"),
    ],
)
def test_an_object_that_is_not_the_backup_stops_the_restore_before_it_changes_anything(
    *,
    populated_db: DatabaseUrl,
    tmp_path: Path,
    s3: S3Bucket,
    store: EventStore,
    change: str,
    match: str,
) -> None:
    handle = s3_target(populated_db, tmp_path, s3)
    record = take_backup(handle, store=store, actor="U0ALICE")
    key = f"db/prod/{record.name}"
    body = s3.client.get_object(Bucket=s3.name, Key=key)["Body"].read()
    if change == "flip a byte":
        body = (
            body[: len(body) // 2]
            + bytes([body[len(body) // 2] ^ 0xFF])
            + body[len(body) // 2 + 1 :]
        )
    else:  # the same archive compressed again: whole and readable, but not what was recorded
        archive = zstandard.ZstdDecompressor().decompressobj().decompress(body)
        body = zstandard.ZstdCompressor(level=9).compress(archive)
    s3.client.put_object(Bucket=s3.name, Key=key, Body=body)
    before = content_digest(populated_db)

    with pytest.raises(ChecksumMismatchError, match=match) as refused:
        restore_backup(handle, record.id, store=store, actor="U0BOB")

    assert str(refused.value).endswith("Nothing was changed")
    assert content_digest(populated_db) == before
    failed = store.events(kinds=["restore_failed"])[0].data
    assert (failed["backup_id"], failed["step"]) == (record.id, "restore")


def denied_user(s3: S3Bucket, monkeypatch: pytest.MonkeyPatch) -> None:
    """Switch the AWS chain to a user who may only read objects."""
    for key, value in s3.user_with_policy("reader", ["s3:GetObject"]).items():
        monkeypatch.setenv(key, value)


@pytest.mark.parametrize(
    ("setup", "settings", "error", "match"),
    [
        (
            None,
            {"s3_endpoint_url": f"http://127.0.0.1:{free_port()}"},
            StorageUnavailableError,
            r"cannot reach S3 at http://127\.0\.0\.1:\d+ checking s3://",
        ),
        (
            None,
            {"backup": "s3://no-such-bucket-here/db"},
            StorageError,
            "'no-such-bucket-here' does not exist",
        ),
        (denied_user, {}, StorageError, r"access denied checking s3://.*credentials"),
    ],
    ids=["unreachable", "wrong-bucket", "access-denied"],
)
def test_an_s3_destination_that_refuses(
    *,
    populated_db: DatabaseUrl,
    tmp_path: Path,
    s3: S3Bucket,
    store: EventStore,
    monkeypatch: pytest.MonkeyPatch,
    setup: object,
    settings: dict[str, str],
    error: type[MigrateBotError],
    match: str,
) -> None:
    handle = s3_target(populated_db, tmp_path, s3, **settings)
    checking = nullcontext()
    if setup is not None:  # a user with too few rights, and moto made to check them
        setup(s3, monkeypatch)  # type: ignore[operator]
        checking = s3.authenticating()
    with checking, pytest.raises(error, match=match):
        take_backup(handle, store=store, actor="U0ALICE")
    assert event_kinds(store) == ["backup_started", "backup_failed"]
    assert store.events(kinds=["backup_failed"])[0].data["step"] == "destination"
    assert s3.keys() == [] and s3.open_uploads() == [] and list_backups(store, "app") == []


def test_a_backup_failing_mid_upload_aborts_its_multipart_upload(
    larger_db: DatabaseUrl, tmp_path: Path, s3: S3Bucket, store: EventStore
) -> None:
    """pg_dump stops after 11 MB (two 5 MB parts sent) yet exits 0: verification fails,
    and the upload is aborted, leaving no parts behind."""
    truncating = fake_pg_bin(
        tmp_path / "bin",
        '[ "$1" = --version ] && exec "$REAL" --version; "$REAL" "$@" | head -c 11000000',
    )
    handle = s3_target(larger_db, tmp_path, s3, backup_compression="none", s3_part_size_mb=5)
    with pytest.raises(BackupError, match="does not read back in full"):
        take_backup(handle, store=store, actor="U0ALICE", tool_dirs=[truncating])
    assert s3.open_uploads() == [] and s3.keys() == []
    assert store.events(kinds=["backup_failed"])[0].data["step"] == "dump"


def test_a_bot_killed_mid_upload_leaves_an_upload_that_cleanup_aborts(
    larger_db: DatabaseUrl, tmp_path: Path, s3: S3Bucket
) -> None:
    """``migrate-bot backup`` is SIGKILLed (with its pg_dump) once its first part is up."""
    stalling = fake_pg_bin(
        tmp_path / "bin",
        '[ "$1" = --version ] && exec "$REAL" --version\n'
        '"$REAL" "$@" | { head -c 6000000; sleep 600; }',
    )
    settings = {
        "backup": f"s3://{s3.name}/db/prod",
        "s3_endpoint_url": s3.endpoint,
        "backup_compression": "none",
        "s3_part_size_mb": 5,
        "pg_bin_dir": stalling,
    }
    handle = make_target(larger_db, tmp_path, **settings)
    config = tmp_path / "migrate-bot.toml"
    config.write_text(
        f'[bot]\nstate_path = "{tmp_path / "state.sqlite3"}"\n\n{target_toml(**settings)}'
    )
    env = {
        **os.environ,
        "MIGRATE_BOT_CONFIG": str(config),
        "APP_DATABASE_URL": larger_db.text(),
    }
    bot = subprocess.Popen(
        [str(Path(sys.executable).with_name("migrate-bot")), "backup", "app"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not s3.open_uploads():
            assert bot.poll() is None, "the backup ended before it could be killed"
            assert time.monotonic() < deadline, "no upload started within 60 s"
            time.sleep(0.05)
    finally:
        os.killpg(bot.pid, signal.SIGKILL)
        bot.wait()
    [key] = s3.open_uploads()
    store = SqliteEventStore(tmp_path / "state.sqlite3")
    assert event_kinds(store) == ["backup_started", "backup_writing"]

    deadline = time.monotonic() + 10  # the server notices the dead session at once, or nearly
    while (report := cleanup_backups(handle, store=store, actor="bot")).skipped:
        assert time.monotonic() < deadline, report.skipped
        time.sleep(0.1)

    assert [(r.kind, r.location) for r in report.removed] == [
        ("multipart upload", f"s3://{s3.name}/{key}")
    ]
    assert s3.open_uploads() == [] and s3.keys() == []
    started = store.events(kinds=["backup_started"])[0].data["backup_id"]
    assert report.interrupted == (started,)
    assert event_kinds(store) == [
        "backup_started",
        "backup_writing",
        "backup_failed",
        "backup_cleaned",
    ]
