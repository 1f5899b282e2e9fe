"""The catalog queries behind the schema reader, one per kind of object.

Each query returns rows of ``(schema, name, table, attrs, source)`` where
``attrs`` is a JSON object of the compared attributes. What PostgreSQL
derives on its own is left out, so that a database migrated only by the bot
matches its history replayed on an empty one: objects that belong to an
extension (``pg_depend`` type ``e``), the index behind a primary key, unique
or exclusion constraint (the constraint says it), the sequence behind an
identity column (the column says it), the NOT NULL constraints PostgreSQL 18
records (the column's nullability says it), and the indexes, constraints and
triggers a partition inherits from its parent. Column positions are not
compared: a restore from a backup renumbers them.
"""

from __future__ import annotations

from commands.schema.model import Kind

_USER_SCHEMA = (
    "{n}.nspname NOT IN ('pg_catalog', 'information_schema') AND {n}.nspname !~ '^pg_(toast|temp_)'"
)


def _user(alias: str = "n") -> str:
    return _USER_SCHEMA.format(n=alias)


def _not_extension_member(catalog: str, oid: str) -> str:
    return (
        "NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = "
        f"'{catalog}'::regclass AND e.objid = {oid} AND e.deptype = 'e')"
    )


_SCHEMAS = f"""
SELECT n.nspname, n.nspname, NULL,
       jsonb_build_object('comment', obj_description(n.oid, 'pg_namespace')), ''
FROM pg_namespace n
WHERE {_user()} AND {_not_extension_member("pg_namespace", "n.oid")}"""

_EXTENSIONS = """
SELECT n.nspname, x.extname, NULL,
       jsonb_build_object('version', x.extversion, 'schema', n.nspname), ''
FROM pg_extension x JOIN pg_namespace n ON n.oid = x.extnamespace"""

_RELATIONS = f"""
SELECT n.nspname, c.relname, NULL, jsonb_build_object(
         'persistence', CASE c.relpersistence WHEN 'u' THEN 'unlogged' END,
         'partition key', CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END,
         'partition of', (SELECT pn.nspname || '.' || p.relname FROM pg_inherits i
                          JOIN pg_class p ON p.oid = i.inhparent
                          JOIN pg_namespace pn ON pn.oid = p.relnamespace
                          WHERE i.inhrelid = c.oid AND c.relispartition),
         'partition bound', CASE WHEN c.relispartition
                                 THEN pg_get_expr(c.relpartbound, c.oid) END,
         'definition', CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid) END,
         'options', CASE WHEN c.relkind = 'v'
                         THEN array_to_string(c.reloptions, ', ') END,
         'comment', obj_description(c.oid, 'pg_class')), ''
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = ANY(%(relkinds)s) AND {_user()}
  AND {_not_extension_member("pg_class", "c.oid")}"""

_COLUMNS = f"""
SELECT n.nspname, a.attname, c.relname, jsonb_build_object(
         'type', format_type(a.atttypid, a.atttypmod),
         'nullable', CASE WHEN a.attnotnull THEN 'NOT NULL' ELSE 'NULL' END,
         'default', CASE WHEN a.attgenerated = '' THEN pg_get_expr(d.adbin, d.adrelid) END,
         'generated', CASE WHEN a.attgenerated <> '' THEN pg_get_expr(d.adbin, d.adrelid) END,
         'identity', CASE a.attidentity WHEN 'a' THEN 'ALWAYS' WHEN 'd' THEN 'BY DEFAULT' END,
         'collation', (SELECT CASE WHEN cn.nspname = 'pg_catalog' THEN quote_ident(co.collname)
                                   ELSE quote_ident(cn.nspname) || '.' || quote_ident(co.collname)
                              END
                       FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace
                       JOIN pg_type t ON t.oid = a.atttypid
                       WHERE co.oid = a.attcollation AND a.attcollation <> t.typcollation),
         'comment', col_description(a.attrelid, a.attnum),
         'position', a.attnum::text), ''
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped AND {_user()}
  AND {_not_extension_member("pg_class", "c.oid")}"""

