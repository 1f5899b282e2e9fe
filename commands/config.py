"""The targets file: one TOML file read once at start and validated in full.

Every error names the file, the key and what is wrong, so a typo is a
one-line fix rather than a surprise at 2 a.m. Relative paths are relative to
the file. Secrets are never in the file: a target names the environment
variable that holds its database URL.
"""

from __future__ import annotations

import difflib
import os
import re
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from commands.audit_log import ChecklistItem
from commands.check_settings import CheckSettings, parse_check_settings
from commands.durations import parse_duration
from commands.errors import ConfigError, UnknownTargetError
from commands.maintenance_windows import Window
from commands.schedule_settings import Hook, parse_schedule_keys

CONFIG_ENV = "MIGRATE_BOT_CONFIG"
DEFAULT_CONFIG_PATH = Path("migrate-bot.toml")
BUNDLED_MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
DEMO_TARGET = "demo"
DEMO_SOURCE = "<built-in demo config>"

TARGET_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SLACK_ID = re.compile(r"^[A-Z][A-Z0-9]{2,}$")
NON_BLANK = re.compile(r"^\s*\S")
TABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*(?:\.[A-Za-z_][A-Za-z0-9_$]*)?$")
APPROVER = re.compile(r"^(?:[UW][A-Z0-9]{2,}|@[a-z0-9][a-z0-9._-]*|S[A-Z0-9]{2,})$")
USER_GROUP = re.compile(r"^(?:@[a-z0-9][a-z0-9._-]*|S[A-Z0-9]{2,})$")
STAKEHOLDER = re.compile(r"^(?:[CGUW][A-Z0-9]{2,}|@[a-z0-9][a-z0-9._-]*|S[A-Z0-9]{2,})$")
CHECKLIST_ITEM = re.compile(rf"^(?:{'|'.join(ChecklistItem)})$")
S3_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
HTTP_URL = re.compile(r"^https?://[^\s/]+(?:/\S*)?$")
# pg_dump --compress=METHOD[:LEVEL]; which methods work depends on how pg_dump was built
COMPRESSION_LEVELS = {"none": None, "gzip": (1, 9), "lz4": (1, 12), "zstd": (1, 22)}
S3_SSE = ("AES256", "aws:kms", "none")
S3_MIN_PART_MB, S3_MAX_PART_MB = 5, 5120

# The embedded default: used when no targets file exists. It goes through the
# same loader as a user's file, so the demo can never drift from what's valid.
DEMO_CONFIG_TOML = """
[bot]
ops_channel = "C0DEMOOPS"
state_path = "var/migrate-bot.sqlite3"

[targets.demo]
description = "bundled example migrations on an embedded PostgreSQL"
embedded_postgres = "var/postgres"
script_location = "{migrations}"
approvals = 1
approvers = ["U0DEMOAPPR"]
backup = "file://var/backups"
lock_timeout = "2s"
statement_timeout = "15min"
max_duration = "10min"
"""


@dataclass(frozen=True)
class AlembicProject:
    """Where a target's Alembic project lives and which Python runs it."""

    config_file: Path | None
    script_location: Path | None
    python: str


@dataclass(frozen=True)
class BotSettings:
    """The ``[bot]`` table."""

    ops_channel: str | None
    state_path: Path


@dataclass(frozen=True)
class TargetConfig:
    """One ``[targets.NAME]`` table, validated."""

    name: str
    description: str
    database_url_env: str | None
    embedded_postgres: Path | None
    embedded_database: str
    alembic: AlembicProject
    approvals: int
    approvers: tuple[str, ...]
    quorum: Mapping[str, int]
    approval_ttl: float
    checklist: tuple[ChecklistItem, ...]
    allowed_channels: tuple[str, ...]
    backup: str
    lock_timeout: float
    statement_timeout: float
    max_duration: float
    lock_retry_budget: float
    max_queue_wait: float
    # pre-flight and verification (commands/checks)
    health_url: str | None
    smoke_sql: tuple[str, ...]
    watch_tables: tuple[str, ...]
    replica_url_env: str | None
    max_replication_lag: float
    requires_applied_in: str | None
    rehearse: bool
    checks: CheckSettings
    # backups (commands/backups.py); see docs/configuration.md
    backup_keep: int = 10
    backup_compression: str = "gzip:1"
    verify_restore: bool = False
    pg_bin_dir: Path | None = None
    s3_endpoint_url: str | None = None
    s3_sse: str = "AES256"
    s3_kms_key_id: str | None = None
    s3_part_size_mb: int = 16
    # who is told of schedules and outcomes besides the ops channel: channels, users, groups
    stakeholders: tuple[str, ...] = ()
    # maintenance windows, reminders and run hooks (commands/schedule_settings.py)
    windows: tuple[Window, ...] = ()
    allow_outside_windows: bool = False
    reminders: tuple[float, ...] = (86400.0, 3600.0)  # seconds before a window, longest first
    before_run: tuple[Hook, ...] = ()
    after_run: tuple[Hook, ...] = ()
    hook_timeout: float = 30.0


