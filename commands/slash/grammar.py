"""The ``/migrate`` grammar: Slack text in, a typed command out. Pure, no I/O.

Every name is checked against a strict pattern before anything else sees it,
so quotes, semicolons, newlines and shell metacharacters stop here with a
sentence saying what was wrong and the right form. ``parse`` raises nothing
but ``CommandSyntaxError``; each command's ``render()`` gives the canonical
text back, and ``parse(cmd.render()) == cmd``.
"""

from __future__ import annotations

import difflib
import re
import zoneinfo
from collections.abc import Callable
from datetime import datetime
from functools import cache

from commands.slash.commands import (  # re-exported: callers need only this module
    USAGE,
    AuditVerify,
    Backfill,
    Backfills,
    Backups,
    Cancel,
    ChangeAbandon,
    ChangeConfirm,
    Changes,
    ChangeShow,
    ChangeStart,
    CommandSyntaxError,
    Downgrade,
    Freeze,
    Help,
    History,
    Plan,
    Restore,
    Schedule,
    SlashCommand,
    Status,
    Targets,
    Unfreeze,
    Upgrade,
    Verb,
)

MAX_TEXT = 1000
MAX_REASON = 200

# a target, or one member of a fleet: ``tenants.acme``
TARGET = re.compile(r"[a-z][a-z0-9_-]{0,31}(?:\.[A-Za-z0-9][A-Za-z0-9_-]{0,62})?")
# Alembic writes 12 hex digits; projects may choose their own ids, so letters,
# digits and '_' are accepted (a prefix needs at least four characters).
REVISION = re.compile(r"[0-9A-Za-z][0-9A-Za-z_]{3,63}")
RELATIVE = re.compile(r"-[1-9][0-9]{0,3}")
REQUEST_ID = re.compile(r"M-[1-9][0-9]{0,9}")
BACKUP_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
TIME = re.compile(r"\d{2}:\d{2}")
NAME = re.compile(r"[a-z][a-z0-9_-]{0,63}")  # a change, a phase or a backfill
CHANGE_ID = re.compile(r"C-[1-9][0-9]{0,9}")
PHASE_NUMBER = re.compile(r"[1-9][0-9]?")
TIME_ZONE = re.compile(r"[A-Za-z][A-Za-z0-9_+-]{0,30}(?:/[A-Za-z0-9_+-]{1,30}){0,2}")
HEAD = "head"
HEADS = "heads"
BASE = "base"

__all__ = [
    "USAGE",
    "AuditVerify",
    "Backfill",
    "Backfills",
    "Backups",
    "Cancel",
    "ChangeAbandon",
    "ChangeConfirm",
    "ChangeShow",
    "ChangeStart",
    "Changes",
    "CommandSyntaxError",
    "Downgrade",
    "Freeze",
    "Help",
    "History",
    "Plan",
    "Restore",
    "Schedule",
    "SlashCommand",
    "Status",
    "Targets",
    "Unfreeze",
    "Upgrade",
    "Verb",
    "parse",
]


def parse(text: str) -> SlashCommand:
    """The command in ``text`` (what Slack sends after ``/migrate``).

    Empty text means ``help``. Raises ``CommandSyntaxError`` for anything else
    that is not exactly one of the forms in ``USAGE``.
    """
    if len(text) > MAX_TEXT:
        raise CommandSyntaxError(f"the command is longer than {MAX_TEXT} characters")
    words = text.split()
    if not words:
        return Help()
    head, args = words[0].lower(), words[1:]
    if head == "audit":
        if [a.lower() for a in args] != ["verify"]:
            raise CommandSyntaxError("`audit` takes one word, `verify`", Verb.AUDIT_VERIFY)
        return AuditVerify()
    if head == "change":
        return _change(args)
    try:
        verb = Verb(head)
    except ValueError:
        raise CommandSyntaxError(_unknown_verb(words[0])) from None
    return _PARSERS[verb](verb, args)


def _unknown_verb(word: str) -> str:
    shown = word if re.fullmatch(r"[\w-]{1,20}", word) else "that"
    hint = difflib.get_close_matches(word.lower(), [v.value for v in Verb], n=1)
    suffix = f" (did you mean `{hint[0]}`?)" if hint else ""
    return f"`{shown}` is not a /migrate command{suffix}"


def _no_args(verb: Verb, args: list[str]) -> SlashCommand:
    _arity(verb, args, 0, 0)
    return Help() if verb is Verb.HELP else Targets()


def _optional_target(verb: Verb, args: list[str]) -> SlashCommand:
    _arity(verb, args, 0, 1)
    target = _target(verb, args[0]) if args else None
    return _LISTINGS[verb](target)


def _target_only(verb: Verb, args: list[str]) -> SlashCommand:
    _arity(verb, args, 1, 1)
    target = _target(verb, args[0])
    return Backups(target) if verb is Verb.BACKUPS else Unfreeze(target)


