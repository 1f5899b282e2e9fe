"""Who compresses a backup, and how: the bot's zstd stream, or pg_dump itself.

``backup_compression = "zstd:N"`` (the default, ``zstd:1``) asks pg_dump for
an uncompressed archive and compresses the stream with zstd on every core
(``custom+zstd``), whatever pg_dump was built with: a pg_dump built with
zstd (PostgreSQL 16+) compressing its own archive measured no faster on 2
cores (``bench/backup.py --native-pg-bin``), and one format whatever the
tools keeps restores simple. ``gzip[:N]`` and ``lz4[:N]`` are pg_dump's own
compression, as before (``custom``: any pg_restore reads the file directly,
gzip at several times the cost); ``none`` stores the archive as pg_dump
writes it.
"""

from __future__ import annotations

from dataclasses import dataclass

from commands.backup.records import ArchiveFormat, BackupError
from commands.backup.stream_codec import available_cores
from commands.config.backup import parse_compression
from commands.postgres.pg_tools import PgTools, pg_dump_compresses_with


@dataclass(frozen=True)
class DumpCompression:
    """How one backup is compressed: pg_dump's ``--compress`` and the bot's stream."""

    pg_dump_compress: str
    format: ArchiveFormat
    zstd_level: int | None = None  # the bot's stream; None when it stores what pg_dump wrote

    def describe(self) -> str:
        if self.zstd_level is not None:
            return f"zstd level {self.zstd_level} on {available_cores()} threads"
        if self.pg_dump_compress == "0":
            return "no compression"
        return f"pg_dump's {self.pg_dump_compress}"


def pg_dump_compressed(record_compression: str, archive_format: ArchiveFormat) -> str | None:
    """The method pg_dump compressed a recorded backup with, if not every pg_restore knows
    it: lz4, or zstd (before the stream, ``zstd:N`` went to pg_dump)."""
    compression = parse_compression(record_compression)
    if archive_format is not ArchiveFormat.CUSTOM or compression is None:
        return None
    return compression.method if compression.method in ("zstd", "lz4") else None


def plan_compression(setting: str, tools: PgTools) -> DumpCompression:
    """The plan for ``backup_compression = setting`` with these tools.

    Raises ``BackupError`` when ``setting`` asks pg_dump for gzip or lz4 and it
    was built without them.
    """
    compression = parse_compression(setting)
    if compression is None:  # the targets file was checked when read: a bug if reached
        raise BackupError(f"backup_compression {setting!r} is not understood")
    if compression.method == "zstd":
        return DumpCompression("0", ArchiveFormat.CUSTOM_ZSTD, compression.level)
    if compression.method == "none":
        return DumpCompression("0", ArchiveFormat.CUSTOM)
    if not pg_dump_compresses_with(tools, compression.method):
        raise BackupError(
            f'backup_compression = "{setting}" asks pg_dump {tools.version} ({tools.bin_dir})'
            f" for {compression.method}, which it was built without: use zstd[:N] (the bot"
            f" compresses the stream itself) or set pg_bin_dir to a pg_dump built with"
            f" {compression.method}"
        )
    return DumpCompression(str(compression), ArchiveFormat.CUSTOM)
