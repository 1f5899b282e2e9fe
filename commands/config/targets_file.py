"""The targets file: one TOML file read once at start and validated in full.

Every error names the file, the key and what is wrong, so a typo is a
one-line fix rather than a surprise at 2 a.m. Relative paths are relative to
the file. Secrets are never in the file: a target names the environment
variable that holds its database URL.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from commands.config.alembic_project import ENV_NAME, AlembicProject, parse_alembic_project
from commands.config.backfill import BackfillSpec
from commands.config.backup import (
    DEFAULT_COMPRESSION,
    parse_backup_destination,
    parse_backup_settings,
)
from commands.config.changes import CHANGES_FOLDER, parse_change_keys
from commands.config.checks import CheckSettings, parse_check_settings
from commands.config.drift import DriftSettings, parse_drift_keys
from commands.config.fleet import (
    FleetSettings,
    MemberOf,
    member_fields,
    parse_fleet_keys,
    split_member_name,
)
from commands.config.live_use import LiveUseSettings, WatchSettings, parse_live_use_keys
from commands.config.schedule import Hook, parse_schedule_keys
from commands.config.state_replica import parse_state_replica
from commands.config.table import HTTP_URL, ConfigTable
from commands.config.windows import Window
from commands.errors import ConfigError, ConfigErrors, UnknownTargetError
from commands.state.location import StateLocation, StateReplica
from commands.state.vocabulary import ChecklistItem

CONFIG_ENV = "MIGRATE_BOT_CONFIG"
DEFAULT_CONFIG_PATH = Path("migrate-bot.toml")
BUNDLED_MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
TABLES = ("bot", "targets")
DEMO_TARGET = "demo"
DEMO_SOURCE = "<built-in demo config>"

DEFAULT_QUEUE = "default"
QUEUE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
TARGET_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
SLACK_ID = re.compile(r"^[A-Z][A-Z0-9]{2,}$")
NON_BLANK = re.compile(r"^\s*\S")
TABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*(?:\.[A-Za-z_][A-Za-z0-9_$]*)?$")
APPROVER = re.compile(r"^(?:[UW][A-Z0-9]{2,}|@[a-z0-9][a-z0-9._-]*|S[A-Z0-9]{2,})$")
USER_GROUP = re.compile(r"^(?:@[a-z0-9][a-z0-9._-]*|S[A-Z0-9]{2,})$")
STAKEHOLDER = re.compile(r"^(?:[CGUW][A-Z0-9]{2,}|@[a-z0-9][a-z0-9._-]*|S[A-Z0-9]{2,})$")
CHECKLIST_ITEM = re.compile(rf"^(?:{'|'.join(ChecklistItem)})$")
# pg_dump --compress=METHOD[:LEVEL]; which methods work depends on how pg_dump was built

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
changes_dir = "{migrations}/changes"
approvals = 1
approvers = ["U0DEMOAPPR"]
backup = "file://var/backups"
lock_timeout = "2s"
statement_timeout = "15min"
max_duration = "10min"
windows = [{windows}]
allow_outside_windows = true
reminders = ["10min"]
drift_ignore = ["pg_stat_statements"]  # installed for the live-use evidence, not by a revision

[targets.tenants]
description = "a small fleet: four tenant databases on the same embedded PostgreSQL"
embedded_postgres = "var/postgres"
embedded_database = "tenant"
embedded_members = {tenants}
script_location = "{migrations}"
approvals = 1
approvers = ["U0DEMOAPPR"]
backup = "file://var/backups/tenants"
waves = ["1", "50%", "100%"]
concurrency = 2
max_failures = 1
lock_timeout = "2s"
allow_outside_windows = true
"""
DEMO_FLEET = "tenants"
DEMO_TENANTS = ("acme", "globex", "initech", "umbrella")
# The demo's maintenance windows: the first 50 minutes of every hour, so that
# `/migrate schedule demo next-window` and the Schedule button can be tried in
# one sitting (any other time is allowed too).
DEMO_WINDOWS = ", ".join(f'"daily {hour:02d}:00-{hour:02d}:50 UTC"' for hour in range(24))


