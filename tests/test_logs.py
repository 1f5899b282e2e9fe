"""Log lines: JSON for a log pipeline, the request and target they are about, no secret."""

from __future__ import annotations

import json
import logging

import pytest

from audit.redact import redactor
from bot.logs.setup import configure_logging, log_context

SECRET = "Sw0rdf1sh-" + "q9" * 4


@pytest.fixture
def json_logs(capsys: pytest.CaptureFixture[str]) -> object:
    configure_logging(logging.INFO, "json")
    yield lambda: [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    configure_logging(logging.WARNING)


def test_json_lines_carry_time_level_request_target_and_event(json_logs: object) -> None:
    log = logging.getLogger("migrate_bot.test")
    redactor.remember(SECRET)
    with log_context(request_id="M-7", target="prod"):
        log.warning("connecting to postgresql://app:%s@db/prod", SECRET)
    log.info("M-12 was interrupted (it ran when the bot stopped)")
    log.info("nothing in particular")
    try:
        raise RuntimeError(f"token {SECRET} refused")
    except RuntimeError:
        log.exception("the notifier's delivery pass failed")
    lines = json_logs()  # type: ignore[operator]
    assert [(line["request_id"], line["target"]) for line in lines] == [
        ("M-7", "prod"),
        ("M-12", None),
        (None, None),
        (None, None),
    ]
    first = lines[0]
    assert first["level"] == "warning" and first["logger"] == "migrate_bot.test"
    assert first["event"] == "connecting to postgresql://app:***@db/prod"
    assert first["time"].endswith("+00:00") and "T" in first["time"]
    assert "RuntimeError: token *** refused" in lines[-1]["error"]
    assert SECRET not in json.dumps(lines)