@dataclass(frozen=True)
class Config:
    """The whole file: where it came from, the bot settings and the targets."""

    path: str
    bot: BotSettings
    targets: Mapping[str, TargetConfig]

    def target(self, name: str) -> TargetConfig:
        """The target called ``name``; raises ``UnknownTargetError``."""
        try:
            return self.targets[name]
        except KeyError:
            raise UnknownTargetError(name, sorted(self.targets)) from None


class _Table:
    """Typed reads from one TOML table that remember which keys were used."""

    def __init__(self, source: str, prefix: str, data: Mapping[str, Any], base: Path) -> None:
        self.source = source
        self.prefix = prefix
        self.data = data
        self.base = base
        self.used: set[str] = set()

    def error(self, key: str, problem: str) -> ConfigError:
        return ConfigError(self.source, f"{self.prefix}.{key}", problem)

    def get(self, key: str, kind: type | tuple[type, ...], default: Any) -> Any:
        self.used.add(key)
        if key not in self.data:
            if default is _REQUIRED:
                raise self.error(key, "is required")
            return default
        value = self.data[key]
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
            expected = (
                kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            )
            raise self.error(key, f"must be a {expected}, not {type(value).__name__}")
        return value

    def string(self, key: str, default: Any = None, pattern: re.Pattern[str] | None = None) -> Any:
        value = self.get(key, str, default)
        if isinstance(value, str) and pattern is not None and not pattern.match(value):
            raise self.error(key, f"{value!r} is not valid (expected {pattern.pattern})")
        return value

    def integer(self, key: str, default: Any, minimum: int = 0) -> int:
        value = self.get(key, int, default)
        if value < minimum:
            raise self.error(key, f"must be at least {minimum}, not {value}")
        return int(value)

    def duration(self, key: str, default: str) -> float:
        text = self.get(key, str, default)
        try:
            seconds = parse_duration(text)
        except ValueError as exc:
            raise self.error(key, str(exc)) from None
        if seconds <= 0:
            raise self.error(key, "must be longer than zero")
        return seconds

    def strings(
        self, key: str, default: tuple[str, ...] = (), pattern: re.Pattern[str] | None = None
    ) -> tuple[str, ...]:
        values = self.get(key, list, list(default))
        for index, value in enumerate(values):
            if not isinstance(value, str):
                raise self.error(f"{key}[{index}]", f"must be a string, not {type(value).__name__}")
            if pattern is not None and not pattern.match(value):
                raise self.error(f"{key}[{index}]", f"{value!r} is not valid")
        return tuple(values)

    def path(self, key: str, default: Any = None) -> Path | None:
        text = self.string(key, default)
        if text is None:
            return None
        return (self.base / Path(text).expanduser()).resolve()

    def reject_unknown(self) -> None:
        for key in self.data:
            if key not in self.used:
                hint = difflib.get_close_matches(key, sorted(self.used), n=1)
                suffix = f" (did you mean {hint[0]!r}?)" if hint else ""
                raise self.error(key, f"is not a known key{suffix}")


_REQUIRED = object()


def _bot_settings(table: _Table) -> BotSettings:
    settings = BotSettings(
        ops_channel=table.string("ops_channel", None, SLACK_ID),
        state_path=table.path("state_path", "var/migrate-bot.sqlite3") or Path(),
    )
    table.reject_unknown()
    return settings


def _alembic_project(table: _Table) -> AlembicProject:
    config_file = table.path("alembic_config")
    script_location = table.path("script_location")
    if (config_file is None) == (script_location is None):
        raise table.error("alembic_config", "set exactly one of alembic_config or script_location")
    checked = config_file or script_location
    assert checked is not None
    if not checked.exists():
        key = "alembic_config" if config_file else "script_location"
        raise table.error(key, f"{checked} does not exist")
    if script_location is not None and not (script_location / "env.py").exists():
        raise table.error("script_location", f"{script_location} has no env.py")
    python = table.string("python", sys.executable)
    return AlembicProject(config_file=config_file, script_location=script_location, python=python)