_INDEXES = f"""
SELECT n.nspname, i.relname, t.relname, jsonb_build_object(
         'definition', pg_get_indexdef(x.indexrelid),
         'valid', CASE WHEN x.indisvalid THEN 'valid' ELSE 'INVALID' END,
         'unique', CASE WHEN x.indisunique THEN 'unique' ELSE 'not unique' END,
         'comment', obj_description(i.oid, 'pg_class')), ''
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class t ON t.oid = x.indrelid
JOIN pg_namespace n ON n.oid = i.relnamespace
WHERE {_user()} AND NOT i.relispartition
  AND NOT EXISTS (SELECT 1 FROM pg_constraint k
                  WHERE k.conindid = x.indexrelid AND k.contype IN ('p', 'u', 'x'))
  AND {_not_extension_member("pg_class", "t.oid")}"""

_CONSTRAINTS = f"""
SELECT n.nspname, k.conname, t.relname, jsonb_build_object(
         'type', CASE k.contype WHEN 'p' THEN 'primary key' WHEN 'f' THEN 'foreign key'
                                WHEN 'u' THEN 'unique' WHEN 'c' THEN 'check'
                                WHEN 'x' THEN 'exclusion' END,
         'definition', regexp_replace(pg_get_constraintdef(k.oid), ' NOT VALID$', ''),
         'validated', CASE WHEN k.convalidated THEN 'validated' ELSE 'NOT VALID' END,
         'comment', obj_description(k.oid, 'pg_constraint')), ''
FROM pg_constraint k
JOIN pg_class t ON t.oid = k.conrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE k.contype IN ('p', 'f', 'u', 'c', 'x') AND k.conparentid = 0 AND {_user()}
  AND {_not_extension_member("pg_class", "t.oid")}"""

_ROUTINES = f"""
SELECT n.nspname, p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')', NULL,
       jsonb_build_object(
         'kind', CASE p.prokind WHEN 'p' THEN 'procedure' ELSE 'function' END,
         'returns', pg_get_function_result(p.oid),
         'arguments', pg_get_function_arguments(p.oid),
         'body', {{body}},
         'attributes', concat_ws(', ', 'language ' || l.lanname,
             CASE p.provolatile WHEN 'i' THEN 'immutable' WHEN 's' THEN 'stable' END,
             CASE WHEN p.proisstrict THEN 'strict' END,
             CASE WHEN p.prosecdef THEN 'security definer' END,
             CASE WHEN p.proleakproof THEN 'leakproof' END,
             CASE p.proparallel WHEN 's' THEN 'parallel safe' WHEN 'r' THEN 'parallel restricted'
             END,
             array_to_string(p.proconfig, ', ')),
         'comment', obj_description(p.oid, 'pg_proc')),
       pg_get_functiondef(p.oid)
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
JOIN pg_language l ON l.oid = p.prolang
WHERE p.prokind IN ('f', 'p') AND {_user()} AND {_not_extension_member("pg_proc", "p.oid")}"""

_TRIGGERS = f"""
SELECT n.nspname, g.tgname, t.relname, jsonb_build_object(
         'definition', pg_get_triggerdef(g.oid),
         'enabled', CASE g.tgenabled WHEN 'D' THEN 'disabled' WHEN 'R' THEN 'enabled replica'
                                     WHEN 'A' THEN 'enabled always' ELSE 'enabled' END,
         'comment', obj_description(g.oid, 'pg_trigger')), ''
FROM pg_trigger g
JOIN pg_class t ON t.oid = g.tgrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE NOT g.tgisinternal AND g.tgparentid = 0 AND {_user()}
  AND {_not_extension_member("pg_class", "t.oid")}"""

