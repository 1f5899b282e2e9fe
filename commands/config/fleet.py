"""A fleet target's keys: its members' variable, its waves, concurrency and failure budget.

A fleet is a target whose databases are many: ``members_env`` names an
environment variable holding a JSON object ``{"acme": "postgresql://…", …}``
(read when needed, never at start, like ``database_url_env``). Every other key
of the target applies to each member; a member is addressed as
``FLEET.MEMBER`` (``tenants.acme``), and its config is the fleet's with that
name and its backups under a prefix of its own (``member_config``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from commands.config.table import ConfigTable

MEMBER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")
MEMBER_SEPARATOR = "."


@dataclass(frozen=True)
class WaveSize:
    """One wave's size: a count of members, or a share (percent) of all of them."""

    count: int | None = None
    percent: float | None = None

    @classmethod
    def parse(cls, text: str) -> WaveSize:
        """``"5"`` or ``"25%"``; raises ``ValueError`` for anything else."""
        text = text.strip()
        if text.endswith("%"):
            percent = float(text.removesuffix("%"))
            if not 0 < percent <= 100 or not math.isfinite(percent):
                raise ValueError(text)
            return cls(percent=percent)
        if not text.isdigit() or int(text) < 1:
            raise ValueError(text)
        return cls(count=int(text))

    def members(self, total: int) -> int:
        """How many members this wave takes out of ``total`` (at least one)."""
        if self.count is not None:
            return self.count
        assert self.percent is not None
        return total if self.percent >= 100 else max(1, math.ceil(total * self.percent / 100))

    def __str__(self) -> str:
        return str(self.count) if self.count is not None else f"{self.percent:g}%"


DEFAULT_WAVES = (WaveSize(count=1), WaveSize(percent=100.0))  # a canary, then the rest


@dataclass(frozen=True)
class FleetSettings:
    """Where a fleet's members are (``members_env``, or databases on the embedded server
    named by ``embedded_members``) and how they run: wave sizes, members at once in a
    wave, failures tolerated."""

    members_env: str | None
    embedded_members: tuple[str, ...] = ()
    waves: tuple[WaveSize, ...] = DEFAULT_WAVES
    concurrency: int = 4
    max_failures: int = 1


@dataclass(frozen=True)
class MemberOf:
    """What makes a target config one member's: the fleet's name and the member's."""

    fleet: str
    member: str
    settings: FleetSettings  # the fleet's: where its members are listed

    @property
    def members_env(self) -> str | None:
        return self.settings.members_env


# keys about one database's surroundings, which a fleet's members do not share
SINGLE_DATABASE_KEYS = {
    "replica_url_env": "its members do not share one replica",
    "watch": "the watch follows one database's traffic after its run; watch a member on its own",
}


def parse_fleet_keys(
    table: ConfigTable, members_env: str | None, *, embedded: bool
) -> FleetSettings | None:
    """The fleet keys of a target with ``members_env`` or ``embedded_members`` (``None``
    for a single database); raises ``ConfigError`` naming the key. ``waves``,
    ``concurrency`` and ``max_failures`` are refused on a target without members, the
    ``SINGLE_DATABASE_KEYS`` on a fleet."""
    embedded_members = table.strings("embedded_members", (), MEMBER_NAME)
    if embedded_members and not embedded:
        raise table.error("embedded_members", "needs embedded_postgres: the members' server")
    if len(set(embedded_members)) != len(embedded_members):
        raise table.error("embedded_members", "lists a member twice")
    if members_env is None and not embedded_members:
        for key in ("waves", "concurrency", "max_failures"):
            if key in table.data:
                table.used.add(key)
                raise table.error(key, "only applies to a fleet: a target with members_env")
        return None
    for key, why in SINGLE_DATABASE_KEYS.items():
        if key in table.data:
            table.used.add(key)
            raise table.error(key, f"does not apply to a fleet: {why}")
    return FleetSettings(
        members_env=members_env,
        embedded_members=embedded_members,
        waves=_waves(table),
        concurrency=table.integer("concurrency", 4, minimum=1),
        max_failures=table.integer("max_failures", 1, minimum=1),
    )


def _waves(table: ConfigTable) -> tuple[WaveSize, ...]:
    raw = table.get("waves", list, [str(w) for w in DEFAULT_WAVES])
    if not raw:
        raise table.error("waves", 'list at least one wave, e.g. ["1", "25%", "100%"]')
    waves = []
    for index, entry in enumerate(raw):
        text = str(entry) if isinstance(entry, int) and not isinstance(entry, bool) else entry
        try:
            waves.append(WaveSize.parse(text if isinstance(text, str) else ""))
        except ValueError:
            raise table.error(
                f"waves[{index}]",
                f'{entry!r} is not a wave size: a count of members ("1", 5) or a share of'
                ' all of them ("25%"; "100%" is all that remain)',
            ) from None
    return tuple(waves)


def member_target_name(fleet: str, member: str) -> str:
    """``tenants.acme``: how a member is named in targets, events, backups and messages."""
    return f"{fleet}{MEMBER_SEPARATOR}{member}"


def split_member_name(name: str) -> tuple[str, str] | None:
    """``("tenants", "acme")`` for ``tenants.acme``; ``None`` for a name without a member."""
    fleet, separator, member = name.partition(MEMBER_SEPARATOR)
    if not separator or not MEMBER_NAME.match(member):
        return None
    return fleet, member


def embedded_member_database(database: str, member: str) -> str:
    """The database of an embedded fleet's member: ``tenant_acme`` for ``tenant``."""
    return f"{database}_{member}"


def member_backup(destination: str, member: str) -> str:
    """The fleet's backup destination with the member's own prefix under it."""
    return f"{destination.rstrip('/')}/{member}"


def member_fields(
    fleet_name: str, settings: FleetSettings, destination: str, member: str
) -> dict[str, Any]:
    """What differs in a member's config from its fleet's (``dataclasses.replace`` keys)."""
    return {
        "name": member_target_name(fleet_name, member),
        "backup": member_backup(destination, member),
        "fleet": None,
        "member_of": MemberOf(fleet_name, member, settings),
    }
