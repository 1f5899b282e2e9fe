"""Real pieces for request tests: a targets file, a clock you can move, a plan fingerprint."""

from __future__ import annotations

import hashlib
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

from commands.config.targets_file import BUNDLED_MIGRATIONS, Config, parse_config
from commands.migration.script.fingerprint import PlanFingerprint, RevisionFile
from commands.requests import GroupLookup, Request, RequestService, no_group_members
from commands.state.audit_log import open_audit_log
from commands.state.vocabulary import ChecklistItem, RequestKind

REQUESTER = "U0ALICE"
APPROVER = "U0BOB"
SECOND_APPROVER = "U0CAROL"


class Clock:
    """A clock that stands still until moved."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2025, 3, 14, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def write_config(directory: Path, target_keys: str = "", bot_keys: str = "") -> Config:
    """A targets file with target ``prod`` (two user approvers unless ``target_keys`` says);
    ``bot_keys`` are added to ``[bot]`` (``state_url_env = "…"`` for a shared state)."""
    keys = target_keys or 'approvers = ["U0BOB", "U0CAROL"]'
    text = textwrap.dedent(
        f"""
        [bot]
        state_path = "state.sqlite3"
        {bot_keys}

        [targets.prod]
        database_url_env = "PROD_DATABASE_URL"
        script_location = "{BUNDLED_MIGRATIONS.as_posix()}"
        """
    ) + textwrap.dedent(keys)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "migrate-bot.toml"
    path.write_text(text)
    return parse_config(text, source=str(path), base=directory)


def make_service(
    config: Config, clock: Clock | None = None, lookup: GroupLookup = no_group_members
) -> RequestService:
    store = open_audit_log(config.bot.state, clock=clock or Clock())
    return RequestService(store, config, group_lookup=lookup)


def fingerprint(
    target: str = "prod", revisions: tuple[str, ...] = ("aaa1", "bbb2"), content: str = "v1"
) -> PlanFingerprint:
    """An upgrade from base through ``revisions``, as if their files held ``content``."""
    return PlanFingerprint(
        target=target,
        action="upgrade",
        from_revisions=(),
        to_revisions=revisions[-1:],
        revisions=tuple(
            RevisionFile(rev, hashlib.sha256(f"{rev}{content}".encode()).hexdigest())
            for rev in revisions
        ),
    )


def new_request(service: RequestService, **overrides: object) -> Request:
    fields: dict[str, object] = {
        "kind": RequestKind.UPGRADE,
        "target": "prod",
        "requester": REQUESTER,
        "fingerprint": fingerprint(),
        "origin": {"channel": "C0OPS", "ts": "1710000000.000100"},
        "reason": "ship the thumbnails feature",
    }
    fields.update(overrides)
    return service.create(**fields)  # type: ignore[arg-type]


def ready_for_approval(service: RequestService, **overrides: object) -> Request:
    """A new request whose pre-flight passed and whose checklist is complete."""
    request = new_request(service, **overrides)
    service.record_preflight(request.id, actor="migrate-bot", passed=True, summary="all green")
    for item in ChecklistItem:
        request = service.tick_checklist(request.id, item=item, actor=REQUESTER)
    return request
