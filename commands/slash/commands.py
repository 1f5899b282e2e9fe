"""The ``/migrate`` commands as typed values, and the usage line of each.

``slash_grammar.parse`` makes them from text; ``render()`` gives the
canonical text back. Plain data: no Slack, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from commands.errors import ExitCode, MigrateBotError


class Verb(StrEnum):
    """The first word(s) of a ``/migrate`` command."""

    HELP = "help"
    TARGETS = "targets"
    STATUS = "status"
    PLAN = "plan"
    UPGRADE = "upgrade"
    DOWNGRADE = "downgrade"
    RESTORE = "restore"
    CANCEL = "cancel"
    HISTORY = "history"
    BACKUPS = "backups"
    FREEZE = "freeze"
    UNFREEZE = "unfreeze"
    AUDIT_VERIFY = "audit verify"
    SCHEDULE = "schedule"
    CHANGE_START = "change start"
    CHANGE_SHOW = "change show"
    CHANGE_CONFIRM = "change confirm"
    CHANGE_ABANDON = "change abandon"
    CHANGES = "changes"
    BACKFILL = "backfill"
    BACKFILLS = "backfills"


USAGE: dict[Verb, tuple[str, str]] = {
    Verb.HELP: ("help", "this list"),
    Verb.TARGETS: ("targets", "the configured targets"),
    Verb.STATUS: ("status [TARGET]", "current and head revisions, what is pending"),
    Verb.PLAN: ("plan TARGET [to REV]", "the pending revisions and their SQL"),
    Verb.UPGRADE: (
        "upgrade TARGET [to REV|heads]",
        "ask to apply pending revisions (needs approval)",
    ),
    Verb.DOWNGRADE: ("downgrade TARGET REV|-N", "ask to undo revisions (needs approval)"),
    Verb.RESTORE: ("restore TARGET BACKUP", "ask to restore a recorded backup (needs approval)"),
    Verb.CANCEL: ("cancel M-N", "cancel a request that has not started"),
    Verb.HISTORY: ("history [TARGET]", "recent requests and their outcomes"),
    Verb.BACKUPS: ("backups TARGET", "the recorded backups of a target"),
    Verb.FREEZE: ("freeze TARGET REASON", "run nothing on a target until unfrozen"),
    Verb.UNFREEZE: ("unfreeze TARGET", "lift a freeze"),
    Verb.AUDIT_VERIFY: ("audit verify", "check the audit log's hash chain"),
    Verb.SCHEDULE: (
        "schedule TARGET [to REV] at YYYY-MM-DD HH:MM [TZ] | schedule TARGET [to REV] next-window",
        "ask to upgrade at a time or in the next maintenance window",
    ),
    Verb.CHANGE_START: (
        "change start TARGET CHANGE",
        "start an expand/contract change from its file: a thread with its phase card",
    ),
    Verb.CHANGE_SHOW: ("change show CHANGE", "a change's phase card (a name in flight, or C-N)"),
    Verb.CHANGE_CONFIRM: (
        "change confirm CHANGE PHASE",
        "say a deploy phase's application version is out (recorded as you)",
    ),
    Verb.CHANGE_ABANDON: ("change abandon CHANGE REASON", "stop tracking a change"),
    Verb.CHANGES: ("changes [TARGET]", "changes in flight"),
    Verb.BACKFILL: (
        "backfill TARGET BACKFILL",
        "ask to run a configured backfill (needs approval)",
    ),
    Verb.BACKFILLS: ("backfills [TARGET]", "backfill runs, newest first"),
}


class CommandSyntaxError(MigrateBotError):
    """The text is not a ``/migrate`` command; says what was wrong and the right form."""

    exit_code = ExitCode.BAD_INPUT

    def __init__(self, problem: str, verb: Verb | None = None) -> None:
        form = f"`/migrate {USAGE[verb][0]}`" if verb else "`/migrate help` for the list"
        super().__init__(f"{problem}. Usage: {form}")
        self.problem = problem
        self.verb = verb


@dataclass(frozen=True)
class Help:
    verb: ClassVar[Verb] = Verb.HELP

    def render(self) -> str:
        return "help"


@dataclass(frozen=True)
class Targets:
    verb: ClassVar[Verb] = Verb.TARGETS

    def render(self) -> str:
        return "targets"


@dataclass(frozen=True)
class AuditVerify:
    verb: ClassVar[Verb] = Verb.AUDIT_VERIFY

    def render(self) -> str:
        return "audit verify"


@dataclass(frozen=True)
class Status:
    target: str | None = None
    verb: ClassVar[Verb] = Verb.STATUS

    def render(self) -> str:
        return _join("status", self.target)


@dataclass(frozen=True)
class History:
    target: str | None = None
    verb: ClassVar[Verb] = Verb.HISTORY

    def render(self) -> str:
        return _join("history", self.target)


@dataclass(frozen=True)
class Plan:
    target: str
    to: str | None = None
    verb: ClassVar[Verb] = Verb.PLAN

    def render(self) -> str:
        return _join("plan", self.target, *_to(self.to))


@dataclass(frozen=True)
class Upgrade:
    target: str
    to: str | None = None
    verb: ClassVar[Verb] = Verb.UPGRADE

    def render(self) -> str:
        return _join("upgrade", self.target, *_to(self.to))


@dataclass(frozen=True)
class Downgrade:
    """``to`` is a revision id or prefix, ``base``, or ``-N`` (N steps back)."""

    target: str
    to: str
    verb: ClassVar[Verb] = Verb.DOWNGRADE

    def render(self) -> str:
        return _join("downgrade", self.target, self.to)


@dataclass(frozen=True)
class Restore:
    target: str
    backup: str
    verb: ClassVar[Verb] = Verb.RESTORE

    def render(self) -> str:
        return _join("restore", self.target, self.backup)


@dataclass(frozen=True)
class Cancel:
    request_id: str
    verb: ClassVar[Verb] = Verb.CANCEL

    def render(self) -> str:
        return _join("cancel", self.request_id)


@dataclass(frozen=True)
class Backups:
    target: str
    verb: ClassVar[Verb] = Verb.BACKUPS

    def render(self) -> str:
        return _join("backups", self.target)


@dataclass(frozen=True)
class Freeze:
    target: str
    reason: str
    verb: ClassVar[Verb] = Verb.FREEZE

    def render(self) -> str:
        return _join("freeze", self.target, self.reason)


@dataclass(frozen=True)
class Unfreeze:
    target: str
    verb: ClassVar[Verb] = Verb.UNFREEZE

    def render(self) -> str:
        return _join("unfreeze", self.target)


@dataclass(frozen=True)
class Schedule:
    """At ``at`` (wall-clock time in ``tz``, else the bot's zone), or in the next window."""

    target: str
    to: str | None = None
    at: datetime | None = None
    tz: str | None = None
    verb: ClassVar[Verb] = Verb.SCHEDULE

    def render(self) -> str:
        when = ["next-window"] if self.at is None else ["at", self.at.strftime("%Y-%m-%d %H:%M")]
        return _join("schedule", self.target, *_to(self.to), *when, self.tz)


@dataclass(frozen=True)
class ChangeStart:
    target: str
    name: str
    verb: ClassVar[Verb] = Verb.CHANGE_START

    def render(self) -> str:
        return _join("change start", self.target, self.name)


@dataclass(frozen=True)
class ChangeShow:
    change: str  # a name in flight, or C-N
    verb: ClassVar[Verb] = Verb.CHANGE_SHOW

    def render(self) -> str:
        return _join("change show", self.change)


@dataclass(frozen=True)
class ChangeConfirm:
    change: str
    phase: str  # a phase's name or number
    verb: ClassVar[Verb] = Verb.CHANGE_CONFIRM

    def render(self) -> str:
        return _join("change confirm", self.change, self.phase)


@dataclass(frozen=True)
class ChangeAbandon:
    change: str
    reason: str
    verb: ClassVar[Verb] = Verb.CHANGE_ABANDON

    def render(self) -> str:
        return _join("change abandon", self.change, self.reason)


@dataclass(frozen=True)
class Changes:
    target: str | None = None
    verb: ClassVar[Verb] = Verb.CHANGES

    def render(self) -> str:
        return _join("changes", self.target)


@dataclass(frozen=True)
class Backfill:
    target: str
    name: str
    verb: ClassVar[Verb] = Verb.BACKFILL

    def render(self) -> str:
        return _join("backfill", self.target, self.name)


@dataclass(frozen=True)
class Backfills:
    target: str | None = None
    verb: ClassVar[Verb] = Verb.BACKFILLS

    def render(self) -> str:
        return _join("backfills", self.target)


SlashCommand = (
    Help
    | Targets
    | Status
    | Plan
    | Upgrade
    | Downgrade
    | Restore
    | Cancel
    | History
    | Backups
    | Freeze
    | Unfreeze
    | AuditVerify
    | Schedule
    | ChangeStart
    | ChangeShow
    | ChangeConfirm
    | ChangeAbandon
    | Changes
    | Backfill
    | Backfills
)


def _to(rev: str | None) -> tuple[str, ...]:
    return ("to", rev) if rev else ()


def _join(*words: str | None) -> str:
    return " ".join(w for w in words if w)
