"""A target's backup keys, read from its config and checked against each other.

``backup`` is where dumps go (``file://DIR`` relative to the file, or
``s3://bucket[/prefix]``); the other keys tune retention, compression, the
restore test, parallel restores and S3 (endpoint, encryption, part size).
Kept apart so ``commands.config.targets_file`` stays one table of keys.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from commands.config.table import HTTP_URL, ConfigTable

S3_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
COMPRESSION_LEVELS = {"none": None, "gzip": (1, 9), "lz4": (1, 12), "zstd": (1, 22)}
ZSTD_DEFAULT_LEVEL = 1  # chosen by bench/backup.py: see docs/configuration.md
DEFAULT_COMPRESSION = f"zstd:{ZSTD_DEFAULT_LEVEL}"
S3_SSE = ("AES256", "aws:kms", "none")
S3_MIN_PART_MB, S3_MAX_PART_MB = 5, 5120
MAX_RESTORE_JOBS = 64


@dataclass(frozen=True)
class BackupCompression:
    """``backup_compression`` understood: ``zstd`` is the bot's own stream compressor;
    ``gzip`` and ``lz4`` are pg_dump's (level None: pg_dump's default); ``none`` stores
    the archive as pg_dump writes it."""

    method: str
    level: int | None

    def __str__(self) -> str:
        return self.method if self.level is None else f"{self.method}:{self.level}"


def parse_compression(text: str) -> BackupCompression | None:
    """``none``, ``METHOD`` or ``METHOD:LEVEL`` within the method's levels; None if not."""
    method, colon, level = text.partition(":")
    if method not in COMPRESSION_LEVELS:
        return None
    bounds = COMPRESSION_LEVELS[method]
    if bounds is None:
        return None if colon else BackupCompression(method, None)
    if not colon:
        return BackupCompression(method, ZSTD_DEFAULT_LEVEL if method == "zstd" else None)
    if level.isdigit() and bounds[0] <= int(level) <= bounds[1]:
        return BackupCompression(method, int(level))
    return None


def parse_backup_destination(table: ConfigTable) -> str:
    """``file://`` with an absolute folder (relative to the file), or ``s3://bucket[/prefix]``."""
    text = table.string("backup", "file://var/backups")
    if text.startswith("file://"):
        folder = text.removeprefix("file://")
        if not folder:
            raise table.error("backup", "file:// names no folder")
        return "file://" + (table.base / Path(folder).expanduser()).resolve().as_posix()
    if text.startswith("s3://"):
        bucket, _, prefix = text.removeprefix("s3://").partition("/")
        if not S3_BUCKET.match(bucket):
            raise table.error("backup", f"{bucket!r} is not a valid S3 bucket name")
        prefix = prefix.strip("/")
        return f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"
    if "://" not in text:  # a bare folder
        raise table.error(
            "backup", f'{text!r} must start with file:// or s3:// (a folder: "file://{text}")'
        )
    raise table.error("backup", f"{text!r} must start with file:// or s3://")


def _compression(table: ConfigTable) -> str:
    text: str = table.string("backup_compression", DEFAULT_COMPRESSION)
    if parse_compression(text) is None:
        raise table.error(
            "backup_compression",
            f"{text!r} is not one of zstd[:1-22], gzip[:1-9], lz4[:1-12], none",
        )
    return text


def parse_backup_settings(table: ConfigTable) -> dict[str, Any]:
    """The backup keys of a target, checked against each other."""
    sse = table.string("s3_sse", "AES256")
    if sse not in S3_SSE:
        raise table.error("s3_sse", f"{sse!r} is not one of {', '.join(S3_SSE)}")
    kms_key_id = table.string("s3_kms_key_id")
    if kms_key_id is not None and sse != "aws:kms":
        raise table.error("s3_kms_key_id", 'is only used with s3_sse = "aws:kms"')
    part_size = table.integer("s3_part_size_mb", 16, minimum=S3_MIN_PART_MB)
    if part_size > S3_MAX_PART_MB:
        raise table.error("s3_part_size_mb", f"must be at most {S3_MAX_PART_MB}, not {part_size}")
    restore_jobs = table.integer("restore_jobs", 1, minimum=1)
    if restore_jobs > MAX_RESTORE_JOBS:
        raise table.error("restore_jobs", f"must be at most {MAX_RESTORE_JOBS}, not {restore_jobs}")
    return {
        "backup_keep": table.integer("backup_keep", 10, minimum=1),
        "backup_compression": _compression(table),
        "verify_restore": table.get("verify_restore", bool, False),
        "restore_jobs": restore_jobs,
        "pg_bin_dir": table.path("pg_bin_dir"),
        "s3_endpoint_url": table.string("s3_endpoint_url", None, HTTP_URL),
        "s3_sse": sse,
        "s3_kms_key_id": kms_key_id,
        "s3_part_size_mb": part_size,
    }
