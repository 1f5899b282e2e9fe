"""Whether a backfill's batches compress the full-page images they write to the WAL.

After a checkpoint the first change to each page writes the whole page to the
WAL; a backfill changes every page of its table once, so a third of its WAL
was such images (``bench/backfill.py``, ``docs/benchmarks.md``), and each
application commit during a batch waits for that WAL to be flushed.
``wal_compression`` compresses them, but only a superuser may set it (or a
role granted ``SET ON PARAMETER wal_compression``, PostgreSQL 15+). So the
engine asks once, as it starts, whether its role may, and then sets it for
each batch's transaction only (``set_config(…, true)``: nothing outlives the
transaction, behind a transaction-pooling proxy too). Never a reason to fail:
without it the batches write what they would have written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import psycopg
from psycopg import errors as pg_errors

PREFERENCE = ("lz4", "zstd", "pglz", "on")  # fastest first; "on" is pglz before PostgreSQL 15
GRANT_HINT = "a superuser's setting; PostgreSQL 15+: GRANT SET ON PARAMETER wal_compression TO"


@dataclass(frozen=True)
class WalCompression:
    """The method each batch sets (None: none), and why, for the run's thread."""

    method: str | None
    note: str

    def to_json(self) -> dict[str, str | None]:
        return {"wal_compression": self.method, "wal_compression_note": self.note}


def choose(enabled: bool, current: str, offered: Sequence[str]) -> WalCompression:
    """What to set, from the spec's ``compress_wal``, the server's setting and the methods
    its build offers. Pure."""
    if not enabled:
        return WalCompression(None, "not compressed: compress_wal = false")
    if current not in ("off", "false", "0"):
        return WalCompression(None, f"the server compresses it already (wal_compression {current})")
    method = next((m for m in PREFERENCE if m in offered), None)
    if method is None:
        return WalCompression(None, "not compressed: the server was built without a method")
    return WalCompression(method, f"full-page images compressed with {method}")


def probe(conn: psycopg.Connection, enabled: bool) -> WalCompression:
    """The choice for this server and role: tried once in a transaction of its own."""
    row = conn.execute(
        "SELECT setting, enumvals FROM pg_settings WHERE name = 'wal_compression'"
    ).fetchone()
    if row is None:
        return WalCompression(None, "not compressed: the server has no wal_compression")
    chosen = choose(enabled, str(row[0]), row[1] or ("on",))  # a boolean before 15
    if chosen.method is None:
        return chosen
    try:
        with conn.transaction():
            conn.execute("SELECT set_config('wal_compression', %s, true)", (chosen.method,))
    except pg_errors.InsufficientPrivilege:
        role = conn.info.user
        return WalCompression(None, f"not compressed: {role} may not set it ({GRANT_HINT} {role})")
    return chosen
