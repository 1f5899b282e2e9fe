"""``migrate-bot backup``, ``backups`` and ``restore`` end to end on a real PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli import main
from commands.demo.data import fill_demo_data
from commands.errors import ExitCode
from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_backup_list_and_restore_from_the_command_line(
    capsys: pytest.CaptureFixture[str], config_file: Path, fresh_db: DatabaseUrl
) -> None:
    code, out, _ = run(capsys, "backups", "app")
    assert code == ExitCode.OK and "app has no backups yet" in out
    run(capsys, "upgrade", "app", "--yes")  # the pipeline backs up first: one backup already
    fill_demo_data(fresh_db, rows=500)

    code, out, err = run(capsys, "backup", "app", "--json")
    backup = json.loads(out)
    assert code == ExitCode.OK, err
    assert backup["uri"] == f"file://{config_file.parent / 'backups' / backup['name']}"
    assert backup["row_counts"]["public.segments"] == 500
    code, out, err = run(capsys, "backup", "app")
    assert code == ExitCode.OK and "tools: pg_dump 18." in err
    assert "verify: read in full by pg_restore" in err
    assert "custom+zstd archive, zstd level 1 on" in err and "(custom+zstd, zstd:1)" in out
    second_id = out.split()[1]
    assert f"restore it with: migrate-bot restore app {second_id} --yes" in out

    code, out, _ = run(capsys, "backups", "app", "--json")
    listed = json.loads(out)
    assert [b["id"] for b in listed][:2] == [second_id, backup["id"]] and len(listed) == 3
    assert listed[1] == {
        "id": backup["id"],
        "created_at": backup["created_at"],
        "revisions": backup["revisions"],
        "size_bytes": backup["size_bytes"],
        "format": "custom+zstd",
        "uri": backup["uri"],
        "sha256": backup["sha256"],
    }
    code, out, _ = run(capsys, "backups", "app")
    header, *rows = out.splitlines()
    assert header.split() == ["id", "time", "(UTC)", "revision", "size", "format", "location"]
    assert rows[1].split()[0] == backup["id"] and rows[1].endswith(f"custom+zstd  {backup['uri']}")

    with connect(fresh_db) as conn:
        conn.execute("DELETE FROM segments")
    code, _, err = run(capsys, "restore", "app", backup["id"])  # no --yes, no terminal
    assert code == ExitCode.BAD_INPUT and "--yes" in err
    code, _, err = run(capsys, "restore", "app", "zzzzzz", "--yes")
    assert code == ExitCode.BAD_INPUT and "app has no backup 'zzzzzz'" in err
    code, out, err = run(capsys, "restore", "app", backup["id"], "--yes")
    assert code == ExitCode.OK, err
    assert "(break-glass) restore app" in out and f"restore backup {backup['id']}" in out
    assert "Succeeded: app is at" in out and "row_counts: 5 tables match" in out
    with connect(fresh_db) as conn:
        assert conn.execute("SELECT count(*) FROM segments").fetchone() == (500,)


def test_a_failed_backup_exits_non_zero_with_the_reason(
    capsys: pytest.CaptureFixture[str], config_file: Path
) -> None:
    config_file.write_text(config_file.read_text().replace("file://backups", "file:///dev/null/b"))
    code, _, err = run(capsys, "backup", "app")
    assert code == ExitCode.FAILED
    assert "error: cannot write backups in /dev/null/b: it is not a folder" in err
    code, out, _ = run(capsys, "backups", "app", "--json")
    assert json.loads(out) == []
