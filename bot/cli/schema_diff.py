"""``requests ID --schema-diff``: a run's stored schema diff, proven against its event."""

from __future__ import annotations

from typing import Any

from bot.cli.output import Output
from commands.config.targets_file import Config
from commands.errors import ExitCode
from commands.schema.evidence import StoredDiff, schema_diffs_of
from commands.state.audit_log import open_audit_log
from commands.state.schema_diffs import SchemaDiffs


def show_schema_diffs(config: Config, request_id: str, out: Output) -> int:
    """Print each diff the request's run recorded; exit 1 when one is missing or altered."""
    store = open_audit_log(config.bot.state)
    try:
        found = schema_diffs_of(store, SchemaDiffs(config.bot.state), request_id)
    finally:
        store.close()
    out.emit(
        found,
        render_json=lambda diffs: {"request": request_id, "diffs": [_json(d) for d in diffs]},
        render_text=lambda diffs: _text(request_id, diffs),
    )
    return int(ExitCode.FAILED if any(d.problem for d in found) else ExitCode.OK)


def _json(stored: StoredDiff) -> dict[str, Any]:
    event = stored.event
    return {
        "target": event.target,
        "event_seq": event.seq,
        "sha256": stored.sha256,
        "verified": stored.problem is None,
        "problem": stored.problem,
        "summary": event.data.get("summary"),
        "diff": stored.changes.to_json() if stored.changes else None,
    }


def _text(request_id: str, found: list[StoredDiff]) -> str:
    if not found:
        return (
            f"{request_id} recorded no schema diff (it did not run, or ran before they were kept)"
        )
    blocks = []
    for stored in found:
        event = stored.event
        head = [
            f"{event.target}: {event.data.get('summary')}"
            f" (audit event #{event.seq}, sha256 {stored.sha256})",
        ]
        if stored.problem or stored.changes is None:
            blocks.append("\n".join([*head, f"  NOT VERIFIED: {stored.problem}"]))
            continue
        head.append("  the stored diff hashes to the sha256 the audit event recorded")
        unified = stored.changes.unified(before_label="before the run", after_label="after the run")
        blocks.append("\n".join([*head, *stored.changes.lines(), "", unified or "(no change)"]))
    return "\n\n".join(blocks)
