"""Where reliability tests write what they tried, for docs/reliability.md.

One JSON line per fault: what was done, how many times, the outcome seen and
what was lost (the tests assert it is nothing). ``$MIGRATE_BOT_RELIABILITY_LOG``
names the file (default ``test-artifacts/reliability.jsonl``); the report
script turns it into the table.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest

LOG_ENV = "MIGRATE_BOT_RELIABILITY_LOG"
DEFAULT_LOG = Path("test-artifacts") / "reliability.jsonl"


@dataclass(frozen=True)
class FaultRecord:
    """One row of the table: a fault, how often it was tried, what happened, what was lost."""

    area: str  # "crash", "fault", "hostile input", "secrets", "load"
    fault: str
    tried: int
    outcome: str
    lost: str = "nothing"


def log_path() -> Path:
    return Path(os.environ.get(LOG_ENV) or DEFAULT_LOG)


def record(entry: FaultRecord) -> None:
    """Append ``entry`` (several test processes may write at once: xdist)."""
    path = log_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.write(json.dumps(asdict(entry)) + "\n")


def read(path: Path | None = None) -> list[FaultRecord]:
    source = path or log_path()
    if not source.exists():
        return []
    return [FaultRecord(**json.loads(line)) for line in source.read_text().splitlines() if line]


@pytest.fixture
def reliability() -> Callable[..., None]:
    """``reliability(area=, fault=, tried=, outcome=, lost="nothing")`` adds a table row."""

    def add(**fields: object) -> None:
        record(FaultRecord(**fields))  # type: ignore[arg-type]

    return add
