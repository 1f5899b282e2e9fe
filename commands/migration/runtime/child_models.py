"""The application's models against the database, as ``alembic check`` compares them.

Loaded by ``child.py`` in the project's own interpreter (so env.py imports
the application as it always does), with only the standard library and
Alembic: it must not import migrate-bot. env.py runs online as for any
command; the function Alembic hands the migration context to reads the
``target_metadata`` env.py configured and asks Alembic's own autogenerate
comparison what differs (honouring env.py's ``include_object``,
``compare_type`` and the rest). Nothing is migrated or written.
"""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.script import ScriptDirectory


def compare_models(config: Config, scripts: ScriptDirectory) -> dict[str, Any]:
    """``{"metadata": bool, "at_head": bool, "differences": [one line each]}``.

    Only a database at the project's heads is compared, as ``alembic check`` compares
    only then: the models describe head, so below it (after a downgrade, or an
    upgrade that stopped short) they differ by design.
    """
    found: dict[str, Any] = {"metadata": False, "at_head": True, "differences": []}

    def compare(current: Any, context: Any) -> list[Any]:
        metadata = context.opts.get("target_metadata")
        if metadata is not None and not found["metadata"]:
            found["metadata"] = True
            at_head = set(scripts.get_revisions(current)) == set(scripts.get_revisions("heads"))
            found["at_head"] = at_head
            if at_head:
                found["differences"] = [
                    describe(diff) for diff in compare_metadata(context, metadata)
                ]
        return []

    with EnvironmentContext(config, scripts, fn=compare, dont_mutate=True):
        scripts.run_env()
    return found


def describe(diff: Any) -> str:
    """One autogenerate difference in words: "database" is what is, "models" what env.py's
    metadata says. A modification comes as a list of one tuple."""
    if isinstance(diff, list):
        return "; ".join(_modified(item) for item in diff)
    operation = diff[0]
    verb, _, what = operation.partition("_")
    where = (
        "in the models but not in the database"
        if verb == "add"
        else "in the database but not in the models"
    )
    if what == "table_comment":
        return f"the comment of table `{_table(diff[1].schema, diff[1].name)}` differs"
    if what == "column":
        return f"column `{_table(diff[1], diff[2])}.{diff[3].name}` is {where}"
    subject = diff[1]
    if what == "table":
        return f"table `{_table(subject.schema, subject.name)}` is {where}"
    noun = {"fk": "foreign key"}.get(what, what)
    table = getattr(getattr(subject, "table", None), "name", None)
    on = f" on `{table}`" if table else ""
    return f"{noun} `{getattr(subject, 'name', None) or '(unnamed)'}`{on} is {where}"


def _modified(item: Any) -> str:
    operation, schema, table, column, _info, old, new = item
    what = operation.removeprefix("modify_")
    subject = f"column `{_table(schema, table)}.{column}`"
    if what == "nullable":
        old, new = ("NULL" if old else "NOT NULL"), ("NULL" if new else "NOT NULL")
    return f"{subject} {_noun(what)} `{_text(old)}` in the database, `{_text(new)}` in the models"


def _noun(what: str) -> str:
    return {"type": "is", "nullable": "is"}.get(what, f"has {what.replace('_', ' ')}")


def _text(value: Any) -> str:
    if value is None:
        return "none"
    text = getattr(value, "arg", value)  # a server default's text
    return str(getattr(text, "text", text))


def _table(schema: str | None, name: str) -> str:
    return f"{schema}.{name}" if schema else name
