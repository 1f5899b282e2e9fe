"""`migrate-bot worker` refuses plainly what it cannot work with, and changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from commands.errors import ExitCode
from tests.support.request_helpers import write_config


def test_a_worker_needs_a_shared_state_and_a_bot_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_config(tmp_path)
    monkeypatch.setenv("MIGRATE_BOT_CONFIG", str(tmp_path / "migrate-bot.toml"))
    assert main(["worker"]) == ExitCode.BAD_INPUT
    assert "bot.state_url_env: is not set: workers share their state" in capsys.readouterr().err

    write_config(tmp_path, bot_keys='state_url_env = "NOWHERE_STATE_URL"')
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    assert main(["worker"]) == ExitCode.BAD_INPUT
    assert "workers post to Slack: set $SLACK_BOT_TOKEN" in capsys.readouterr().err

    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.delenv("NOWHERE_STATE_URL", raising=False)
    assert main(["worker"]) == ExitCode.BAD_INPUT
    assert "$NOWHERE_STATE_URL: bot.state_url_env: is not set in the environment" in (
        capsys.readouterr().err
    )
    assert main(["worker", "--queue", "EU West"]) == ExitCode.BAD_INPUT
    assert "lowercase letters" in capsys.readouterr().err
    assert not (tmp_path / "state.sqlite3").exists()
