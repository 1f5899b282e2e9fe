"""Changes and backfills from the terminal: the deploy pipeline's `change confirm`, the
break-glass `backfill run`, their refusals and exit codes, and the audit's sentences."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from bot.cli import main
from commands.config.targets_file import CONFIG_ENV
from commands.errors import ExitCode
from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl
from tests.support.backfills import items_state, make_items
from tests.support.changes import app_toml
from tests.support.checks_support import url_text

CHANGE = """
description = "stop reading a column, then nothing"
[[phases]]
name = "ship"
deploy = "the application no longer reads items.old"
[[phases]]
name = "expand"
migrate = "0e8f2a6b9d43"
"""


@pytest.fixture
def terminal(tmp_path: Path, fresh_db: DatabaseUrl, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "changes").mkdir()
    (tmp_path / "changes" / "small.toml").write_text(textwrap.dedent(CHANGE))
    config = tmp_path / "migrate-bot.toml"
    backfill = """
        [targets.app.backfills.fill]
        table = "items"
        key = "id"
        set = "new = old"
        where = "new IS NULL"
        """
    config.write_text(app_toml("APP_URL", backfill))
    monkeypatch.setenv("APP_URL", url_text(fresh_db))
    monkeypatch.setenv(CONFIG_ENV, str(config))
    monkeypatch.setenv("USER", "ops-anna")
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.usefixtures("terminal")
def test_the_deploy_pipeline_confirms_from_the_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "change", "start", "app", "small")
    assert code == ExitCode.OK and out.startswith("C-1  small on app: phase 1 of 2")
    code, _, err = run(capsys, "change", "confirm", "small", "expand")
    assert code == ExitCode.REFUSED and "phase 2 (expand) is a migrate" in err
    code, out, _ = run(capsys, "change", "confirm", "small", "ship", "--by", "ci-7", "--json")
    confirmed = json.loads(out)
    assert code == ExitCode.OK and confirmed["current_phase"] == 2
    assert confirmed["phases"][0]["confirmed_by"] == "deploy:ci-7"
    code, _, err = run(capsys, "change", "confirm", "small", "ship")
    assert code == ExitCode.REFUSED and "it is done already" in err
    code, out, _ = run(capsys, "changes", "--json")
    assert [c["id"] for c in json.loads(out)] == ["C-1"]
    code, out, _ = run(capsys, "audit", "--request", "C-1")
    assert "confirmed the deploy of phase 1 (cli)" in out and "started change small" in out
    code, _, err = run(capsys, "change", "start", "app", "missing")
    assert code == ExitCode.BAD_INPUT and "missing.toml: does not exist" in err


def test_a_backfill_asked_then_run_from_the_terminal(
    capsys: pytest.CaptureFixture[str], terminal: Path, fresh_db: DatabaseUrl
) -> None:
    make_items(fresh_db, 3000)
    code, out, _ = run(capsys, "backfill", "ask", "app", "fill", "--json")
    asked = json.loads(out)
    assert code == ExitCode.OK and asked["state"] == "awaiting_approval"
    assert asked["rows_to_do"] == 3000
    code, _, err = run(capsys, "backfill", "run", asked["id"])
    assert code == ExitCode.BAD_INPUT and "--yes" in err
    code, out, err = run(capsys, "backfill", "run", asked["id"], "--yes")
    assert code == ExitCode.OK, err
    assert code == ExitCode.OK and "B-1: 3,000 rows" in out and "backfill fill on app: done" in out
    assert items_state(fresh_db) == (3000, 3000, 0, 0)
    code, out, _ = run(capsys, "audit", "--request", "B-1")
    assert "approved the backfill as break-glass" in out and "backfill done: 3000 rows" in out
    with connect(fresh_db) as conn:
        conn.execute("DROP TABLE items")
    code, _, err = run(capsys, "backfill", "ask", "app", "fill")
    assert code == ExitCode.BAD_INPUT and "there is no table items" in err
