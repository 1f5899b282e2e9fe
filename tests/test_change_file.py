"""Change files and backfill keys: parsed in full, with errors naming the file and the key;
the quiet period's judgement and the upgrade guard, as pure functions."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from audit.chain import Event
from commands.changes.change_file import PhaseKind, read_change
from commands.changes.guard import first_blocked
from commands.changes.model import fold_change
from commands.changes.quiet import Reading, judge
from commands.config.targets_file import BUNDLED_MIGRATIONS, parse_config
from commands.errors import ConfigError
from commands.migration.script.revision_graph import Revision, RevisionGraph
from commands.state.vocabulary import EventKind

DEMO_CHANGE = BUNDLED_MIGRATIONS / "changes" / "rename-youtube-id.toml"
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def test_the_bundled_rename_change_is_the_runbooks_pattern() -> None:
    spec = read_change(DEMO_CHANGE)
    kinds = [phase.kind for phase in spec.phases]
    assert kinds == [
        PhaseKind.MIGRATE,
        PhaseKind.DEPLOY,
        PhaseKind.BACKFILL,
        PhaseKind.DEPLOY,
        PhaseKind.GATE,
        PhaseKind.MIGRATE,
    ]
    assert spec.phases[4].waits_for == (
        "nothing reads or writes videos.youtube_id for 2 min; backfill copy has nothing left to do"
    )
    assert len(spec.sha256) == 64 and spec.stale_after == 86400


def _change(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "a-change.toml"
    path.write_text(textwrap.dedent(text))
    return path


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ("phases = []", "description", "is required"),
        ('description = "x"\nphases = []', "phases", "list at least one"),
        ('description = "x"\n[[phases]]\nname = "a"', "phases[0].name", "exactly one of"),
        (
            'description = "x"\n[[phases]]\nname = "a"\nmigrate = "abcd"\ndeploy = "y"',
            "phases[0].name",
            "exactly one of",
        ),
        (
            'description = "x"\n[[phases]]\nname = "a"\nmigrate = "abcd"\nmigarte = 1',
            "phases[0].migarte",
            "did you mean 'migrate'",
        ),
        (
            'description = "x"\n[[phases]]\nname = "a"\n[phases.backfill]\ntable = "t"\nkey = "id"'
            '\nset = "a = 1; DROP TABLE t"\nwhere = "true"',
            "phases[0].backfill.set",
            "has a ';'",
        ),
        (
            'description = "x"\n[[phases]]\nname = "a"\n[phases.backfill]\ntable = "t"\nkey = "id"'
            '\nset = "a = 1"\nwhere = "a IS NULL) OR (true"',
            "phases[0].backfill.where",
            "closes a parenthesis",
        ),
        (
            'description = "x"\n[[phases]]\nname = "a"\n[phases.backfill]\ntable = "t"\nkey = "id"'
            '\nset = "a = b.x FROM b"\nwhere = "true"',
            "phases[0].backfill.set",
            "has a FROM",
        ),
        (
            'description = "x"\n[[phases]]\nname = "a"\n[phases.gate]\nbackfill_done = "copy"',
            "phases[0].gate.backfill_done[0]",
            "'copy' is not a backfill phase before this gate",
        ),
        (
            'description = "x"\n[[phases]]\nname = "a"\n[phases.gate]\nsql = ["DELETE FROM t"]',
            "phases[0].gate.sql[0]",
            "must be one SELECT",
        ),
        (
            'description = "x"\n[[phases]]\nname = "a"\n[phases.gate]\nquiet_for = "1h"',
            "phases[0].gate.unused",
            "at least one of",
        ),
    ],
)
def test_a_bad_change_file_names_the_key(tmp_path: Path, text: str, key: str, problem: str) -> None:
    path = _change(tmp_path, text)
    with pytest.raises(ConfigError, match="does not exist|" + problem) as caught:
        read_change(path)
    assert caught.value.key == key and caught.value.path == str(path)


def test_backfills_in_the_targets_file_are_checked_with_their_key(tmp_path: Path) -> None:
    base = f"""
        [targets.app]
        database_url_env = "APP_URL"
        script_location = "{BUNDLED_MIGRATIONS.as_posix()}"
        approvers = ["U0BOB"]
        [targets.app.backfills.copy-id]
        table = "videos"
        key = "id"
        set = "youtube_video_id = youtube_id"
        where = "youtube_video_id IS NULL"
        """
    config = parse_config(textwrap.dedent(base), source="t.toml", base=tmp_path)
    spec = config.target("app").backfills["copy-id"]
    assert (spec.batch_time, spec.max_batch_time, spec.max_rows_per_second) == (0.2, 0.4, None)
    assert config.target("app").changes_dir == BUNDLED_MIGRATIONS.parent / "changes"
    bad = base + 'batch_tme = "1s"\n'
    with pytest.raises(ConfigError) as caught:
        parse_config(textwrap.dedent(bad), source="t.toml", base=tmp_path)
    assert caught.value.key == "targets.app.backfills.copy-id.batch_tme"
    assert "did you mean 'batch_time'" in str(caught.value)
    keyed = base.replace('set = "youtube_video_id', 'set = "id = id, youtube_video_id')
    with pytest.raises(ConfigError, match="assigns the key id"):
        parse_config(textwrap.dedent(keyed), source="t.toml", base=tmp_path)


def _reading(minutes: float, **calls: int) -> Reading:
    return Reading(T0 + timedelta(minutes=minutes), calls)


def test_the_quiet_period_starts_at_the_last_sample_whose_counts_moved() -> None:
    first = judge([], _reading(0, q1=10))
    assert first.record and first.since == T0  # nothing known before the first look
    samples = [_reading(0, q1=10)]
    same = judge(samples, _reading(30, q1=10))
    assert not same.record and same.since == T0 and same.held(T0 + timedelta(hours=1), 3600)
    used = judge(samples, _reading(45, q1=11))
    assert used.record and used.since == T0 + timedelta(minutes=45)
    assert used.used_between == (T0, T0 + timedelta(minutes=45))
    samples.append(_reading(45, q1=11))
    evicted = judge(samples, _reading(50))  # gone from the statistics: counted as a change
    assert evicted.record and not evicted.held(T0 + timedelta(minutes=60), 3600)


def _revision(rev: str, parent: str | None) -> Revision:
    return Revision(rev, (parent,) if parent else (), (), (), rev, f"{rev}.py")


def test_an_ordinary_upgrade_stops_before_the_revisions_of_a_phase_still_waiting() -> None:
    graph = RevisionGraph(
        [
            _revision("r001", None),
            _revision("r002", "r001"),
            _revision("r003", "r002"),
            _revision("r004", "r003"),
            _revision("r005", "r004"),
        ]
    )
    spec = read_change(DEMO_CHANGE).to_json()
    spec["phases"][0]["revision"], spec["phases"][5]["revision"] = "r002", "r004"
    started = Event(
        1,
        T0.isoformat(),
        "C-1",
        "app",
        "U0ALICE",
        EventKind.CHANGE_STARTED,
        {"spec": spec},
        "0",
        "h1",
    )
    change = fold_change([started])
    assert first_blocked(["r002"], [change], graph) is None  # phase 1: nothing before it
    block = first_blocked(["r002", "r003", "r004", "r005"], [change], graph)
    assert block is not None and block.revision == "r003"
    assert block.reason.startswith(
        "r003 belongs to phase 6 (drop-old) of change rename-youtube-id (C-1), which waits"
        " for phase 1 (add-column, migrate)"
    )
