"""The bot's rounds over the changes in flight, once a minute: each is refreshed (phases
whose evidence holds end, gates are sampled, so a quiet period is watched whoever
looks), and the owner of a phase waiting past ``stale_after`` is reminded once.

One change that cannot be read (its database down, its target gone from the
config) is logged and the others go on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from commands.changes.ledger import ChangeRefusedError
from commands.changes.model import Change
from commands.changes.service import Changes
from commands.errors import MigrateBotError

log = logging.getLogger(__name__)

ROUND_S = 60.0


@dataclass(frozen=True)
class Round:
    """What one round did: the changes that moved on, and the reminders due."""

    moved: list[Change] = field(default_factory=list)
    stale: list[Change] = field(default_factory=list)


def change_round(changes: Changes) -> Round:
    """Refresh every change in flight, then record a reminder for each stale phase."""
    done = Round()
    for change in changes.ledger.changes(in_flight=True):
        try:
            after = changes.refresh(change.id)
        except MigrateBotError as exc:
            log.warning("change %s on %s could not be refreshed: %s", change.id, change.target, exc)
            continue
        if after.current != change.current or after.state is not change.state:
            done.moved.append(after)
    for change in changes.stale():
        try:
            done.stale.append(changes.remind(change))
        except ChangeRefusedError:  # another process reminded of it first
            continue
    return done
