"""The schema the lock classification tests run on, and what its catalog says of it (written
out, so the pure tests need no server; ``catalog_facts`` reads the same from a real one)."""

from __future__ import annotations

from commands.checks.forecast.facts import ConstraintFacts, SchemaFacts
from commands.checks.forecast.type_names import ColumnType

SCHEMA = """
CREATE TABLE parent_t (id int PRIMARY KEY);
CREATE TABLE t (id int PRIMARY KEY, a int, b varchar(50), c text, n numeric(10,2),
                ts timestamp, p int);
CREATE INDEX t_a ON t (a);
ALTER TABLE t ADD CONSTRAINT t_p_fk FOREIGN KEY (p) REFERENCES parent_t (id) NOT VALID;
ALTER TABLE t ADD CONSTRAINT t_a_positive CHECK (a > 0) NOT VALID;
CREATE FUNCTION nothing() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
CREATE TRIGGER t_trig BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION nothing();
CREATE TABLE measurements (id int, k int) PARTITION BY LIST (k);
CREATE TABLE m1 PARTITION OF measurements FOR VALUES IN (1);
CREATE TABLE m2 (id int, k int);
CREATE MATERIALIZED VIEW mv AS SELECT id FROM t;
CREATE UNIQUE INDEX mv_id ON mv (id);
CREATE TABLE child_t (x int);
INSERT INTO parent_t VALUES (1);
INSERT INTO t VALUES (1, 1, 'x', 'y', 1.5, now(), 1);
"""


def documented_facts(server_major: int = 18) -> SchemaFacts:
    """``SCHEMA`` as the catalog describes it, written out (the pure half needs no server)."""
    volatility = {"now": "s", "random": "v", "count": "i", "nothing": "v"}
    facts = SchemaFacts(server_major=server_major, volatility=volatility)
    for column, kind in {
        "id": ColumnType("int4"),
        "a": ColumnType("int4"),
        "b": ColumnType("varchar", (50,)),
        "c": ColumnType("text"),
        "n": ColumnType("numeric", (10, 2)),
        "ts": ColumnType("timestamp"),
        "p": ColumnType("int4"),
    }.items():
        facts.add_column("t", column, kind)
    facts.add_constraint("t", "t_p_fk", ConstraintFacts(foreign_table="parent_t"))
    facts.add_constraint("t", "t_a_positive", ConstraintFacts())
    facts.index_tables["t_a"] = "t"
    return facts
