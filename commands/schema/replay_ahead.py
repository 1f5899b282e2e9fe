"""The drift check's replay, started while the plan is still being made.

A break-glass ``upgrade`` plans in one Alembic child, then runs the
pre-flight, whose drift check replays the history on a scratch database in a
second one: that child's start-up (its interpreter, Alembic, the project's
imports) was about half a second on the run's path (``bench/long_history.py``).
Started here beside the plan's child, that start-up overlaps the plan; once
the plan knows the revisions the database holds (``replay``), they are run in
the background and the schema kept in the replay cache, where the drift check
finds it, or waits for it (``replaying``). When the cache already holds that
schema, or no plan comes, the child is ended and its scratch database dropped
unused. A replay that fails here leaves the cache as it was: the drift check
replays again and reports the failure as it always does.

The child is the project's own, on a database of its own: never the plan's
child, whose env.py may keep the target's URL in modules it imported.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import psycopg

from commands.config.drift import DriftMode
from commands.errors import MigrateBotError
from commands.migration.runtime.runner import AlembicRunner, AlembicSession, ProjectState
from commands.postgres.database_url import DatabaseUrl
from commands.postgres.scratch import DRIFT, scratch_database
from commands.schema.catalog import read_schema
from commands.schema.history import replay_errors, replay_identity, replay_in
from commands.schema.replay_cache import ReplayCache, replaying
from commands.targets import TargetHandle

log = logging.getLogger(__name__)


class ReplayAhead:
    """A scratch database and an Alembic child on it, made in the background (``early``: at
    once, before the revisions are known; else only once a replay is needed), and the
    replay of the revisions it is given."""

    def __init__(self, handle: TargetHandle, cache: ReplayCache, *, early: bool) -> None:
        self.handle = handle
        self.cache = cache
        self.url: DatabaseUrl | None = None
        self.session: AlembicSession | None = None
        self._resources = ExitStack()  # the child, then the scratch database: ended in order
        self._opening = threading.Thread(target=self._open, name="replay-ahead-open", daemon=True)
        self._replaying: threading.Thread | None = None
        if early:  # CREATE DATABASE and the child's start stay off the caller's path
            self._opening.start()

    def _open(self) -> None:
        try:
            self.url = self._resources.enter_context(
                scratch_database(self.handle.database, DRIFT, secrets.token_hex(4))
            )
            runner = AlembicRunner(self.handle.config.alembic, self.url)
            self.session = self._resources.enter_context(runner.session())
        except (MigrateBotError, psycopg.Error) as exc:  # the drift check says why, as always
            log.info("no replay ahead for %s: %s", self.handle.name, exc)

    def replay(self, state: ProjectState) -> None:
        """Replay ``state.current``'s revisions in the background, unless already cached.

        The cache key's lock is taken here, before returning, so a drift check
        that starts at once waits for this replay instead of starting its own.
        """
        if self._replaying is not None:
            return
        revisions, key = replay_identity(self.handle, state)
        lock = replaying(key)
        lock.acquire()
        if not revisions or self.cache.get(key) is not None:
            lock.release()  # nothing to replay ahead: the drift check needs no child for none
            self.close()
            return
        self._replaying = threading.Thread(
            target=self._replay,
            args=(state, revisions, key, lock),
            name=f"replay-ahead-{self.handle.name}",
            daemon=True,
        )
        self._replaying.start()

    def _replay(
        self, state: ProjectState, revisions: tuple[str, ...], key: str, lock: threading.Lock
    ) -> None:
        try:
            self._opened()
            session = self.session
            if session is None:  # no scratch database or child: the drift check says why
                return
            assert self.url is not None, "opened with the session"
            with replay_errors():
                replay_in(session, self.handle.config, state, revisions, self.url)
                session.close()
                self.cache.put(key, read_schema(self.url))
        except (MigrateBotError, psycopg.Error) as exc:
            log.info("the replay ahead of %s failed (the drift check retries): %s", key, exc)
        finally:
            lock.release()
            self._end()

    def _opened(self) -> None:
        """The scratch database and the child, made now unless made early."""
        if self._opening.ident is not None:
            self._opening.join()
        else:
            self._open()

    def close(self) -> None:
        """Wait for a replay in flight, then end the child and drop the scratch database."""
        if self._opening.ident is not None:
            self._opening.join()
        if self._replaying is not None:
            self._replaying.join()
        self._end()

    def _end(self) -> None:
        try:
            self._resources.close()
        except (MigrateBotError, psycopg.Error) as exc:  # the next start-up drops it
            log.warning("cannot drop the drift check's scratch database: %s", exc)


@contextmanager
def replay_ahead(
    handle: TargetHandle, cache: ReplayCache, *, early: bool = False
) -> Iterator[ReplayAhead | None]:
    """A ``ReplayAhead`` for ``handle``, or None when its drift check is off. ``early``
    starts its child at once: the plan's child then starts beside it (a break-glass run),
    at the cost of one child started for nothing when the cache already has the schema."""
    if handle.config.drift.mode is DriftMode.OFF:
        yield None
        return
    ahead = ReplayAhead(handle, cache, early=early)
    try:
        yield ahead
    finally:
        ahead.close()
