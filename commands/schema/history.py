"""What the migration history says the schema should be at the database's revision.

The target's own project, run by its own Alembic child, upgrades an empty
scratch database beside the target's (same server: same version, same
extensions available) to the revisions the live version table holds; the
catalog reader reads it; the scratch database is dropped. The result is
cached (``replay_cache.py``), so a second check at the same revision with
the same files replays nothing.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from commands.config.targets_file import TargetConfig
from commands.errors import AlembicError, MigrateBotError
from commands.migration.runtime.runner import AlembicRunner, AlembicSession, ProjectState
from commands.migration.runtime.target_check import HAND_URL, target_connection
from commands.migration.script.revision_graph import HEADS, Direction
from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl
from commands.postgres.scratch import DRIFT, ScratchDatabaseError, scratch_database
from commands.schema.catalog import read_schema
from commands.schema.model import Schema
from commands.schema.replay_cache import ReplayCache, replay_key, replaying
from commands.targets import TargetHandle
from commands.units import postgres_interval

ELSEWHERE = "the history cannot be replayed apart from the target"


class ReplayError(MigrateBotError):
    """The history could not be replayed on an empty database (the reason is the message)."""


@dataclass(frozen=True)
class History:
    """The schema the history gives at ``revisions``; ``cached`` when no replay ran.

    ``alembic_s`` is the time the revisions took inside Alembic, ``total_s`` the
    whole (scratch database, child, catalog read), both 0 when cached.
    """

    schema: Schema
    revisions: tuple[str, ...]
    key: str
    cached: bool
    alembic_s: float = 0.0
    total_s: float = 0.0


def history_schema(
    handle: TargetHandle,
    state: ProjectState,
    *,
    cache: ReplayCache,
    fresh: bool = False,
) -> History:
    """The schema ``state.current`` should have, from the cache unless ``fresh``.

    Raises ``ReplayError`` (no scratch database, a revision failed on an empty
    one) or ``DatabaseUnavailableError``.
    """
    revisions, key = replay_identity(handle, state)
    with replaying(key):  # another thread replaying the same history: wait, then read it
        kept = None if fresh else cache.get(key)
        if kept is not None:
            return History(kept, state.current, key, cached=True)
        started = time.monotonic()
        schema, alembic_s = _replay(handle, state, revisions)
        cache.put(key, schema)
    return History(schema, state.current, key, False, alembic_s, time.monotonic() - started)


def replay_identity(handle: TargetHandle, state: ProjectState) -> tuple[tuple[str, ...], str]:
    """The revisions ``state.current`` is made of, in order, and their replay cache key."""
    revisions = state.graph.sorted(state.graph.applied(state.current))
    with connect(handle.database) as conn:
        major = conn.info.server_version // 10000
    return revisions, replay_key(handle.config.alembic, state, revisions, major)


def _replay(
    handle: TargetHandle, state: ProjectState, revisions: tuple[str, ...]
) -> tuple[Schema, float]:
    """Upgrade a new scratch database to ``revisions`` and read its schema."""
    with replay_errors(), scratch_database(handle.database, DRIFT, secrets.token_hex(4)) as url:
        alembic_s = 0.0
        if revisions:
            with AlembicRunner(handle.config.alembic, url).session() as session:
                alembic_s = replay_in(session, handle.config, state, revisions, url)
        return read_schema(url), alembic_s


@contextmanager
def replay_errors() -> Iterator[None]:
    """A scratch database or Alembic failure, as the ``ReplayError`` that says which."""
    try:
        yield
    except ScratchDatabaseError as exc:
        raise ReplayError(f"cannot replay the history: {exc}") from None
    except AlembicError as exc:
        raise ReplayError(f"the history does not replay on an empty database: {exc}") from None


def replay_in(
    session: AlembicSession,
    config: TargetConfig,
    state: ProjectState,
    revisions: tuple[str, ...],
    scratch: DatabaseUrl,
) -> float:
    """Run ``revisions`` in ``session`` (a child on the empty database ``scratch``), in the
    order plain Alembic would; the revisions' time inside Alembic."""
    return _upgrade(
        session,
        _alembic_order(session, state, revisions),
        scratch,
        deadline=time.monotonic() + config.max_duration,
        statement_timeout=config.statement_timeout,
    )


def _alembic_order(
    session: AlembicSession, state: ProjectState, revisions: tuple[str, ...]
) -> tuple[str, ...]:
    """The order plain ``alembic upgrade REV`` runs them in (``upgrade heads`` for a
    database at several: Neutron's contract revisions test for what its expand revisions
    made, so its replay in the graph's order built another schema: "DRIFTED: 99
    differences" right after the bot's own upgrade). Where Alembic walks other revisions
    or cannot walk there, the graph's order."""
    goal = state.current[0] if len(state.current) == 1 else HEADS
    try:
        walked = session.walk((), goal, Direction.UP)
    except AlembicError:
        return revisions
    return walked if sorted(walked) == sorted(revisions) else revisions


def _upgrade(
    session: AlembicSession,
    order: tuple[str, ...],
    scratch: DatabaseUrl,
    *,
    deadline: float,
    statement_timeout: float,
) -> float:
    """One env.py run over ``order``, stepped; the revisions' time inside Alembic. Stops
    before the first revision if env.py is not on ``scratch``: an env.py that builds its
    URL from settings of its own would replay onto the target (and an empty scratch
    database would read as a history that creates nothing); fails if none ran (env.py
    found them applied where it connected)."""
    env = {"PGOPTIONS": f"-c statement_timeout={postgres_interval(statement_timeout)}"}
    run = session.migrate(order, Direction.UP, env=env)
    spent, first = 0.0, True
    while (ready := run.next_revision(deadline=deadline)) is not None:
        if first and (where := target_connection(scratch, ready)) is not None:
            run.stop()
            raise ReplayError(
                f"{ELSEWHERE}: env.py connected to {where}, nothing was run. {HAND_URL}"
            )
        first = False
        spent += run.go(deadline=deadline).duration_s
    if first and order:  # env.py found them applied: it is on a database that has them
        raise ReplayError(
            f"{ELSEWHERE}: env.py ran none of its {len(order)} revisions on the scratch"
            f" database the bot handed it, so it connects elsewhere. {HAND_URL}"
        )
    return spent