def _target_to(verb: Verb, args: list[str]) -> SlashCommand:
    _arity(verb, args, 1, 3)
    target = _target(verb, args[0])
    to = _optional_to(verb, args[1:])
    return Plan(target, to) if verb is Verb.PLAN else Upgrade(target, to)


def _downgrade(verb: Verb, args: list[str]) -> SlashCommand:
    _arity(verb, args, 2, 2)
    target, to = _target(verb, args[0]), args[1]
    if to.lower() in (HEAD, HEADS):
        raise CommandSyntaxError(f"a downgrade goes to an older revision, not `{to}`", verb)
    if to.lower() == BASE:
        to = BASE
    elif not (RELATIVE.fullmatch(to) or REVISION.fullmatch(to)):
        raise CommandSyntaxError(
            f"{_shown(to)} is not a revision id, `base` or `-N` (N steps back)", verb
        )
    return Downgrade(target, to)


def _restore(verb: Verb, args: list[str]) -> SlashCommand:
    _arity(verb, args, 2, 2)
    target, backup = _target(verb, args[0]), args[1]
    if not BACKUP_ID.fullmatch(backup):
        raise CommandSyntaxError(
            f"{_shown(backup)} is not a backup id (see `/migrate backups {target}`)", verb
        )
    return Restore(target, backup)


def _cancel(verb: Verb, args: list[str]) -> SlashCommand:
    _arity(verb, args, 1, 1)
    request_id = args[0].upper()
    if not REQUEST_ID.fullmatch(request_id):
        raise CommandSyntaxError(f"{_shown(args[0])} is not a request id like `M-12`", verb)
    return Cancel(request_id)


def _freeze(verb: Verb, args: list[str]) -> SlashCommand:
    if len(args) < 2:
        raise CommandSyntaxError("say which target to freeze and why", verb)
    return Freeze(_target(verb, args[0]), _reason(verb, args[1:]))


def _schedule(verb: Verb, args: list[str]) -> SlashCommand:
    if not args:
        raise CommandSyntaxError("say which target to schedule and when", verb)
    target = _target(verb, args[0])
    rest = args[1:]
    when_at = next((i for i, w in enumerate(rest) if w.lower() in ("at", "next-window")), None)
    if when_at is None:
        raise CommandSyntaxError("say when: `at YYYY-MM-DD HH:MM [TZ]` or `next-window`", verb)
    to = _optional_to(verb, rest[:when_at])
    when = rest[when_at:]
    if when[0].lower() == "next-window":
        if len(when) > 1:
            raise CommandSyntaxError("nothing may follow `next-window`", verb)
        return Schedule(target, to)
    if len(when) not in (3, 4):
        raise CommandSyntaxError("give the time as `at YYYY-MM-DD HH:MM [TZ]`", verb)
    at = _datetime(verb, when[1], when[2])
    tz = _time_zone(verb, when[3]) if len(when) == 4 else None
    return Schedule(target, to, at, tz)


_CHANGE_VERBS = {
    "start": Verb.CHANGE_START,
    "show": Verb.CHANGE_SHOW,
    "confirm": Verb.CHANGE_CONFIRM,
    "abandon": Verb.CHANGE_ABANDON,
}


def _change(args: list[str]) -> SlashCommand:
    verb = _CHANGE_VERBS.get(args[0].lower()) if args else None
    if verb is None:
        raise CommandSyntaxError(
            "`change` is followed by `start`, `show`, `confirm` or `abandon`", Verb.CHANGE_START
        )
    return _PARSERS[verb](verb, args[1:])


def _change_start(verb: Verb, args: list[str]) -> SlashCommand:
    _arity(verb, args, 2, 2)
    return ChangeStart(_target(verb, args[0]), _name(verb, args[1], "change"))


def _change_show(verb: Verb, args: list[str]) -> SlashCommand:
    _arity(verb, args, 1, 1)
    return ChangeShow(_change_ref(verb, args[0]))


def _change_confirm(verb: Verb, args: list[str]) -> SlashCommand:
    _arity(verb, args, 2, 2)
    phase = args[1] if PHASE_NUMBER.fullmatch(args[1]) else _name(verb, args[1], "phase")
    return ChangeConfirm(_change_ref(verb, args[0]), phase)


def _change_abandon(verb: Verb, args: list[str]) -> SlashCommand:
    if len(args) < 2:
        raise CommandSyntaxError("say which change to abandon and why", verb)
    return ChangeAbandon(_change_ref(verb, args[0]), _reason(verb, args[1:]))


def _target_name(verb: Verb, args: list[str]) -> SlashCommand:
    _arity(verb, args, 2, 2)
    return Backfill(_target(verb, args[0]), _name(verb, args[1], "backfill"))


