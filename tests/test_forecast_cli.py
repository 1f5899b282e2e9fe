"""``plan --forecast`` and ``forecast-report`` on a real PostgreSQL and a real audit log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli import main
from commands.checks.forecast.model import Span
from commands.checks.forecast.scoring import Score, ScoredRevision
from commands.config.targets_file import load_config
from commands.errors import ExitCode
from commands.state.audit_log import open_audit_log
from commands.state.vocabulary import EventKind

DROP = "4f1c7a9e2b87"  # the bundled project's last revision: drops videos.youtube_id


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.usefixtures("config_file")
def test_plan_forecast_prints_what_the_card_shows_then_each_statement(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "plan", "app", "--forecast", "--no-sql")
    assert code == ExitCode.OK
    forecast = out[out.index("Forecast: ") :]
    assert forecast.startswith("Forecast: under 1 s for 8 revisions; longest lock ")
    assert f"[8/8] {DROP}: instant; ACCESS EXCLUSIVE on videos" in forecast
    assert "#1 ALTER TABLE videos DROP COLUMN IF EXISTS youtube_id" in forecast
    assert "catalog-only; ACCESS EXCLUSIVE on videos; instant; " in forecast
    assert "builds an index; SHARE UPDATE EXCLUSIVE on videos; instant; CONCURRENTLY" in forecast

    code, out, _ = run(capsys, "plan", "app", "--forecast", "--json")
    planned = json.loads(out)
    assert planned["lint"]["name"] == "lint"
    revisions = planned["forecast"]["data"]["revisions"]
    assert [r["revision"] for r in revisions][-1] == DROP
    assert revisions[-1]["statements"][0]["locks"] == [["videos", "ACCESS EXCLUSIVE"]]


@pytest.mark.usefixtures("config_file")
def test_forecast_report_shows_each_scored_run_and_the_accuracy(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "forecast-report", "app")
    assert code == ExitCode.OK
    assert out.strip() == "No run or rehearsal on app was forecast and scored yet."

    store = open_audit_log(load_config().bot.state)
    for actual, source in [(12.0, "rehearsal"), (25.0, "run"), (70.0, "run")]:
        scored = Score(source, (ScoredRevision(DROP, Span(20.0, 10.0, 40.0), actual),), ())
        store.append(
            kind=EventKind.FORECAST_SCORED,
            actor="migrate-bot",
            target="app",
            request_id="M-1",
            data=scored.to_json(),
        )
    code, out, _ = run(capsys, "forecast-report", "app")
    lines = out.splitlines()
    assert lines[0] == "Forecasts on app: 2 runs and 1 rehearsal scored"
    assert "rehearsal" in lines[2] and "~20.0 s (10.0 s to 40.0 s)" in lines[2]
    assert lines[4].endswith("1 min 10 s  x3.50")
    assert (
        "Of 3 revisions that took 1 s or more, 2 (67%) within 2x of the forecast and 2 inside"
        " its range; median actual/forecast 1.25." in out
    )
    code, out, _ = run(capsys, "forecast-report", "app", "--json")
    report = json.loads(out)
    assert report["accuracy"]["within_2x"] == 2 and len(report["runs"]) == 3


@pytest.mark.usefixtures("config_file")
def test_forecast_report_of_an_unknown_target_names_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run(capsys, "forecast-report", "prod")
    assert code != ExitCode.OK and "prod" in err
