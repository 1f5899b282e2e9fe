"""The harness itself: a real bot process answers signed Slack requests and survives a restart."""

from __future__ import annotations

from pathlib import Path

from commands.postgres.database_url import DatabaseUrl
from tests.support.pipeline_support import pipeline_target
from tests.support.reliability.bot_process import BotProcess, wait_for

ALICE, OPS = "U0ALICE", "C0OPS"


def test_the_bot_process_answers_and_comes_back_after_sigkill(
    tmp_path: Path, fresh_db: DatabaseUrl
) -> None:
    pipeline_target(tmp_path, fresh_db, None)
    with BotProcess(
        tmp_path / "migrate-bot.toml",
        workdir=tmp_path,
        users={ALICE: "Alice"},
        channels={OPS: "ops"},
    ) as bot:
        assert bot.command("status app", user=ALICE, channel=OPS) == 200
        wait_for(lambda: [e for e in bot.slack.workspace.ephemerals if e.user == ALICE])
        bot.kill()
        bot.start()
        assert bot.command("status app", user=ALICE, channel=OPS) == 200
        wait_for(lambda: len([e for e in bot.slack.workspace.ephemerals if e.user == ALICE]) == 2)
    assert "--- start 2 ---" in bot.log_text()