@dataclass(frozen=True)
class BotSettings:
    """The ``[bot]`` table."""

    ops_channel: str | None
    state_path: Path
    state_url_env: str | None = None  # set: the state is shared, in that PostgreSQL database
    state_replica: StateReplica | None = None  # set: Litestream copies the SQLite state there
    deploy_token_env: str | None = None  # set: POST /changes/confirm with that bearer token

    @property
    def shared(self) -> bool:
        """Whether the state lives in PostgreSQL (fronts and workers as separate processes)."""
        return self.state.shared

    @property
    def state(self) -> StateLocation:
        return StateLocation(self.state_path, self.state_url_env)


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
    # backups (commands/backup/take.py); see docs/configuration.md
    backup_keep: int = 10
    backup_compression: str = DEFAULT_COMPRESSION
    verify_restore: bool = False
    restore_jobs: int = 1
    pg_bin_dir: Path | None = None
    s3_endpoint_url: str | None = None
    s3_sse: str = "AES256"
    s3_kms_key_id: str | None = None
    s3_part_size_mb: int = 16
    # who is told of schedules and outcomes besides the ops channel: channels, users, groups
    stakeholders: tuple[str, ...] = ()
    # maintenance windows, reminders and run hooks (commands/config/schedule.py)
    windows: tuple[Window, ...] = ()
    allow_outside_windows: bool = False
    reminders: tuple[float, ...] = (86400.0, 3600.0)  # seconds before a window, longest first
    before_run: tuple[Hook, ...] = ()
    after_run: tuple[Hook, ...] = ()
    hook_timeout: float = 30.0
    # a fleet: many databases named by members_env (commands/config/fleet.py)
    fleet: FleetSettings | None = None
    member_of: MemberOf | None = None  # set on one member's config (``tenants.acme``)
    # the application's live use of what a migration changes, and the watch after a run
    live_use: LiveUseSettings = field(default_factory=LiveUseSettings)
    watch: WatchSettings = field(default_factory=WatchSettings)
    # the live schema against its history: before a run, and swept on a schedule
    drift: DriftSettings = field(default_factory=DriftSettings)
    # with a shared state, only workers started with this queue run its jobs (docs/deployment.md)
    queue: str = DEFAULT_QUEUE
    # changes across deploys and backfills (commands/config/changes.py)
    changes_dir: Path = Path(CHANGES_FOLDER)
    backfills: Mapping[str, BackfillSpec] = field(default_factory=dict)

    @property
    def is_fleet(self) -> bool:
        return self.fleet is not None


@dataclass(frozen=True)
class Config:
    """The whole file: where it came from, the bot settings and the targets."""

    path: str
    bot: BotSettings
    targets: Mapping[str, TargetConfig]

    def target(self, name: str) -> TargetConfig:
        """The target called ``name``, or one member of a fleet (``tenants.acme``: the
        fleet's config under the member's name; whether the member exists is known when
        its URL is read). Raises ``UnknownTargetError``."""
        if name in self.targets:
            return self.targets[name]
        split = split_member_name(name)
        fleet = self.targets.get(split[0]) if split else None
        if split is None or fleet is None or fleet.fleet is None:
            raise UnknownTargetError(name, sorted(self.targets))
        fields = member_fields(fleet.name, fleet.fleet, fleet.backup, split[1])
        return dataclasses.replace(fleet, **fields)


def _bot_settings(table: ConfigTable) -> BotSettings:
    url_env = table.string("state_url_env", None, ENV_NAME)
    settings = BotSettings(
        ops_channel=table.string("ops_channel", None, SLACK_ID),
        state_path=table.path("state_path", "var/migrate-bot.sqlite3") or Path(),
        state_url_env=url_env,
        state_replica=parse_state_replica(table, shared=url_env is not None),
        deploy_token_env=table.string("deploy_token_env", None, ENV_NAME),
    )
    table.reject_unknown()
    return settings


