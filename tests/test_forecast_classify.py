"""The lock classification beyond single statements: what the server's version changes, and
what earlier statements of the plan teach later ones."""

from __future__ import annotations

import pytest

from commands.checks.forecast.classes import Effect, TableLock
from commands.checks.forecast.classify import classify, classify_plan
from commands.checks.forecast.locks import LockMode
from commands.checks.sql_statements import parse_statements
from tests.support.forecast_schema import documented_facts

SUE, SHARE, AE = LockMode.SHARE_UPDATE_EXCLUSIVE, LockMode.SHARE, LockMode.ACCESS_EXCLUSIVE
CATALOG, SCAN, INDEX = Effect.CATALOG, Effect.SCAN, Effect.INDEX
REWRITE = Effect.REWRITE


@pytest.mark.parametrize(
    ("sql", "major", "effect", "mode"),
    [
        # "When a column is added with ADD COLUMN and a non-volatile DEFAULT…" (PostgreSQL 11)
        ("ALTER TABLE t ADD COLUMN x int DEFAULT 5", 10, REWRITE, AE),
        ("ALTER TABLE t ADD COLUMN x int DEFAULT 5", 11, CATALOG, AE),
        # virtual generated columns, the default from PostgreSQL 18
        ("ALTER TABLE t ADD COLUMN x int GENERATED ALWAYS AS (a * 2)", 18, CATALOG, AE),
        ("ALTER TABLE t ADD COLUMN x int GENERATED ALWAYS AS (a * 2) STORED", 17, REWRITE, AE),
        # ATTACH PARTITION took ACCESS EXCLUSIVE on the parent before PostgreSQL 12
        ("ALTER TABLE measurements ATTACH PARTITION m2 FOR VALUES IN (2)", 11, SCAN, AE),
        ("ALTER TABLE measurements ATTACH PARTITION m2 FOR VALUES IN (2)", 12, SCAN, SUE),
        # ALTER INDEX … RENAME: SHARE UPDATE EXCLUSIVE from PostgreSQL 12
        ("ALTER INDEX t_a RENAME TO t_a2", 11, CATALOG, AE),
        ("ALTER INDEX t_a RENAME TO t_a2", 12, CATALOG, SUE),
        # DETACH PARTITION … CONCURRENTLY: PostgreSQL 14
        ("ALTER TABLE measurements DETACH PARTITION m1 CONCURRENTLY", 14, CATALOG, SUE),
    ],
)
def test_what_the_server_version_changes(
    sql: str, major: int, effect: Effect, mode: LockMode
) -> None:
    statement = parse_statements("r", sql)[0]
    result = classify(statement, documented_facts(major))
    assert result.effect is effect
    held = {lock.table: lock.mode for lock in result.locks}
    assert statement.table is not None and held[statement.table] is mode


def test_a_check_validated_earlier_in_the_plan_spares_set_not_null_its_scan() -> None:
    """ALTER TABLE: "if a valid CHECK constraint is found which proves no NULL can exist, then
    the table scan is skipped" (PostgreSQL 12+): the safe three-step pattern."""
    sql = (
        "ALTER TABLE t ADD CONSTRAINT c_nn CHECK (c IS NOT NULL) NOT VALID;\n"
        "ALTER TABLE t VALIDATE CONSTRAINT c_nn;\n"
        "ALTER TABLE t ALTER COLUMN c SET NOT NULL;"
    )
    effects = [c.effect for c in classify_plan(parse_statements("r", sql), documented_facts())]
    assert effects == [CATALOG, SCAN, CATALOG]
    old = classify_plan(parse_statements("r", sql), documented_facts(11))
    assert old[-1].effect is SCAN


def test_a_table_the_plan_creates_has_the_columns_it_was_created_with() -> None:
    """A type change on a column the plan created is judged on the type it was created with
    (its table is empty then, which the cost model sees in its size)."""
    sql = (
        "CREATE TABLE fresh (id int, body varchar(20));\n"
        "CREATE INDEX fresh_body ON fresh (body);\n"
        "ALTER TABLE fresh ALTER COLUMN body TYPE varchar(40);\n"
        "ALTER TABLE fresh ALTER COLUMN id TYPE bigint;"
    )
    results = classify_plan(parse_statements("r", sql), documented_facts())
    assert [r.effect for r in results] == [CATALOG, INDEX, CATALOG, REWRITE]
    assert results[1].locks == (TableLock("fresh", SHARE),)


def test_code_the_parser_cannot_see_into_is_not_forecast() -> None:
    sql = "DO $$ BEGIN PERFORM 1; END $$;\nSELECT rebuild_everything();"
    results = classify_plan(parse_statements("r", sql), documented_facts())
    assert [r.effect for r in results] == [Effect.UNKNOWN, Effect.UNKNOWN]
