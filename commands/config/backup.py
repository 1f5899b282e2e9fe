"""A target's backup keys, read from its config and checked against each other.

``backup`` is where dumps go (``file://DIR`` relative to the file, or
``s3://bucket[/prefix]``); the other keys tune retention, compression, the
restore test and S3 (endpoint, encryption, part size). Kept apart so
``commands.config.targets_file`` stays one table of keys.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from commands.config.table import HTTP_URL, ConfigTable

S3_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
COMPRESSION_LEVELS = {"none": None, "gzip": (1, 9), "lz4": (1, 12), "zstd": (1, 22)}
S3_SSE = ("AES256", "aws:kms", "none")
S3_MIN_PART_MB, S3_MAX_PART_MB = 5, 5120


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
    text = table.string("backup_compression", "gzip:1")
    method, colon, level = text.partition(":")
    if method in COMPRESSION_LEVELS:
        bounds = COMPRESSION_LEVELS[method]
        if not colon:
            return text
        if bounds and level.isdigit() and bounds[0] <= int(level) <= bounds[1]:
            return text
    raise table.error(
        "backup_compression", f"{text!r} is not one of none, gzip[:1-9], lz4[:1-12], zstd[:1-22]"
    )


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
    return {
        "backup_keep": table.integer("backup_keep", 10, minimum=1),
        "backup_compression": _compression(table),
        "verify_restore": table.get("verify_restore", bool, False),
        "pg_bin_dir": table.path("pg_bin_dir"),
        "s3_endpoint_url": table.string("s3_endpoint_url", None, HTTP_URL),
        "s3_sse": sse,
        "s3_kms_key_id": kms_key_id,
        "s3_part_size_mb": part_size,
    }