def _target(name: str, table: _Table) -> TargetConfig:
    if not TARGET_NAME.match(name):
        raise ConfigError(
            table.source,
            f"targets.{name}",
            "target names are lowercase letters, digits, '-' and '_'",
        )
    database_url_env = table.string("database_url_env", None, ENV_NAME)
    embedded = table.path("embedded_postgres")
    if (database_url_env is None) == (embedded is None):
        raise table.error(
            "database_url_env", "set exactly one of database_url_env or embedded_postgres"
        )
    target = TargetConfig(
        name=name,
        description=table.string("description", ""),
        database_url_env=database_url_env,
        embedded_postgres=embedded,
        embedded_database=table.string("embedded_database", "transcripts", TARGET_NAME),
        alembic=_alembic_project(table),
        approvals=table.integer("approvals", 1, minimum=1),
        approvers=table.strings("approvers", (), APPROVER),
        quorum=_quorum(table),
        approval_ttl=table.duration("approval_ttl", "4h"),
        checklist=tuple(
            ChecklistItem(item)
            for item in table.strings("checklist", tuple(ChecklistItem), CHECKLIST_ITEM)
        ),
        allowed_channels=table.strings("allowed_channels", (), SLACK_ID),
        backup=_backup_destination(table),
        lock_timeout=table.duration("lock_timeout", "2s"),
        statement_timeout=table.duration("statement_timeout", "15min"),
        max_duration=table.duration("max_duration", "10min"),
        lock_retry_budget=table.duration("lock_retry_budget", "3min"),
        max_queue_wait=table.duration("max_queue_wait", "5s"),
        **_check_keys(table),
        **_backup_settings(table),
        stakeholders=table.strings("stakeholders", (), STAKEHOLDER),
        **parse_schedule_keys(table),
    )
    if not target.approvers:
        raise table.error("approvers", "list at least one Slack user id or @user-group")
    _check_approvers_suffice(table, target)
    table.reject_unknown()
    return target


def _check_keys(table: _Table) -> dict[str, Any]:
    """The keys the pre-flight checks and the post-run verification read."""
    health_url = table.string("health_url", None, HTTP_URL)
    checks = _Table(
        table.source, f"{table.prefix}.checks", table.get("checks", dict, {}), table.base
    )
    return {
        "health_url": health_url,
        "smoke_sql": table.strings("smoke_sql", (), NON_BLANK),
        "watch_tables": table.strings("watch_tables", (), TABLE_NAME),
        "replica_url_env": table.string("replica_url_env", None, ENV_NAME),
        "max_replication_lag": table.duration("max_replication_lag", "30s"),
        "requires_applied_in": table.string("requires_applied_in", None, TARGET_NAME),
        "rehearse": table.get("rehearse", bool, False),
        "checks": parse_check_settings(checks),
    }


def _check_promotion_gates(source: str, targets: Mapping[str, TargetConfig]) -> None:
    for name, target in targets.items():
        other = target.requires_applied_in
        if other is not None and (other == name or other not in targets):
            problem = "names the target itself" if other == name else f"{other!r} is not a target"
            raise ConfigError(source, f"targets.{name}.requires_applied_in", problem)


def _quorum(table: _Table) -> dict[str, int]:
    """``quorum = {"@db-admins" = 1, "@app-owners" = 1}``: approvals needed per user group."""
    quorum = table.get("quorum", dict, {})
    for group, count in quorum.items():
        if not USER_GROUP.match(group):
            raise table.error(f"quorum.{group}", "keys are user groups (@handle or S… id)")
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise table.error(f"quorum.{group}", f"must be a whole number of at least 1: {count!r}")
    return dict(quorum)


def _check_approvers_suffice(table: _Table, target: TargetConfig) -> None:
    """Refuse a policy nobody could ever satisfy."""
    unlisted = [group for group in target.quorum if group not in target.approvers]
    if unlisted:
        raise table.error(f"quorum.{unlisted[0]}", "must also be listed in approvers")
    only_users = all(not USER_GROUP.match(a) for a in target.approvers)
    if only_users and target.approvals > len(target.approvers):
        raise table.error(
            "approvals",
            f"needs {target.approvals} approvers but only {len(target.approvers)} are listed",
        )