def _target(name: str, table: ConfigTable) -> TargetConfig:
    if not TARGET_NAME.match(name):
        raise ConfigError(
            table.source,
            f"targets.{name}",
            "target names are lowercase letters, digits, '-' and '_'",
        )
    table.refuse_secret_keys()
    database_url_env = _env_name(table, "database_url_env")
    embedded = table.path("embedded_postgres")
    members_env = _env_name(table, "members_env")
    if sum(key is not None for key in (database_url_env, embedded, members_env)) != 1:
        raise table.error(
            "database_url_env",
            "set exactly one of database_url_env, embedded_postgres or members_env (a fleet)",
        )
    fleet = parse_fleet_keys(table, members_env, embedded=embedded is not None)
    alembic = parse_alembic_project(table)
    target = TargetConfig(
        name=name,
        description=table.string("description", ""),
        database_url_env=database_url_env,
        embedded_postgres=embedded,
        embedded_database=table.string("embedded_database", "transcripts", TARGET_NAME),
        alembic=alembic,
        approvals=table.integer("approvals", 1, minimum=1),
        approvers=table.strings("approvers", (), APPROVER),
        quorum=_quorum(table),
        approval_ttl=table.duration("approval_ttl", "4h"),
        checklist=tuple(
            ChecklistItem(item)
            for item in table.strings("checklist", tuple(ChecklistItem), CHECKLIST_ITEM)
        ),
        allowed_channels=table.strings("allowed_channels", (), SLACK_ID),
        backup=parse_backup_destination(table),
        lock_timeout=table.duration("lock_timeout", "2s"),
        statement_timeout=table.duration("statement_timeout", "15min"),
        max_duration=table.duration("max_duration", "10min"),
        lock_retry_budget=table.duration("lock_retry_budget", "3min"),
        max_queue_wait=table.duration("max_queue_wait", "5s"),
        **_check_keys(table),
        **parse_backup_settings(table),
        stakeholders=table.strings("stakeholders", (), STAKEHOLDER),
        **parse_schedule_keys(table),
        fleet=fleet,
        **parse_live_use_keys(table),
        **parse_drift_keys(table),
        queue=table.string("queue", DEFAULT_QUEUE, QUEUE_NAME),
        **parse_change_keys(table, alembic),
    )
    if not target.approvers:
        raise table.error("approvers", "list at least one Slack user id or @user-group")
    _check_approvers_suffice(table, target)
    table.reject_unknown()
    return target


def _check_keys(table: ConfigTable) -> dict[str, Any]:
    """The keys the pre-flight checks and the post-run verification read."""
    health_url = table.string("health_url", None, HTTP_URL)
    checks = table.child("checks", table.get("checks", dict, {}))
    return {
        "health_url": health_url,
        "smoke_sql": table.strings("smoke_sql", (), NON_BLANK),
        "watch_tables": table.strings("watch_tables", (), TABLE_NAME),
        "replica_url_env": _env_name(table, "replica_url_env"),
        "max_replication_lag": table.duration("max_replication_lag", "30s"),
        "requires_applied_in": table.string("requires_applied_in", None, TARGET_NAME),
        "rehearse": table.get("rehearse", bool, False),
        "checks": parse_check_settings(checks),
    }


def _env_name(table: ConfigTable, key: str) -> str | None:
    """The name of the environment variable holding a URL; a URL written here instead is
    refused without being quoted back (it may hold a password)."""
    value = table.get(key, str, None)
    if value is not None and "://" in value:
        raise table.error(
            key,
            "names an environment variable (e.g. PROD_DATABASE_URL) that holds the URL,"
            " not the URL itself: URLs never go in the file",
        )
    if value is not None and not ENV_NAME.match(value):
        raise table.error(
            key, f"{value!r} is not an environment variable name (letters, digits and _)"
        )
    return value


def _check_promotion_gates(source: str, targets: Mapping[str, TargetConfig]) -> None:
    for name, target in targets.items():
        other = target.requires_applied_in
        if other is not None and (other == name or other not in targets):
            problem = "names the target itself" if other == name else f"{other!r} is not a target"
            raise ConfigError(source, f"targets.{name}.requires_applied_in", problem)


