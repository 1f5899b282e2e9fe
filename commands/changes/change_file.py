"""A change file: the phases of one expand/contract change, reviewed with the code.

``changes/NAME.toml`` (in the target's ``changes_dir``) holds a description, a
``stale_after`` and a list of ``[[phases]]``, each a ``name`` and exactly one
of ``migrate`` (a revision: apply up to it), ``deploy`` (what the application
version that must be out does), ``[phases.backfill]`` (a backfill's keys) or
``[phases.gate]`` (evidence: ``unused`` columns for ``quiet_for``,
``backfill_done``, ``sql`` assertions). Parsed and checked in full, pure but
for reading the file, with errors naming the file and the key. Revisions are
checked against the project when the change starts.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import pglast
from pglast import ast

from commands.config.backfill import BackfillSpec, parse_backfill
from commands.config.table import REQUIRED, ConfigTable
from commands.errors import ConfigError, ConfigErrors
from commands.units import format_duration

CHANGE_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
PHASE_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,47}$")
REVISION = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_]{3,63}$")
COLUMN = re.compile(r"^(?:[A-Za-z_][A-Za-z0-9_$]*\.){1,2}[A-Za-z_][A-Za-z0-9_$]*$")
MAX_PHASES = 20


class PhaseKind(StrEnum):
    MIGRATE = "migrate"
    DEPLOY = "deploy"
    BACKFILL = "backfill"
    GATE = "gate"


@dataclass(frozen=True)
class GateSpec:
    """What must hold before the next phase may be asked (every condition given)."""

    unused: tuple[str, ...] = ()  # columns, "table.column" or "schema.table.column"
    quiet_for: float = 86400.0  # ... that nothing has read or written for this long
    backfill_done: tuple[str, ...] = ()  # backfill phases of this change with nothing left
    sql: tuple[str, ...] = ()  # SELECTs whose first column must be true

    def to_json(self) -> dict[str, Any]:
        return {
            "unused": list(self.unused),
            "quiet_for": self.quiet_for,
            "backfill_done": list(self.backfill_done),
            "sql": list(self.sql),
        }

    @property
    def summary(self) -> str:
        """Its conditions in a line: 'nothing reads or writes videos.youtube_id for 10 min; …'."""
        parts = [
            f"nothing reads or writes {column} for {format_duration(self.quiet_for)}"
            for column in self.unused
        ]
        parts += [f"backfill {name} has nothing left to do" for name in self.backfill_done]
        parts += [f"{len(self.sql)} SQL assertion(s) hold"] if self.sql else []
        return "; ".join(parts)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GateSpec:
        return cls(
            unused=tuple(data["unused"]),
            quiet_for=float(data["quiet_for"]),
            backfill_done=tuple(data["backfill_done"]),
            sql=tuple(data["sql"]),
        )


@dataclass(frozen=True)
class PhaseSpec:
    """One phase: its name, its kind, and what that kind needs."""

    name: str
    kind: PhaseKind
    revision: str | None = None  # migrate
    deploy: str | None = None  # deploy: what the version that must be out does
    backfill: BackfillSpec | None = None
    gate: GateSpec | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind.value,
            "revision": self.revision,
            "deploy": self.deploy,
            "backfill": self.backfill.to_json() if self.backfill else None,
            "gate": self.gate.to_json() if self.gate else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PhaseSpec:
        return cls(
            name=data["name"],
            kind=PhaseKind(data["kind"]),
            revision=data.get("revision"),
            deploy=data.get("deploy"),
            backfill=BackfillSpec.from_json(data["backfill"]) if data.get("backfill") else None,
            gate=GateSpec.from_json(data["gate"]) if data.get("gate") else None,
        )

    @property
    def waits_for(self) -> str:
        """What the phase waits for, in a line for the phase card."""
        if self.kind is PhaseKind.MIGRATE:
            return f"the upgrade to {self.revision}, asked and approved here"
        if self.kind is PhaseKind.DEPLOY:
            return f"a person or the deploy pipeline to confirm: {self.deploy}"
        if self.kind is PhaseKind.BACKFILL:
            assert self.backfill is not None
            return f"the backfill of {self.backfill.table}, asked and approved here"
        assert self.gate is not None
        return self.gate.summary


@dataclass(frozen=True)
class ChangeSpec:
    """A change file, parsed: what the change is and its phases in order."""

    name: str
    description: str
    stale_after: float
    phases: tuple[PhaseSpec, ...]
    source: str = ""  # the file it was read from
    sha256: str = ""  # of the file's bytes, recorded when the change starts

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "stale_after": self.stale_after,
            "phases": [phase.to_json() for phase in self.phases],
            "source": self.source,
            "sha256": self.sha256,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ChangeSpec:
        return cls(
            name=data["name"],
            description=data["description"],
            stale_after=float(data["stale_after"]),
            phases=tuple(PhaseSpec.from_json(p) for p in data["phases"]),
            source=data.get("source", ""),
            sha256=data.get("sha256", ""),
        )


def change_path(changes_dir: Path, name: str) -> Path:
    """Where change ``name`` lives; raises ``ConfigError`` for a name that is not one."""
    if not CHANGE_NAME.match(name):
        raise ConfigError(str(changes_dir), None, f"{name!r} is not a change name")
    return changes_dir / f"{name}.toml"


def read_change(path: Path) -> ChangeSpec:
    """The change file at ``path``, checked; raises ``ConfigError`` naming the key."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(str(path), None, "does not exist") from None
    except OSError as exc:
        raise ConfigError(str(path), None, f"cannot be read: {exc}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(str(path), None, f"is not valid TOML: {exc}") from None
    spec = parse_change(data, name=path.stem, source=str(path), base=path.parent)
    return ChangeSpec(
        spec.name,
        spec.description,
        spec.stale_after,
        spec.phases,
        source=str(path),
        sha256=hashlib.sha256(raw).hexdigest(),
    )


def parse_change(data: dict[str, Any], *, name: str, source: str, base: Path) -> ChangeSpec:
    """A change from its TOML data; raises ``ConfigError`` naming the key."""
    if not CHANGE_NAME.match(name):
        raise ConfigError(source, None, "change files are named like rename-youtube-id.toml")
    root = ConfigTable(source, "", data, base)
    description = root.string("description", REQUIRED)
    stale_after = root.duration("stale_after", "2d")
    raw_phases = root.get("phases", list, REQUIRED)
    root.reject_unknown()
    if not raw_phases:
        raise root.error("phases", "list at least one [[phases]]")
    if len(raw_phases) > MAX_PHASES:
        raise root.error("phases", f"at most {MAX_PHASES} phases")
    phases: list[PhaseSpec] = []
    for index, raw in enumerate(raw_phases):
        if not isinstance(raw, dict):
            raise root.error(f"phases[{index}]", "must be a table ([[phases]])")
        phases.append(_phase(root.child(f"phases[{index}]", raw), phases))
    if root.problems:  # wrong values its tables noted as they read on
        raise ConfigErrors(source, root.problems)
    return ChangeSpec(name, description, stale_after, tuple(phases))


def _phase(table: ConfigTable, before: list[PhaseSpec]) -> PhaseSpec:
    name = table.string("name", REQUIRED, PHASE_NAME)
    if any(phase.name == name for phase in before):
        raise table.error("name", f"{name!r} names an earlier phase too")
    given = [kind for kind in PhaseKind if kind.value in table.data]
    if len(given) != 1:
        raise table.error(
            "name", f"phase {name!r} needs exactly one of migrate, deploy, backfill or gate"
        )
    kind = given[0]
    if kind is PhaseKind.MIGRATE:
        phase = PhaseSpec(name, kind, revision=table.string("migrate", REQUIRED, REVISION))
    elif kind is PhaseKind.DEPLOY:
        phase = PhaseSpec(name, kind, deploy=_sentence(table, "deploy"))
    elif kind is PhaseKind.BACKFILL:
        phase = PhaseSpec(name, kind, backfill=parse_backfill(name, _sub(table, "backfill")))
    else:
        phase = PhaseSpec(name, kind, gate=_gate(_sub(table, "gate"), before))
    table.reject_unknown()
    return phase


def _sub(table: ConfigTable, key: str) -> ConfigTable:
    return table.child(key, table.get(key, dict, REQUIRED))


def _sentence(table: ConfigTable, key: str) -> str:
    text: str = table.string(key, REQUIRED).strip()
    if not text or len(text) > 300 or not text.isprintable():
        raise table.error(key, "say in one printable line (up to 300 characters) what is out")
    return text


def _gate(table: ConfigTable, before: list[PhaseSpec]) -> GateSpec:
    backfills = {p.name for p in before if p.kind is PhaseKind.BACKFILL}
    gate = GateSpec(
        unused=table.strings("unused", (), COLUMN),
        quiet_for=table.duration("quiet_for", "24h"),
        backfill_done=_names(table, "backfill_done"),
        sql=table.strings("sql"),
    )
    for index, named in enumerate(gate.backfill_done):
        if named not in backfills:
            raise table.error(
                f"backfill_done[{index}]", f"{named!r} is not a backfill phase before this gate"
            )
    for index, text in enumerate(gate.sql):
        problem = _assertion_problem(text)
        if problem:
            raise table.error(f"sql[{index}]", problem)
    if not (gate.unused or gate.backfill_done or gate.sql):
        raise table.error("unused", "a gate needs at least one of unused, backfill_done or sql")
    table.reject_unknown()
    return gate


def _names(table: ConfigTable, key: str) -> tuple[str, ...]:
    """One name or a list of names."""
    value = table.data.get(key)
    if isinstance(value, str):
        table.used.add(key)
        return (value,)
    return table.strings(key, (), PHASE_NAME)


def _assertion_problem(text: str) -> str | None:
    """Why ``text`` is not one plain SELECT (a gate only reads), or None."""
    try:
        statements = pglast.parse_sql(text)
    except pglast.parser.ParseError as exc:
        return f"is not SQL PostgreSQL can parse: {exc}"
    if len(statements) != 1 or not isinstance(statements[0].stmt, ast.SelectStmt):
        return "must be one SELECT whose first column is true when the gate holds"
    select = statements[0].stmt
    if select.intoClause is not None or select.lockingClause:
        return "must only read (no INTO, no FOR UPDATE)"
    return None