def _backup_destination(table: _Table) -> str:
    """``file://`` with an absolute folder (relative to the file), or ``s3://bucket[/prefix]``."""
    text = table.string("backup", "file://var/backups")
    if text.startswith("file://"):
        folder = text.removeprefix("file://")
        if not folder:
            raise table.error("backup", "file:// names no folder")
        return "file://" + (table.base / Path(folder).expanduser()).resolve().as_posix()
    if text.startswith("s3://"):
        bucket, _, prefix = text.removeprefix("s3://").partition("/")
        if not S3_BUCKET.match(bucket):
            raise table.error("backup", f"{bucket!r} is not a valid S3 bucket name")
        prefix = prefix.strip("/")
        return f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"
    raise table.error("backup", f"{text!r} must start with file:// or s3://")


def _compression(table: _Table) -> str:
    text = table.string("backup_compression", "gzip:1")
    method, colon, level = text.partition(":")
    if method in COMPRESSION_LEVELS:
        bounds = COMPRESSION_LEVELS[method]
        if not colon:
            return text
        if bounds and level.isdigit() and bounds[0] <= int(level) <= bounds[1]:
            return text
    raise table.error(
        "backup_compression", f"{text!r} is not one of none, gzip[:1-9], lz4[:1-12], zstd[:1-22]"
    )


def _backup_settings(table: _Table) -> dict[str, Any]:
    """The backup keys of a target, checked against each other."""
    sse = table.string("s3_sse", "AES256")
    if sse not in S3_SSE:
        raise table.error("s3_sse", f"{sse!r} is not one of {', '.join(S3_SSE)}")
    kms_key_id = table.string("s3_kms_key_id")
    if kms_key_id is not None and sse != "aws:kms":
        raise table.error("s3_kms_key_id", 'is only used with s3_sse = "aws:kms"')
    part_size = table.integer("s3_part_size_mb", 16, minimum=S3_MIN_PART_MB)
    if part_size > S3_MAX_PART_MB:
        raise table.error("s3_part_size_mb", f"must be at most {S3_MAX_PART_MB}, not {part_size}")
    return {
        "backup_keep": table.integer("backup_keep", 10, minimum=1),
        "backup_compression": _compression(table),
        "verify_restore": table.get("verify_restore", bool, False),
        "pg_bin_dir": table.path("pg_bin_dir"),
        "s3_endpoint_url": table.string("s3_endpoint_url", None, HTTP_URL),
        "s3_sse": sse,
        "s3_kms_key_id": kms_key_id,
        "s3_part_size_mb": part_size,
    }


def parse_config(text: str, *, source: str, base: Path) -> Config:
    """Validate a targets file's text; raises ``ConfigError`` naming the key."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, None, f"is not valid TOML: {exc}") from None
    root = _Table(source, "", data, base)
    bot = _bot_settings(_Table(source, "bot", root.get("bot", dict, {}), base))
    raw_targets = root.get("targets", dict, _REQUIRED)
    if not raw_targets:
        raise ConfigError(source, "targets", "define at least one [targets.NAME] table")
    targets = {}
    for name, raw in raw_targets.items():
        if not isinstance(raw, dict):
            raise ConfigError(source, f"targets.{name}", "must be a table")
        targets[name] = _target(name, _Table(source, f"targets.{name}", raw, base))
    _check_promotion_gates(source, targets)
    for key in data:
        if key not in ("bot", "targets"):
            raise ConfigError(
                source, key, "is not a known table (expected [bot] and [targets.NAME])"
            )
    return Config(path=source, bot=bot, targets=targets)


def demo_config(base: Path | None = None) -> Config:
    """The built-in default: target ``demo`` on an embedded PostgreSQL under ``var/``."""
    text = DEMO_CONFIG_TOML.format(migrations=BUNDLED_MIGRATIONS.as_posix())
    return parse_config(text, source=DEMO_SOURCE, base=base or Path.cwd())


def load_config(environ: Mapping[str, str] = os.environ) -> Config:
    """The config named by ``$MIGRATE_BOT_CONFIG``, else ``./migrate-bot.toml``, else the demo."""
    explicit = environ.get(CONFIG_ENV)
    path = Path(explicit) if explicit else DEFAULT_CONFIG_PATH
    if not path.exists():
        if explicit:
            raise ConfigError(str(path), None, f"does not exist (named by ${CONFIG_ENV})")
        return demo_config()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), None, f"cannot be read: {exc}") from None
    return parse_config(text, source=str(path), base=path.resolve().parent)
