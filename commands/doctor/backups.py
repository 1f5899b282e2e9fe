"""Each target's backup destination, proven by doing what a backup does: a small file
written, committed under its name, then deleted."""

from __future__ import annotations

import secrets

from commands.backup.storage import StorageError, open_destination
from commands.config.targets_file import Config, TargetConfig
from commands.doctor.finding import Finding, fail, ok

PROBE = b"migrate-bot doctor: this file is deleted right after it is written\n"


def check_backups(config: Config) -> list[Finding]:
    return [check_backup(target) for target in config.targets.values()]


def check_backup(target: TargetConfig) -> Finding:
    check = f"backups {target.name}"
    try:
        destination = open_destination(target)
        destination.check()  # as a backup starts: the folder made, the bucket there
        writer = destination.writer(f"migrate-bot-doctor-{secrets.token_hex(4)}.probe")
        try:
            writer.write(PROBE)
            stored = writer.commit()
        except BaseException:
            writer.abort()
            raise
        destination.delete(stored.uri)
    except StorageError as exc:
        return fail(check, f"{target.backup}: {exc}", _fix(target))
    return ok(check, f"{target.backup}: a file was written and deleted")


def _fix(target: TargetConfig) -> str:
    if target.backup.startswith("s3://"):
        return (
            "check the bucket, its region or s3_endpoint_url, and the bot's AWS credentials:"
            " it needs s3:PutObject, s3:GetObject, s3:DeleteObject, s3:ListBucket and"
            " s3:AbortMultipartUpload on the bucket (docs/backups.md)"
        )
    return "make the folder writable by the bot's user, or point backup elsewhere"