def _check_child_env(source: str, targets: Mapping[str, TargetConfig]) -> None:
    """A target's env.py never gets another target's database URL, nor a fleet's members'
    URLs (not even its own fleet's: each member's env.py gets its member's only)."""
    urls = {t.database_url_env: n for n, t in targets.items() if t.database_url_env}
    urls.update({t.replica_url_env: n for n, t in targets.items() if t.replica_url_env})
    fleets = {t.fleet.members_env: n for n, t in targets.items() if t.fleet and t.fleet.members_env}
    for name, target in targets.items():
        for variable, value in target.alembic.child_env.items():
            owner = urls.get(variable)
            if value is None and variable in fleets:
                raise ConfigError(
                    source,
                    f"targets.{name}.child_env",
                    f"{variable} holds the URLs of fleet {fleets[variable]}'s members: it never"
                    " reaches an env.py",
                )
            if value is None and owner is not None and owner != name:
                raise ConfigError(
                    source,
                    f"targets.{name}.child_env",
                    f"{variable} holds target {owner}'s database URL: it never reaches"
                    f" {name}'s env.py",
                )


def _quorum(table: ConfigTable) -> dict[str, int]:
    """``quorum = {"@db-admins" = 1, "@app-owners" = 1}``: approvals needed per user group."""
    quorum = table.get("quorum", dict, {})
    for group, count in quorum.items():
        if not USER_GROUP.match(group):
            raise table.error(f"quorum.{group}", "keys are user groups (@handle or S… id)")
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise table.error(f"quorum.{group}", f"must be a whole number of at least 1: {count!r}")
    return dict(quorum)


def _check_approvers_suffice(table: ConfigTable, target: TargetConfig) -> None:
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


def parse_config(text: str, *, source: str, base: Path) -> Config:
    """Validate a targets file's text; raises ``ConfigError`` naming the key."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, None, f"is not valid TOML: {exc}") from None
    problems: list[ConfigError] = []
    root = ConfigTable(source, "", data, base, problems)
    _check_tables(source, data, problems)
    bot = _bot_settings(root.child("bot", root.get("bot", dict, {})))
    raw_targets = root.get("targets", dict, {})
    if "targets" not in data and not problems:  # a misspelt [target.x] table says why
        problems.append(ConfigError(source, "targets", "is required"))
    elif not raw_targets and isinstance(data.get("targets"), dict):
        problems.append(ConfigError(source, "targets", "define at least one [targets.NAME] table"))
    targets = {}
    for name, raw in raw_targets.items():
        try:
            if not isinstance(raw, dict):
                raise ConfigError(source, f"targets.{name}", "must be a table")
            targets[name] = _target(name, root.child(f"targets.{name}", raw))
        except ConfigError as exc:  # this target stops here; the others are still read
            problems.append(exc)
    for check in (_check_promotion_gates, _check_child_env):
        try:
            check(source, targets)
        except ConfigError as exc:
            problems.append(exc)
    if problems:
        raise ConfigErrors(source, _first_per_key(problems))
    return Config(path=source, bot=bot, targets=targets)


def _first_per_key(problems: list[ConfigError]) -> list[ConfigError]:
    """One problem per key: a wrong value read as its default may make a later check of the
    same key complain too (``approvers[0]`` invalid, then ``approvers`` empty)."""
    seen: set[str] = set()
    kept = []
    for problem in problems:
        key = re.sub(r"\[\d+\]$", "", problem.key or "")
        if key and key in seen:
            continue
        seen.add(key)
        kept.append(problem)
    return kept


def _check_tables(source: str, data: Mapping[str, Any], problems: list[ConfigError]) -> None:
    """Report a table other than ``[bot]`` and ``[targets.NAME]``, with the one meant."""
    for key, value in data.items():
        if key in TABLES:
            continue
        hint = difflib.get_close_matches(key, TABLES, n=1, cutoff=0.5)
        if hint and hint[0] == "targets" and isinstance(value, dict) and value:
            meant = f"[targets.{next(iter(value))}]"
        else:
            meant = f"[{hint[0]}]" if hint and hint[0] == "bot" else "[targets.NAME]"
        suffix = f" (did you mean {meant}?)" if hint else " (expected [bot] and [targets.NAME])"
        problems.append(ConfigError(source, key, f"is not a known table{suffix}"))


def demo_config(base: Path | None = None) -> Config:
    """The built-in default: target ``demo`` on an embedded PostgreSQL under ``var/``, and
    the fleet ``tenants``: four databases on the same server."""
    text = DEMO_CONFIG_TOML.format(
        migrations=BUNDLED_MIGRATIONS.as_posix(),
        windows=DEMO_WINDOWS,
        tenants="[" + ", ".join(f'"{name}"' for name in DEMO_TENANTS) + "]",
    )
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
