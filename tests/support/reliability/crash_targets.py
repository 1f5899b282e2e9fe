"""The targets the crash tests run on, one per kind of step to kill in.

- ``quick``: a small database, backups to a folder; its two table-pair
  revisions sleep 2 s between their tables (kills between and inside them);
  its replica (the same server, not in recovery: a warning) is reached
  through a relay that can hold connections, so pre-flight can be caught
  waiting on it;
- ``dump``: ~30 MiB of rows, backups to a folder with a restore test into a
  scratch database (``verify_restore``), so a dump is long enough to kill in;
- ``upload``: the same rows, backups to S3 (moto behind a relay that adds
  ``PART_DELAY_S`` to each part) in 5 MiB parts;
- ``verify``: a small database, revisions without sleeps, a smoke SQL that
  sleeps 3 s.
"""

from __future__ import annotations

from dataclasses import dataclass

from commands.postgres.database_url import DatabaseUrl
from tests.support.reliability.http_relay import Action, Exchange, HttpRelay
from tests.support.reliability.observe import Bucket
from tests.support.reliability.socket_relay import PostgresRelay
from tests.support.reliability.world import Target, Templates, World

PART_DELAY_S = 0.4
REPLICA_ENV = "QUICK_REPLICA_URL"


@dataclass(frozen=True)
class CrashWorld:
    """The bot on the crash targets, the bucket its S3 target writes to, the relay before
    it, and the relay before the ``quick`` target's replica (which can make it hang)."""

    world: World
    bucket: Bucket
    relay: HttpRelay
    replica: PostgresRelay


def slow_parts(exchange: Exchange) -> Action | None:
    """The relay's rule: each S3 part takes ``PART_DELAY_S`` longer."""
    return Action(delay=PART_DELAY_S) if exchange.part_number else None


def crash_targets(
    server: DatabaseUrl, templates: Templates, *, bucket: str, s3_endpoint: str
) -> list[Target]:
    def target(name: str, template: str, sleep_s: float = 2.0, **keys: str) -> Target:
        database = server.with_database(f"crash_{name}")
        return Target(name, database, template, keys, sleep_s=sleep_s)

    return [
        target(
            "quick",
            templates.small,
            backup='"file://backups/quick"',
            replica_url_env=f'"{REPLICA_ENV}"',
        ),
        target("dump", templates.big, backup='"file://backups/dump"', verify_restore="true"),
        target(
            "upload",
            templates.big,
            backup=f'"s3://{bucket}/upload"',
            s3_endpoint_url=f'"{s3_endpoint}"',
            s3_part_size_mb="5",
        ),
        target(
            "verify",
            templates.small,
            sleep_s=0,
            backup='"file://backups/verify"',
            smoke_sql='["SELECT pg_sleep(3)"]',
        ),
    ]
