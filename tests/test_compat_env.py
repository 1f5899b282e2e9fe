"""Compatibility suite, part 2: env.py variety, each with its target key (tests/compat/README.md).

Each project is planned, checked, upgraded and downgraded through the bot's
pipeline, the way its own env.py expects to be run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from commands.errors import ConfigError, RevisionError
from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl
from commands.state.vocabulary import RequestState
from tests.support.compat import compat_target


def tables(database: DatabaseUrl, schema: str = "public") -> set[str]:
    with connect(database) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,))
        return {row[0] for row in rows.fetchall()}


def test_the_url_under_the_names_env_py_reads(tmp_path: Path, fresh_db: DatabaseUrl) -> None:
    target = compat_target(
        "url_env_names",
        tmp_path,
        fresh_db,
        """
        alembic_config = "{root}/alembic.ini"
        url_env_names = ["SQLALCHEMY_DATABASE_URI", "POSTGRES_DSN"]
        child_env = {APP_ENV = "migrations"}
        """,
    )
    target.round_trip(["d100", "d200"])  # env.py asserts both names and APP_ENV


def test_a_tenant_chosen_with_x_arguments_and_its_own_version_table(
    tmp_path: Path, fresh_db: DatabaseUrl
) -> None:
    keys = 'alembic_config = "{root}/alembic.ini"\nx_args = ["tenant=acme"]\n'
    target = compat_target("tenant_schema", tmp_path, fresh_db, keys)
    report = target.check()
    assert report.plan is not None
    assert report.plan.version_table == "tenant_acme.revision_log"
    assert "CREATE TABLE orders" in report.plan.sql["e100"]
    assert report.result("alembic").data["version_table"] == "absent (the database is at base)"
    up = target.upgrade()
    assert up.state is RequestState.SUCCEEDED, up.error
    assert tables(fresh_db, "tenant_acme") == {"orders", "revision_log"}
    assert target.check().result("alembic").data["version_table"] == "readable"
    down = target.downgrade("e100")
    assert down.state is RequestState.SUCCEEDED, down.error
    assert down.database_revisions == ("e100",)


def test_a_named_section_of_a_multi_history_ini(tmp_path: Path, fresh_db: DatabaseUrl) -> None:
    keys = 'alembic_config = "{root}/alembic.ini"\nalembic_section = "analytics"\n'
    target = compat_target("named_section", tmp_path, fresh_db, keys)
    assert target.plan().version_table == "analytics_version"
    target.round_trip(["g100", "g200"])
    with pytest.raises(ConfigError, match=r"alembic_section: .* has no \[billing\] section"):
        compat_target(
            "named_section",
            tmp_path / "other",
            fresh_db,
            'alembic_config = "{root}/alembic.ini"\nalembic_section = "billing"\n',
        )


def test_revisions_in_several_version_locations(tmp_path: Path, fresh_db: DatabaseUrl) -> None:
    target = compat_target("version_locations", tmp_path, fresh_db)
    plan = target.round_trip(["h100", "h200", "h300"])
    assert plan.revisions[1].path.endswith("billing/versions/h200_invoices.py")


def test_an_expand_contract_history_goes_up_to_heads_and_down_as_plain_alembic(
    tmp_path: Path, fresh_db: DatabaseUrl, caplog: pytest.LogCaptureFixture
) -> None:
    """glance's shape: contract revisions ``depends_on`` expand ones. ``heads`` applies both
    lines in Alembic's order; down to release 1's expand revision the bot ends where plain
    Alembic ends (it used to undo release 1's contract revision too); ``expand@head`` is
    refused saying what to write."""
    target = compat_target("expand_contract", tmp_path, fresh_db)
    assert [r.id for r in target.plan("heads").revisions] == [
        "x100",
        "x200",
        "x300",
        "x210",
        "x310",
    ]
    # one head for the plan (x310 depends on x300), two for Alembic: walked by id, in
    # Alembic's order, without a warning that Alembic refused "head"
    assert [r.id for r in target.plan().revisions] == ["x100", "x200", "x300", "x210", "x310"]
    assert "Alembic cannot walk" not in caplog.text
    up = target.upgrade("heads")
    assert up.state is RequestState.SUCCEEDED, up.error
    assert up.database_revisions == ("x310",)
    down = target.downgrade("x200")
    assert down.state is RequestState.SUCCEEDED, down.error
    assert [a.revision for a in down.applied] == ["x310", "x300"]
    assert target.current() == ("x210",)
    plain = target.plain("upgrade", "heads")
    assert plain.returncode == 0, plain.stderr
    plain = target.plain("downgrade", "x200")
    assert plain.returncode == 0, plain.stderr
    assert target.current() == ("x210",)  # plain Alembic ends there too
    with pytest.raises(RevisionError, match=r"'expand@head': Alembic's branch@ goals are not"):
        target.plan("expand@head")


# Long case (plain Alembic beside the bot on a merge; merges walk in CI in test_alembic_runner).
@pytest.mark.slow
def test_several_heads_are_named_and_a_merge_is_walked_as_alembic_walks_it(
    tmp_path: Path, fresh_db: DatabaseUrl
) -> None:
    target = compat_target("branches", tmp_path, fresh_db)
    up = target.upgrade("k200")  # one branch, named
    assert up.state is RequestState.SUCCEEDED, up.error
    up = target.upgrade("k300")  # the other: two heads in the version table
    assert up.state is RequestState.SUCCEEDED, up.error
    assert set(up.database_revisions or ()) == {"k200", "k300"}
    up = target.upgrade()  # the merge and after it
    assert [a.revision for a in up.applied] == ["k400", "k500"]
    # undoing the merge leaves two heads, no single revision two below: plain Alembic
    # refuses -2 as it refuses -3 (Dispatch's core history, -5 from its head), and so
    # does the bot, before anything runs
    for steps in ("-3", "-2"):
        with pytest.raises(RevisionError, match=f"{steps} is ambiguous: k400 merges k200, k300"):
            target.plan(steps, down=True)
        plain = target.plain("downgrade", steps)
        assert plain.returncode != 0 and "Ambiguous walk" in plain.stdout
        assert target.current() == ("k500",)
    down = target.downgrade("k200")  # down to the merge's parents, named: both heads again
    assert down.state is RequestState.SUCCEEDED, down.error
    assert set(down.database_revisions or ()) == {"k200", "k300"}