def _change_ref(verb: Verb, word: str) -> str:
    """A change in flight by name, or by id (``C-3``)."""
    return word.upper() if CHANGE_ID.fullmatch(word.upper()) else _name(verb, word, "change")


def _name(verb: Verb, word: str, what: str) -> str:
    if not NAME.fullmatch(word):
        raise CommandSyntaxError(
            f"{_shown(word)} is not a {what} name (lowercase letters, digits, `-` and `_`)", verb
        )
    return word


def _reason(verb: Verb, words: list[str]) -> str:
    reason = " ".join(words)
    if len(reason) > MAX_REASON:
        raise CommandSyntaxError(f"the reason is longer than {MAX_REASON} characters", verb)
    if not reason.isprintable():
        raise CommandSyntaxError("the reason has control characters", verb)
    return reason


def _optional_to(verb: Verb, words: list[str]) -> str | None:
    if not words:
        return None
    if len(words) != 2 or words[0].lower() != "to":
        raise CommandSyntaxError("after the target, only `to REV` may follow", verb)
    rev = words[1]
    if rev.lower() in (HEAD, HEADS):
        return rev.lower()
    if rev.lower() == BASE:
        raise CommandSyntaxError("to go back to `base`, use `/migrate downgrade`", verb)
    if "@" in rev:
        raise CommandSyntaxError(
            f"{_shown(rev)}: Alembic's branch@ goals are not taken here: name the revision"
            " (an id or a prefix of 4 or more), or `heads` for every head",
            verb,
        )
    if not REVISION.fullmatch(rev):
        raise CommandSyntaxError(
            f"{_shown(rev)} is not a revision id (letters, digits and `_`, at least 4)", verb
        )
    return rev


def _datetime(verb: Verb, date: str, time: str) -> datetime:
    if not (DATE.fullmatch(date) and TIME.fullmatch(time)):
        raise CommandSyntaxError("give the time as `at YYYY-MM-DD HH:MM [TZ]`", verb)
    try:
        return datetime.strptime(f"{date} {time}", "%Y-%m-%d %H:%M")
    except ValueError:
        raise CommandSyntaxError(f"{date} {time} is not a real date and time", verb) from None


def _time_zone(verb: Verb, name: str) -> str:
    if TIME_ZONE.fullmatch(name) and name in _known_time_zones():
        return name
    raise CommandSyntaxError(
        f"{_shown(name)} is not a time zone (use an IANA name like `Europe/Paris` or `UTC`)", verb
    )


@cache
def _known_time_zones() -> frozenset[str]:
    """IANA names from the system's tz database (a set: no file is opened per name)."""
    return frozenset(zoneinfo.available_timezones())


def _target(verb: Verb, word: str) -> str:
    fleet, dot, member = word.partition(".")
    name = fleet.lower() + dot + member  # a member's name keeps its case
    if not TARGET.fullmatch(name):
        raise CommandSyntaxError(
            f"{_shown(word)} is not a target name (lowercase letters, digits, `-` and `_`,"
            " up to 32, starting with a letter; a fleet's member as `fleet.member`)",
            verb,
        )
    return name


def _arity(verb: Verb, args: list[str], least: int, most: int) -> None:
    if len(args) < least:
        raise CommandSyntaxError("something is missing", verb)
    if len(args) > most:
        raise CommandSyntaxError(f"too many words after `{verb.value}`", verb)


def _shown(word: str) -> str:
    """A user's word quoted back safely: short, and only if it has no odd characters."""
    if re.fullmatch(r"[\w.:/+-]{1,40}", word):
        return f"`{word}`"
    return "that value"


_LISTINGS: dict[Verb, Callable[[str | None], SlashCommand]] = {
    Verb.STATUS: Status,
    Verb.HISTORY: History,
    Verb.CHANGES: Changes,
    Verb.BACKFILLS: Backfills,
}

_PARSERS = {
    Verb.HELP: _no_args,
    Verb.TARGETS: _no_args,
    Verb.STATUS: _optional_target,
    Verb.HISTORY: _optional_target,
    Verb.PLAN: _target_to,
    Verb.UPGRADE: _target_to,
    Verb.DOWNGRADE: _downgrade,
    Verb.RESTORE: _restore,
    Verb.CANCEL: _cancel,
    Verb.BACKUPS: _target_only,
    Verb.UNFREEZE: _target_only,
    Verb.FREEZE: _freeze,
    Verb.SCHEDULE: _schedule,
    Verb.CHANGES: _optional_target,
    Verb.BACKFILLS: _optional_target,
    Verb.BACKFILL: _target_name,
    Verb.CHANGE_START: _change_start,
    Verb.CHANGE_SHOW: _change_show,
    Verb.CHANGE_CONFIRM: _change_confirm,
    Verb.CHANGE_ABANDON: _change_abandon,
}
