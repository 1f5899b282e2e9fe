"""The lock classification, statement by statement, against PostgreSQL's documented lock levels.

Each row of ``DOCUMENTED`` is a statement, the locks the documentation says
it takes (on which table, in which mode), what it does to the table, and the
documentation's own words as the source: chapter 13.3 "Explicit Locking"
(13.3.1, Table-Level Locks) and the pages of ALTER TABLE, CREATE INDEX, DROP
INDEX and REINDEX. The classification must say the same on the documented
schema, and a real PostgreSQL must take those very locks (``pg_locks``, inside
a transaction rolled back) and rewrite exactly when it says so (the table's
``relfilenode`` changes).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest

from commands.checks.forecast.catalog_facts import schema_facts
from commands.checks.forecast.classes import Effect
from commands.checks.forecast.classify import classify
from commands.checks.forecast.facts import SchemaFacts
from commands.checks.forecast.locks import LockMode
from commands.checks.sql_statements import parse_statements
from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl
from tests.support.forecast_schema import SCHEMA, documented_facts

AS, RS, RE = LockMode.ACCESS_SHARE, LockMode.ROW_SHARE, LockMode.ROW_EXCLUSIVE
SUE, SHARE, SRE = LockMode.SHARE_UPDATE_EXCLUSIVE, LockMode.SHARE, LockMode.SHARE_ROW_EXCLUSIVE
EXCL, AE = LockMode.EXCLUSIVE, LockMode.ACCESS_EXCLUSIVE
CATALOG, SCAN, INDEX = Effect.CATALOG, Effect.SCAN, Effect.INDEX
REWRITE, DATA = Effect.REWRITE, Effect.DATA


ALTER = "ALTER TABLE's page: "
LOCKS = "Explicit Locking, 13.3.1: "
DEFAULT_AE = ALTER + "An ACCESS EXCLUSIVE lock is acquired unless explicitly noted"


@dataclass(frozen=True)
class Row:
    sql: str
    locks: dict[str, LockMode]
    effect: Effect
    source: str
    in_transaction: bool = True  # CONCURRENTLY and VACUUM cannot run in a transaction block


DOCUMENTED = [
    Row(
        "ALTER TABLE t ADD COLUMN x int",
        {"t": AE},
        CATALOG,
        ALTER + "If no DEFAULT is specified, NULL is used. In neither case is a rewrite of the"
        " table required.",
    ),
    Row(
        "ALTER TABLE t ADD COLUMN x int DEFAULT 5",
        {"t": AE},
        CATALOG,
        ALTER + "When a column is added with ADD COLUMN and a non-volatile DEFAULT is specified,"
        " the default is evaluated at the time of the statement and the result stored in the"
        " table's metadata.",
    ),
    Row(
        "ALTER TABLE t ADD COLUMN x timestamptz DEFAULT now()",
        {"t": AE},
        CATALOG,
        ALTER + "a non-volatile DEFAULT (now() is STABLE) … stored in the table's metadata",
    ),
    Row(
        "ALTER TABLE t ADD COLUMN x float8 DEFAULT random()",
        {"t": AE},
        REWRITE,
        ALTER + "Adding a column with a volatile DEFAULT … will require the entire table and"
        " its indexes to be rewritten.",
    ),
    Row(
        "ALTER TABLE t ADD COLUMN x serial",
        {"t": AE},
        REWRITE,
        ALTER + "a volatile DEFAULT (serial's nextval()) … rewritten",
    ),
    Row(
        "ALTER TABLE t ADD COLUMN x int GENERATED ALWAYS AS (a * 2) STORED",
        {"t": AE},
        REWRITE,
        'CREATE TABLE\'s page: a stored generated column "is computed when it is written"',
    ),
    Row(
        "ALTER TABLE t ALTER COLUMN a TYPE bigint",
        {"t": AE},
        REWRITE,
        ALTER + "changing the type of an existing column will require the entire table and its"
        " indexes to be rewritten.",
    ),
    Row(
        "ALTER TABLE t ALTER COLUMN b TYPE varchar(100)",
        {"t": AE},
        CATALOG,
        ALTER + "if the USING clause does not change the column contents and the old type is"
        " either binary coercible to the new type …, a table rewrite is not needed.",
    ),
    Row(
        "ALTER TABLE t ALTER COLUMN b TYPE text",
        {"t": AE},
        CATALOG,
        ALTER + "a column can be changed from text to varchar (or vice versa) without"
        " rebuilding the indexes",
    ),
    Row(
        "ALTER TABLE t ALTER COLUMN a TYPE int USING a + 1",
        {"t": AE},
        REWRITE,
        ALTER + "if the USING clause does not change the column contents … (it does here)",
    ),
    Row(
        "ALTER TABLE t ALTER COLUMN a SET NOT NULL",
        {"t": AE},
        SCAN,
        ALTER + "Ordinarily this is checked during the ALTER TABLE by scanning the entire table",
    ),
    Row(
        "ALTER TABLE t ALTER COLUMN a DROP DEFAULT",
        {"t": AE},
        CATALOG,
        ALTER + "it does not cause rows already in the table to change. " + DEFAULT_AE,
    ),
    Row(
        "ALTER TABLE t ADD CONSTRAINT ck CHECK (a < 100)",
        {"t": AE},
        SCAN,
        ALTER + "Normally, this form will cause a scan of the table to verify that all existing"
        " rows in the table satisfy the new constraint.",
    ),
    Row(
        "ALTER TABLE t ADD CONSTRAINT ck CHECK (a < 100) NOT VALID",
        {"t": AE},
        CATALOG,
        ALTER + "if the NOT VALID option is used, this potentially-lengthy scan is skipped.",
    ),
    Row(
        "ALTER TABLE t ADD CONSTRAINT fk FOREIGN KEY (a) REFERENCES parent_t (id)",
        {"t": SRE, "parent_t": SRE},
        SCAN,
        ALTER + "ADD FOREIGN KEY requires only a SHARE ROW EXCLUSIVE lock. Note that ADD"
        " FOREIGN KEY also acquires a SHARE ROW EXCLUSIVE lock on the referenced table",
    ),
    Row(
        "ALTER TABLE t ADD CONSTRAINT fk FOREIGN KEY (a) REFERENCES parent_t (id) NOT VALID",
        {"t": SRE, "parent_t": SRE},
        CATALOG,
        ALTER + "With NOT VALID, the ADD CONSTRAINT command does not scan the table",
    ),
    Row(
        "ALTER TABLE t VALIDATE CONSTRAINT t_a_positive",
        {"t": SUE},
        SCAN,
        ALTER + "VALIDATE CONSTRAINT … by scanning the table … This command acquires a SHARE"
        " UPDATE EXCLUSIVE lock.",
    ),
    Row(
        "ALTER TABLE t VALIDATE CONSTRAINT t_p_fk",
        {"t": SUE, "parent_t": RS},
        SCAN,
        ALTER + "(If the constraint is a foreign key then a ROW SHARE lock is also required on"
        " the table referenced by the constraint.)",
    ),
    Row(
        "ALTER TABLE t ADD CONSTRAINT uq UNIQUE (a)",
        {"t": AE},
        INDEX,
        ALTER + "most forms of ADD table_constraint require an ACCESS EXCLUSIVE lock",
    ),
    Row(
        "ALTER TABLE t ALTER COLUMN a SET STATISTICS 500",
        {"t": SUE},
        CATALOG,
        ALTER + "SET STATISTICS acquires a SHARE UPDATE EXCLUSIVE lock.",
    ),
    Row(
        "ALTER TABLE t ALTER COLUMN a SET (n_distinct = 100)",
        {"t": SUE},
        CATALOG,
        ALTER + "Changing per-attribute options acquires a SHARE UPDATE EXCLUSIVE lock.",
    ),
    Row(
        "ALTER TABLE t CLUSTER ON t_a",
        {"t": SUE},
        CATALOG,
        ALTER + "Changing cluster options acquires a SHARE UPDATE EXCLUSIVE lock.",
    ),
    Row(
        "ALTER TABLE t SET (fillfactor = 70)",
        {"t": SUE},
        CATALOG,
        ALTER + "SHARE UPDATE EXCLUSIVE lock will be taken for fillfactor, toast and autovacuum"
        " storage parameters",
    ),
    Row(
        "ALTER TABLE t DISABLE TRIGGER t_trig",
        {"t": SRE},
        CATALOG,
        ALTER + "This command acquires a SHARE ROW EXCLUSIVE lock.",
    ),
    Row(
        "ALTER TABLE t DROP COLUMN c",
        {"t": AE},
        CATALOG,
        ALTER + "The DROP COLUMN form does not physically remove the column, but simply makes"
        " it invisible to SQL operations.",
    ),
    Row(
        "ALTER TABLE t RENAME COLUMN a TO a2",
        {"t": AE},
        CATALOG,
        ALTER + "RENAME … There is no effect on the stored data.",
    ),
    Row(
        "ALTER TABLE measurements ATTACH PARTITION m2 FOR VALUES IN (2)",
        {"measurements": SUE, "m2": AE},
        SCAN,
        ALTER + "Attaching a partition acquires a SHARE UPDATE EXCLUSIVE lock on the parent"
        " table, in addition to the ACCESS EXCLUSIVE locks on the table being attached",
    ),
    Row(
        "ALTER TABLE measurements DETACH PARTITION m1",
        {"measurements": AE, "m1": AE},
        CATALOG,
        DEFAULT_AE,
    ),
    Row(
        "CREATE INDEX t_b ON t (b)",
        {"t": SHARE},
        INDEX,
        LOCKS + "SHARE … Acquired by CREATE INDEX (without CONCURRENTLY).",
    ),
    Row(
        "CREATE INDEX CONCURRENTLY t_b ON t (b)",
        {"t": SUE},
        INDEX,
        LOCKS + "SHARE UPDATE EXCLUSIVE … Acquired by … CREATE INDEX CONCURRENTLY",
        in_transaction=False,
    ),
    Row(
        "DROP INDEX t_a",
        {"t": AE},
        CATALOG,
        "DROP INDEX's page: A normal DROP INDEX acquires an ACCESS EXCLUSIVE lock on the table",
    ),
    Row(
        "DROP INDEX CONCURRENTLY t_a",
        {"t": SUE},
        CATALOG,
        "DROP INDEX's page: Drop the index without locking out concurrent selects, inserts,"
        " updates, and deletes on the index's table.",
        in_transaction=False,
    ),
    Row(
        "REINDEX TABLE t",
        {"t": SHARE},
        INDEX,
        "REINDEX's page: locks out writes but not reads of the table",
    ),
    Row(
        "DROP TABLE child_t",
        {"child_t": AE},
        CATALOG,
        LOCKS + "ACCESS EXCLUSIVE … Acquired by the DROP TABLE … commands.",
    ),
    Row(
        "TRUNCATE t CASCADE",
        {"t": AE},
        CATALOG,
        LOCKS + "ACCESS EXCLUSIVE … Acquired by the DROP TABLE, TRUNCATE … commands.",
    ),
    Row(
        "CREATE TRIGGER t_trig2 BEFORE UPDATE ON t FOR EACH ROW EXECUTE FUNCTION nothing()",
        {"t": SRE},
        CATALOG,
        LOCKS + "SHARE ROW EXCLUSIVE … Acquired by CREATE TRIGGER",
    ),
    Row(
        "COMMENT ON TABLE t IS 'jobs'",
        {"t": SUE},
        CATALOG,
        LOCKS + "SHARE UPDATE EXCLUSIVE … Acquired by … COMMENT ON",
    ),
    Row(
        "CREATE STATISTICS st ON a, b FROM t",
        {"t": SUE},
        CATALOG,
        LOCKS + "SHARE UPDATE EXCLUSIVE … Acquired by … CREATE STATISTICS",
    ),
    Row(
        "ANALYZE t",
        {"t": SUE},
        CATALOG,
        LOCKS + "SHARE UPDATE EXCLUSIVE … Acquired by VACUUM (without FULL), ANALYZE",
    ),
    Row(
        "VACUUM FULL t",
        {"t": AE},
        REWRITE,
        LOCKS + "ACCESS EXCLUSIVE … Acquired by … VACUUM FULL",
        in_transaction=False,
    ),
    Row(
        "CLUSTER t USING t_a",
        {"t": AE},
        REWRITE,
        LOCKS + "ACCESS EXCLUSIVE … Acquired by … CLUSTER",
    ),
    Row(
        "REFRESH MATERIALIZED VIEW mv",
        {"mv": AE},
        DATA,
        LOCKS + "ACCESS EXCLUSIVE … REFRESH MATERIALIZED VIEW (without CONCURRENTLY)",
    ),
    Row(
        "REFRESH MATERIALIZED VIEW CONCURRENTLY mv",
        {"mv": EXCL},
        DATA,
        LOCKS + "EXCLUSIVE … Acquired by REFRESH MATERIALIZED VIEW CONCURRENTLY.",
    ),
    Row(
        "LOCK TABLE t",
        {"t": AE},
        CATALOG,
        LOCKS + "This is also the default lock mode for LOCK TABLE statements that do not"
        " specify a mode explicitly.",
    ),
    Row("LOCK TABLE t IN SHARE ROW EXCLUSIVE MODE", {"t": SRE}, CATALOG, "LOCK's page: the mode"),
    Row(
        "UPDATE t SET a = a + 1",
        {"t": RE},
        DATA,
        LOCKS + "ROW EXCLUSIVE … The commands UPDATE, DELETE, INSERT, and MERGE acquire this"
        " lock mode on the target table",
    ),
    Row("DELETE FROM t WHERE a > 5", {"t": RE}, DATA, LOCKS + "ROW EXCLUSIVE … DELETE"),
    Row(
        "INSERT INTO m2 SELECT id, a FROM t",
        {"m2": RE, "t": AS},
        DATA,
        LOCKS + "ROW EXCLUSIVE … on the target table (in addition to ACCESS SHARE locks on any"
        " other referenced tables)",
    ),
    Row(
        "SELECT count(*) FROM t",
        {"t": AS},
        SCAN,
        LOCKS + "ACCESS SHARE … The SELECT command acquires a lock of this mode on referenced"
        " tables.",
    ),
    Row(
        "SELECT id FROM t WHERE id = 1 FOR UPDATE",
        {"t": RS},
        SCAN,
        LOCKS + "ROW SHARE … on all tables on which one of the FOR UPDATE … options is specified",
    ),
    Row(
        "CREATE TABLE new_t (id int REFERENCES parent_t (id))",
        {"parent_t": SRE},
        CATALOG,
        ALTER + "ADD FOREIGN KEY also acquires a SHARE ROW EXCLUSIVE lock on the referenced table",
    ),
]


def classified(sql: str, facts: SchemaFacts):
    return classify(parse_statements("r", sql)[0], facts)


@pytest.mark.parametrize("row", DOCUMENTED, ids=[row.sql for row in DOCUMENTED])
def test_documented_lock_and_effect(row: Row) -> None:
    result = classified(row.sql, documented_facts())
    assert {lock.table: lock.mode for lock in result.locks} == row.locks, row.source
    assert result.effect is row.effect, f"{result.reason} / {row.source}"


@pytest.fixture
def documented_db(fresh_db: DatabaseUrl) -> Iterator[psycopg.Connection]:
    with connect(fresh_db) as conn:
        conn.autocommit = True
        conn.execute(SCHEMA)
        yield conn


def test_postgresql_takes_the_documented_locks(documented_db: psycopg.Connection) -> None:
    """Each statement run in a transaction that is rolled back: the strongest lock it holds on
    each table, and whether the table got a new file, against the row and the classification."""
    conn = documented_db
    for row in (r for r in DOCUMENTED if r.in_transaction):
        statement = parse_statements("r", row.sql)[0]
        facts = schema_facts(conn, [statement], server_major=18)
        result = classify(statement, facts)
        held, rewritten = _run_and_roll_back(conn, row.sql, list(row.locks))
        expected = {table: mode.pg_locks_name for table, mode in row.locks.items()}
        assert held == expected, row.sql
        assert {lock.table: lock.mode for lock in result.locks} == row.locks, row.sql
        if row.effect is REWRITE:
            assert rewritten, f"{row.sql}: PostgreSQL kept the table's file"
        elif row.effect is not DATA and not row.sql.startswith("TRUNCATE"):
            assert not rewritten, f"{row.sql}: PostgreSQL wrote the table anew"


def _run_and_roll_back(
    conn: psycopg.Connection, sql: str, tables: list[str]
) -> tuple[dict[str, str], bool]:
    """The strongest mode held on each of ``tables``, and whether the first got a new file."""
    files = "SELECT relfilenode FROM pg_class WHERE oid = to_regclass(%s)"
    oids = {
        oid: table
        for table in tables
        for (oid,) in conn.execute("SELECT to_regclass(%s)::oid", (table,))
    }
    conn.autocommit = False
    try:
        before = conn.execute(files, (tables[0],)).fetchone()
        conn.execute(sql)
        after = conn.execute(files, (tables[0],)).fetchone()
        locks = conn.execute(
            "SELECT relation, mode FROM pg_locks WHERE pid = pg_backend_pid()"
            " AND relation = ANY(%s)",
            (list(oids),),
        ).fetchall()
        rows = [(oids[oid], mode) for oid, mode in locks]
    finally:
        conn.rollback()
        conn.autocommit = True
    order = [mode.pg_locks_name for mode in LockMode]
    held: dict[str, str] = {}
    for table, mode in rows:
        if table not in held or order.index(mode) > order.index(held[table]):
            held[table] = mode
    return held, after is not None and before != after


def test_what_each_mode_makes_the_application_wait_for() -> None:
    """13.3.1: "Only an ACCESS EXCLUSIVE lock blocks a SELECT (without FOR UPDATE/SHARE)
    statement"; writers take ROW EXCLUSIVE, which SHARE and stronger modes conflict with."""
    assert [m for m in LockMode if m.blocks_reads] == [AE]
    assert [m for m in LockMode if m.blocks_writes] == [SHARE, SRE, EXCL, AE]
    assert AE.waits == "reads and writes wait"
    assert SHARE.waits == "writes wait, reads go on"
    assert SUE.waits == "reads and writes go on"
