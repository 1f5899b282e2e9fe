"""Where the bot's state lives: a SQLite file, or a PostgreSQL database named by an
environment variable; and where the SQLite file is replicated to. Plain data, so the
config can say it without importing how either is opened."""

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


@dataclass(frozen=True)
class StateReplica:
    """``[bot] state_replica``: ``s3://bucket[/prefix]`` or ``file:///absolute/folder``,
    and for S3-compatible stores the endpoint to use instead of AWS's. Credentials are
    never here: the replicator takes AWS's usual environment variables."""

    url: str
    endpoint_url: str | None = None

    @property
    def is_s3(self) -> bool:
        return self.url.startswith("s3://")

    @property
    def bucket(self) -> str:
        return self.url.removeprefix("s3://").partition("/")[0]

    @property
    def prefix(self) -> str:
        """The S3 prefix (no slashes at either end), or the folder of a ``file://`` one."""
        if self.is_s3:
            return self.url.removeprefix("s3://").partition("/")[2]
        return self.url.removeprefix("file://")

    def __str__(self) -> str:
        return self.url if self.endpoint_url is None else f"{self.url} at {self.endpoint_url}"