_SEQUENCES = f"""
SELECT n.nspname, c.relname, NULL, jsonb_build_object(
         'type', format_type(s.seqtypid, NULL),
         'start', s.seqstart::text, 'increment', s.seqincrement::text,
         'minimum', s.seqmin::text, 'maximum', s.seqmax::text, 'cache', s.seqcache::text,
         'cycle', CASE WHEN s.seqcycle THEN 'CYCLE' ELSE 'NO CYCLE' END,
         'owned by', (SELECT quote_ident(tn.nspname) || '.' || quote_ident(t.relname) || '.'
                             || quote_ident(a.attname)
                      FROM pg_depend d JOIN pg_class t ON t.oid = d.refobjid
                      JOIN pg_namespace tn ON tn.oid = t.relnamespace
                      JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
                      WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                        AND d.deptype = 'a' LIMIT 1),
         'comment', obj_description(c.oid, 'pg_class')), ''
FROM pg_sequence s
JOIN pg_class c ON c.oid = s.seqrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE {_user()} AND {_not_extension_member("pg_class", "c.oid")}
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                  AND d.objid = c.oid AND d.deptype = 'i')"""

_ENUMS = f"""
SELECT n.nspname, t.typname, NULL, jsonb_build_object(
         'values', (SELECT jsonb_agg(e.enumlabel ORDER BY e.enumsortorder)
                    FROM pg_enum e WHERE e.enumtypid = t.oid),
         'comment', obj_description(t.oid, 'pg_type')), ''
FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE t.typtype = 'e' AND {_user()} AND {_not_extension_member("pg_type", "t.oid")}"""

_DOMAINS = f"""
SELECT n.nspname, t.typname, NULL, jsonb_build_object(
         'type', format_type(t.typbasetype, t.typtypmod),
         'nullable', CASE WHEN t.typnotnull THEN 'NOT NULL' ELSE 'NULL' END,
         'default', t.typdefault,
         'collation', (SELECT quote_ident(co.collname) FROM pg_collation co
                       JOIN pg_type b ON b.oid = t.typbasetype
                       WHERE co.oid = t.typcollation AND t.typcollation <> b.typcollation),
         'constraints', (SELECT jsonb_agg(quote_ident(k.conname) || ' '
                                          || pg_get_constraintdef(k.oid) ORDER BY k.conname)
                         FROM pg_constraint k WHERE k.contypid = t.oid AND k.contype = 'c'),
         'comment', obj_description(t.oid, 'pg_type')), ''
FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE t.typtype = 'd' AND {_user()} AND {_not_extension_member("pg_type", "t.oid")}"""

MINIMUM_SERVER = 130000
"""PostgreSQL 13: the first with ``pg_trigger.tgparentid``."""


def catalog_queries(server_version_num: int) -> dict[Kind, tuple[str, dict[str, object]]]:
    """Each kind's query and its parameters for a server of ``server_version_num``.

    Functions and procedures share one query (the reader sorts them by their
    ``kind`` attribute); a function written with a SQL-standard body (PostgreSQL
    14+) has no ``prosrc``, so its body is read with ``pg_get_function_sqlbody``.
    """
    body = (
        "coalesce(pg_get_function_sqlbody(p.oid), p.prosrc)"
        if server_version_num >= 140000
        else "p.prosrc"
    )
    return {
        Kind.SCHEMA: (_SCHEMAS, {}),
        Kind.EXTENSION: (_EXTENSIONS, {}),
        Kind.ENUM: (_ENUMS, {}),
        Kind.DOMAIN: (_DOMAINS, {}),
        Kind.SEQUENCE: (_SEQUENCES, {}),
        Kind.FUNCTION: (_ROUTINES.replace("{body}", body), {}),
        Kind.TABLE: (_RELATIONS, {"relkinds": ["r", "p"]}),
        Kind.COLUMN: (_COLUMNS, {}),
        Kind.CONSTRAINT: (_CONSTRAINTS, {}),
        Kind.INDEX: (_INDEXES, {}),
        Kind.VIEW: (_RELATIONS, {"relkinds": ["v"]}),
        Kind.MATERIALIZED_VIEW: (_RELATIONS, {"relkinds": ["m"]}),
        Kind.TRIGGER: (_TRIGGERS, {}),
    }
