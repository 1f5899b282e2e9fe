"""The state replicated off the machine: a real bot process replicating to moto's S3
server through Litestream, its disk "lost" (the bot and its replicator SIGKILLed at
once, the state file and everything beside it deleted), then `state restore`, the chain
verified, and how many of the last events were lost printed."""

from __future__ import annotations

import json
import os
import shutil
import signal
import textwrap
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from audit.sqlite_store import SqliteEventStore
from bot.cli import main
from bot.flows.state_replication import check_state_replica
from commands.config.targets_file import BUNDLED_MIGRATIONS, load_config
from commands.errors import ExitCode
from commands.state.restore import ReplicaHoldsStateError
from commands.state.vocabulary import EventKind
from tests.support.reliability.bot_process import BotProcess, wait_for
from tests.support.s3_server import S3Bucket

BOB, OPS = "U0BOB", "C0OPS"
SETTLED, BURST = 20, 20  # events replicated before the disk is lost, then events racing it


def write_config(folder: Path, bucket: S3Bucket) -> Path:
    path = folder / "migrate-bot.toml"
    path.write_text(
        textwrap.dedent(
            f"""
            [bot]
            ops_channel = "{OPS}"
            state_path = "state/state.sqlite3"
            state_replica = "s3://{bucket.name}/migrate-bot"
            state_replica_endpoint_url = "{bucket.endpoint}"

            [targets.app]
            database_url_env = "APP_DATABASE_URL"
            script_location = "{BUNDLED_MIGRATIONS.as_posix()}"
            approvers = ["{BOB}"]
            """
        )
    )
    return path


def health(bot: BotProcess) -> dict[str, Any]:
    with urllib.request.urlopen(f"{bot.url}/health", timeout=5) as answer:
        return json.loads(answer.read())


def recorded(bot: BotProcess) -> int:
    """Events in the bot's log now."""
    store = SqliteEventStore(bot.workdir / "state" / "state.sqlite3")
    try:
        head = store.head()
    finally:
        store.close()
    return head.seq if head else 0


def replica_caught_up(bot: BotProcess, events: int) -> dict[str, Any] | None:
    """The replica's part of /health once it holds everything and the log has ``events``."""
    replica = health(bot)["state_replica"]
    done = recorded(bot) >= events and replica["seconds_behind"] == 0
    known = replica["txid"] is not None  # Litestream has taken the file in
    return replica if done and known and replica["replicated_txid"] == replica["txid"] else None


def toggle(bot: BotProcess, times: int) -> None:
    """Freeze or unfreeze app ``times`` times, each once the one before is recorded."""
    for n in range(times):
        store = SqliteEventStore(bot.workdir / "state" / "state.sqlite3")
        kinds = [EventKind.TARGET_FROZEN, EventKind.TARGET_UNFROZEN]
        last = store.events(kinds=kinds, newest_first=True, limit=1)
        store.close()
        frozen = bool(last) and last[0].kind == EventKind.TARGET_FROZEN
        text = "unfreeze app" if frozen else f"freeze app number {n}"
        before = recorded(bot)
        assert bot.command(text, user=BOB, channel=OPS) == 200
        wait_for(lambda before=before: recorded(bot) > before, 30, f"/migrate {text}")


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """``migrate-bot ARGS`` in this process: its exit code, and what it wrote."""
    capsys.readouterr()
    code = main(list(args))
    said = capsys.readouterr()
    return code, said.out + said.err


def test_a_lost_state_file_is_restored_from_its_s3_replica_and_verifies(
    tmp_path: Path,
    s3: S3Bucket,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = write_config(tmp_path, s3)
    monkeypatch.setenv("MIGRATE_BOT_CONFIG", str(config))
    bot = BotProcess(config, workdir=tmp_path, users={BOB: "bob"}, channels={OPS: "ops"})
    state = tmp_path / "state"
    with bot:
        toggle(bot, SETTLED)
        settled = wait_for(lambda: replica_caught_up(bot, SETTLED), 60, "the replica")
        toggle(bot, BURST)  # recorded as fast as the bot takes them; then the disk goes
        lag_at_kill = health(bot)["state_replica"]
        assert bot.process is not None
        os.killpg(bot.process.pid, signal.SIGKILL)  # the bot and its replicator, at once
        bot.process.wait()
        original = SqliteEventStore(state / "state.sqlite3")
        written = original.events()
        original.close()
        shutil.rmtree(state)  # the disk is gone: the file, its WAL, head file, Litestream's

        with pytest.raises(ReplicaHoldsStateError, match="restore it first"):
            check_state_replica(load_config())  # what `serve` does before opening the state
        code, said = cli(capsys, "state", "restore", "--json")
        assert code == 0, said
        report = json.loads(said)
        assert report["verified"] and report["events"] >= SETTLED
        code, said = cli(capsys, "state", "restore")
        assert code == ExitCode.REFUSED and "never overwrites" in said
        code, said = cli(capsys, "audit", "verify")
        assert code == 0, said

        back = SqliteEventStore(state / "state.sqlite3").events()
        assert [e.hash for e in back[:-1]] == [e.hash for e in written[: len(back) - 1]]
        assert back[-1].kind == EventKind.STATE_RESTORED
        lost = len(written) - (len(back) - 1)
        with capsys.disabled():  # the figure the issue asks for, printed with -s
            print(
                f"\nreplication when the disk was lost: {lag_at_kill['seconds_behind']} s behind"
                f" (replica at Litestream txid {lag_at_kill['replicated_txid']} of"
                f" {lag_at_kill['txid']}); {len(written)} events recorded, {len(back) - 1}"
                f" restored: {lost} of the last {BURST} lost (all {SETTLED} before them were in"
                f" the replica at txid {settled['replicated_txid']})"
            )
        assert 0 <= lost <= BURST

        bot.start()  # on the restored file, replicating to the same place again
        before = wait_for(lambda: replica_caught_up(bot, len(back)), 60, "the restored replica")
        toggle(bot, 2)
        # caught up past the toggles: Litestream takes new writes in on its next sync, so
        # until then its last position (from before them) reads as caught up
        wait_for(
            lambda: (
                (found := replica_caught_up(bot, len(back) + 2)) and found["txid"] > before["txid"]
            ),
            60,
            "the replica after restore",
        )
    live = SqliteEventStore(state / "state.sqlite3").events()
    code, said = cli(capsys, "state", "restore", "--to", str(tmp_path / "second.sqlite3"))
    assert code == 0, said
    copy = SqliteEventStore(tmp_path / "second.sqlite3").events()
    assert [e.hash for e in copy[:-1]] == [e.hash for e in live]  # the last: this restore
    log = bot.log_text()
    assert "testing-secret-key" not in log + said and "Traceback" not in log
