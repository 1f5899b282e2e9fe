"""The backup keys of a target: defaults, normalised destinations, errors naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from commands.config.backup import BackupCompression, parse_compression
from commands.config.targets_file import parse_config
from commands.errors import ConfigError
from tests.support.backup_targets import target_toml


def target(**settings: object):
    return parse_config(target_toml(**settings), source="bot.toml", base=Path("/srv/bot")).target(
        "app"
    )


def test_defaults_and_normalised_destinations() -> None:
    app = target()
    assert app.backup == "file:///srv/bot/var/backups"
    assert (app.backup_keep, app.backup_compression, app.verify_restore) == (10, "zstd:1", False)
    assert app.restore_jobs == 1 and target(restore_jobs=4).restore_jobs == 4
    assert (app.s3_sse, app.s3_kms_key_id, app.s3_part_size_mb) == ("AES256", None, 16)
    assert app.pg_bin_dir is None and app.s3_endpoint_url is None
    assert target(backup="file:///var/b").backup == "file:///var/b"
    assert target(backup="s3://my-bucket/a/b/").backup == "s3://my-bucket/a/b"
    assert target(backup="s3://my-bucket").backup == "s3://my-bucket"
    assert target(pg_bin_dir="pg/bin").pg_bin_dir == Path("/srv/bot/pg/bin")
    kms = target(s3_sse="aws:kms", s3_kms_key_id="alias/backups")
    assert (kms.s3_sse, kms.s3_kms_key_id) == ("aws:kms", "alias/backups")
    for compression in ("none", "gzip", "gzip:1", "gzip:9", "lz4:12", "zstd", "zstd:22"):
        assert target(backup_compression=compression).backup_compression == compression


def test_compression_settings_say_who_compresses_and_how_hard() -> None:
    """zstd without a level is the bot's default level; gzip and lz4 without one are
    left to pg_dump's own default."""
    assert parse_compression("zstd") == BackupCompression("zstd", 1)
    assert parse_compression("zstd:19") == BackupCompression("zstd", 19)
    assert parse_compression("gzip") == BackupCompression("gzip", None)
    assert str(parse_compression("gzip:1")) == "gzip:1" and str(parse_compression("lz4")) == "lz4"
    assert parse_compression("none") == BackupCompression("none", None)
    for bad in ("zstd:0", "zstd:23", "gzip:x", "none:1", "brotli", "", "zstd:"):
        assert parse_compression(bad) is None, bad


@pytest.mark.parametrize(
    ("settings", "key", "problem"),
    [
        ({"backup": "s3://Bad_Bucket/x"}, "backup", "not a valid S3 bucket name"),
        ({"backup": "file://"}, "backup", "names no folder"),
        ({"backup_keep": 0}, "backup_keep", "at least 1"),
        ({"backup_compression": "gzip:0"}, "backup_compression", "is not one of zstd[:1-22]"),
        ({"backup_compression": "none:3"}, "backup_compression", "is not one of"),
        ({"backup_compression": "brotli"}, "backup_compression", "is not one of"),
        ({"verify_restore": "yes"}, "verify_restore", "must be true or false"),
        ({"restore_jobs": 0}, "restore_jobs", "at least 1"),
        ({"restore_jobs": 65}, "restore_jobs", "at most 64"),
        ({"restore_jobs": "4"}, "restore_jobs", "must be an integer"),
        ({"s3_sse": "aes256"}, "s3_sse", "is not one of AES256, aws:kms, none"),
        ({"s3_kms_key_id": "k"}, "s3_kms_key_id", 'only used with s3_sse = "aws:kms"'),
        ({"s3_part_size_mb": 4}, "s3_part_size_mb", "at least 5"),
        ({"s3_part_size_mb": 6000}, "s3_part_size_mb", "at most 5120"),
        ({"s3_endpoint_url": "minio:9000"}, "s3_endpoint_url", "is not valid"),
    ],
)
def test_errors_name_the_key(settings: dict[str, object], key: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        target(**settings)
    assert caught.value.key == f"targets.app.{key}"
    assert problem in str(caught.value)
