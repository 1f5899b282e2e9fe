"""Compatibility suite, part 1: what a project's revisions do (tests/compat/README.md).

SQL that cannot be rendered offline is a preview, never a gate; verification
judges the database, not the parser; a broken downgrade goes as far as it can;
env.py's own transaction does not hide the failure point.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from commands.checks import Verdict
from commands.pipeline.progress import RunStep
from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl
from commands.state.vocabulary import RequestState
from tests.support.compat import compat_target
from tests.support.databases import create_database, drop_database


def columns(database: DatabaseUrl, table: str) -> list[str]:
    with connect(database) as conn:
        rows = conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s"
            " ORDER BY ordinal_position",
            (table,),
        ).fetchall()
    return [row[0] for row in rows]


def test_revisions_without_offline_sql_are_shown_as_such_and_run(
    tmp_path: Path, fresh_db: DatabaseUrl
) -> None:
    target = compat_target("offline_preview", tmp_path, fresh_db)
    plan = target.plan()
    assert [r.id for r in plan.revisions] == ["a100", "a200", "a300", "a400", "a500"]
    assert set(plan.unavailable) == {"a200", "a300", "a400"}  # and rendering went on after each
    assert "fetchone" in plan.unavailable["a200"]
    line = "(at migrations/versions/a200_plans_tier.py:"  # the project's line that raised it
    assert line in plan.unavailable["a200"], plan.unavailable["a200"]
    assert plan.sql_note(plan.revisions[2]) == (
        f"SQL not available offline: {plan.unavailable['a300']}; read versions/a300_plans_index.py"
    )
    assert "CREATE TABLE plans" in plan.sql["a100"]
    assert "ADD COLUMN note" in plan.sql["a500"]

    report = target.check()
    lint = report.result("lint")
    assert lint.verdict is Verdict.WARN and not report.blocks
    assert "3 revision(s) not linted" in lint.summary
    assert any(
        line.startswith("not linted: a300: SQL not available offline") for line in lint.details
    )

    outcome = target.upgrade()
    assert outcome.state is RequestState.SUCCEEDED, outcome.error
    assert [a.revision for a in outcome.applied] == ["a100", "a200", "a300", "a400", "a500"]
    assert columns(fresh_db, "plans") == ["id", "name", "tier", "slug", "note"]
    with connect(fresh_db) as conn:
        assert conn.execute("SELECT slug, tier FROM plans ORDER BY id").fetchall() == [
            ("free", 12),
            ("pro", 22),
        ]

    down = target.downgrade("base")
    assert down.state is RequestState.SUCCEEDED, down.error
    assert down.database_revisions == ()


def test_a_change_the_parser_cannot_predict_is_a_warning_not_a_failed_run(
    tmp_path: Path, fresh_db: DatabaseUrl
) -> None:
    target = compat_target("do_block", tmp_path, fresh_db)
    assert target.upgrade("b100").state is RequestState.SUCCEEDED
    outcome = target.upgrade()
    assert outcome.state is RequestState.SUCCEEDED, outcome.error
    catalog = next(line for line in outcome.verification if " catalog: " in line)
    assert catalog.startswith(
        "WARN catalog: constraint accounts_email_key on public.accounts removed"
    )
    assert "not predicted: b200 runs a DO block" in catalog
    assert target.plain("upgrade", "head").returncode == 0  # plain Alembic agrees: nothing wrong


def test_a_broken_downgrade_goes_as_far_as_it_can_and_names_the_revision(
    tmp_path: Path, fresh_db: DatabaseUrl
) -> None:
    target = compat_target("broken_downgrade", tmp_path, fresh_db)
    assert target.upgrade().state is RequestState.SUCCEEDED

    plan = target.plan("base", down=True)
    assert "c300" in plan.unavailable  # its downgrade cannot compile offline: not a refusal
    assert not target.check_down("base").blocks

    outcome = target.downgrade("base")
    assert outcome.state is RequestState.FAILED and outcome.failed_step is RunStep.APPLY
    assert [a.revision for a in outcome.applied] == ["c400"]
    assert outcome.error is not None
    assert "CompileError" in outcome.error and "it has no name" in outcome.error
    # the step and the line of the project's own code, not Alembic's or SQLAlchemy's
    assert outcome.error.startswith("c300 (versions/c300_users_team.py:18) failed: CompileError")
    assert outcome.database_revisions == ("c300",)  # left at the broken revision
    assert [offer.kind for offer in outcome.rollback] == ["upgrade", "restore"]

    plain = target.plain("downgrade", "base")  # plain Alembic stops at the same revision
    assert plain.returncode != 0
    assert 'c300_users_team.py", line' in plain.stderr  # its traceback is in c300
    assert "it has no name" in plain.stderr


def test_env_py_in_one_transaction_still_fails_at_the_right_revision(
    tmp_path: Path, fresh_db: DatabaseUrl
) -> None:
    target = compat_target("one_transaction", tmp_path, fresh_db)
    outcome = target.upgrade()
    assert outcome.state is RequestState.FAILED
    # the revision, its file and the line of the project's code that raised
    assert outcome.error is not None
    assert "m300 (versions/m300_jobs_owner.py:13) failed" in outcome.error
    # each revision commits on its own (env.py's transaction_per_migration=False is
    # overridden): the two good ones stay, the failing one rolled back
    assert outcome.database_revisions == ("m200",)
    assert columns(fresh_db, "jobs") == ["id", "state"]

    plain = target.plain("upgrade", "head")
    assert plain.returncode != 0 and 'm300_jobs_owner.py", line' in plain.stderr


# Long case: a branched history beside plain Alembic, step by step.
# Merges are walked in CI by test_alembic_runner.
@pytest.mark.slow
def test_parallel_branches_run_in_plain_alembic_s_order(
    tmp_path: Path, fresh_db: DatabaseUrl, pg_server: DatabaseUrl
) -> None:
    """Two fork points and two merges, modelled on warehouse's 1f002cab0a7 / 49b93c346db:
    each revision signs a table as it runs, so the order is read from the database. Plain
    Alembic on one database, the bot's pipeline on another, step for step."""
    other = create_database(pg_server)
    try:
        bot = compat_target("branch_order", tmp_path / "bot", fresh_db)
        plain = compat_target("branch_order", tmp_path / "plain", other)
        for target in (bot, plain):  # both start on the side branch, w200 alone
            assert target.plain("upgrade", "w200").returncode == 0
        steps = [
            (bot.upgrade, ("upgrade", "head")),
            (lambda: bot.downgrade("w110"), ("downgrade", "w110")),
            (bot.upgrade, ("upgrade", "head")),
        ]
        for run_bot, plain_args in steps:
            outcome = run_bot()
            assert outcome.state is RequestState.SUCCEEDED, outcome.error
            assert plain.plain(*plain_args).returncode == 0
            assert walked(fresh_db) == walked(other), plain_args
        assert len(walked(other)) == 1 + 8 + 7 + 7
    finally:
        drop_database(pg_server, other)


def walked(database: DatabaseUrl) -> list[str]:
    with connect(database) as conn:
        return [row[0] for row in conn.execute("SELECT step FROM walked ORDER BY n").fetchall()]
