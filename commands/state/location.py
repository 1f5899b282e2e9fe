"""Where the bot's state lives: a SQLite file, or a PostgreSQL database named by an
environment variable. Plain data, so the config can say it without importing how
either is opened."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class StateLocation:
    """``[bot] state_path`` and ``state_url_env``: with ``url_env`` the state is shared."""

    path: Path
    url_env: str | None = None

    @property
    def shared(self) -> bool:
        return self.url_env is not None
