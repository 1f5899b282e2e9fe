"""Text and JSON renderings of backups for the terminal. Pure functions."""

from __future__ import annotations

from typing import Any

from commands.backup.records import BackupRecord, Progress
from commands.units import format_duration


def format_size(size: int) -> str:
    """Bytes in the largest binary unit that keeps the number readable: '10.0 MiB'."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def revision_text(record: BackupRecord) -> str:
    return "+".join(record.revisions) or "base"


def backup_json(record: BackupRecord) -> dict[str, Any]:
    return {"id": record.id, "target": record.target, "created_at": record.created_at} | {
        key: value for key, value in record.event_data().items() if key != "backup_id"
    }


def backup_text(record: BackupRecord) -> str:
    took = format_duration(record.durations_s.get("total", 0.0))
    encryption = f", {record.encryption}" if record.encryption else ""
    return "\n".join(
        [
            f"Backup {record.id} of {record.target} at revision {revision_text(record)} ({took})",
            f"  {record.uri}",
            f"  {format_size(record.size)} ({record.format}, {record.compression}),"
            f" sha256 {record.sha256}{encryption}",
            f"  verified by {record.verified_by}; {len(record.row_counts)} tables counted",
            f"  restore it with: migrate-bot restore {record.target} {record.id} --yes",
        ]
    )


def backups_text(target: str, records: list[BackupRecord]) -> str:
    if not records:
        return f"{target} has no backups yet (take one with: migrate-bot backup {target})"
    rows = [("id", "time (UTC)", "revision", "size", "format", "location")]
    rows += [
        (
            r.id,
            r.created_at[:19].replace("T", " "),
            revision_text(r),
            format_size(r.size),
            r.format,
            r.uri,
        )
        for r in records
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join(
        "  ".join([*(cell.ljust(w) for cell, w in zip(row[:-1], widths, strict=True)), row[-1]])
        for row in rows
    )


def backup_list_json(records: list[BackupRecord]) -> list[dict[str, Any]]:
    return [
        {
            "id": r.id,
            "created_at": r.created_at,
            "revisions": list(r.revisions),
            "size_bytes": r.size,
            "format": r.format.value,
            "uri": r.uri,
            "sha256": r.sha256,
        }
        for r in records
    ]


def progress_text(progress: Progress) -> str:
    return f"  {progress.step.value}: {progress.message}"
