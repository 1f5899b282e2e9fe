"""What a change's phase card shows, gathered from the log: the change, and how each
request or backfill run asked for a phase stands. Plain data for the views."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from audit.store import EventStore
from commands.backfill.ledger import BackfillLedger
from commands.backfill.model import RUN_PREFIX, BackfillRun
from commands.changes.model import Change
from commands.requests import ledger as request_ledger
from commands.requests.model import Request


@dataclass(frozen=True)
class ChangeCard:
    """A change with what was asked for its phases, as of ``now``."""

    change: Change
    requests: Mapping[int, Request]  # migrate phases: the request asked last
    runs: Mapping[int, BackfillRun]  # backfill phases: the run asked last
    now: datetime


def change_card(store: EventStore, change: Change, now: datetime) -> ChangeCard:
    requests: dict[int, Request] = {}
    runs: dict[int, BackfillRun] = {}
    backfills = BackfillLedger(store)
    for index, phase in enumerate(change.phases):
        asked = phase.last_asked
        if asked is None:
            continue
        if asked.startswith(RUN_PREFIX):
            runs[index] = backfills.load(asked)
        else:
            requests[index] = request_ledger.load(store, asked)
    return ChangeCard(change, requests, runs, now)
