"""What a revision file says about itself, read with ``ast`` (never run).

Its docstring, whether ``upgrade()`` / ``downgrade()`` do something, whether
it uses ``autocommit_block`` and whether it asks if it runs offline: the
review check, verification and the executor's retries all ask, so it is read
here once, beside the revision graph.
"""

from __future__ import annotations

import ast
import threading
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from commands.errors import MigrateBotError


class ReviewError(MigrateBotError):
    """A revision file cannot be read or is not valid Python."""


class Body(StrEnum):
    REAL = "real"
    MISSING = "missing"
    EMPTY = "empty"  # only pass / ... / a docstring
    RAISES = "raises"  # only raises (an irreversible migration)


@dataclass(frozen=True)
class FileReview:
    """What the revision file says about itself."""

    path: str
    docstring: bool
    upgrade: Body
    downgrade: Body
    uses_autocommit_block: bool
    dynamic_sql: bool = False  # executes SQL built at run time, or reads the database
    commits_itself: bool = False  # calls .commit() (op.get_bind().commit()): commits part-way
    offline_branch: bool = False  # asks is_offline_mode(): renders offline other than it runs

    @property
    def commits_part_way(self) -> bool:
        """A failure may leave committed work behind: ``autocommit_block`` or its own commits."""
        return self.uses_autocommit_block or self.commits_itself


def _runs_dynamic_sql(tree: ast.AST) -> bool:
    """``op.execute(f"…")``, ``bind.execute(...)`` of a variable, ``op.get_bind()``: SQL
    the offline rendering cannot show as it will run."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        if node.func.attr == "get_bind":
            return True
        if node.func.attr in ("execute", "exec_driver_sql") and node.args:
            argument = node.args[0]
            if not (isinstance(argument, ast.Constant) and isinstance(argument.value, str)):
                return True
    return False


_PARSING = threading.Lock()
"""One ``ast.parse`` at a time: CPython 3.11's AST construction is not safe across threads
(python/cpython#106905: "SystemError: AST constructor recursion depth mismatch"), and a
fleet's pre-flight reviews the same files from several threads."""


def review_file(path: str | Path) -> FileReview:
    """Read one revision file with ``ast``; raises ``ReviewError`` if it does not parse."""
    try:
        source = Path(path).read_text(encoding="utf-8")
        with _PARSING:
            tree = ast.parse(source, filename=str(path))
    except (OSError, UnicodeDecodeError, SyntaxError) as exc:
        raise ReviewError(f"cannot read revision file {path}: {exc}") from None
    functions = {
        node.name: node
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    return FileReview(
        path=str(path),
        docstring=bool((ast.get_docstring(tree) or "").strip()),
        upgrade=_body(functions.get("upgrade")),
        downgrade=_body(functions.get("downgrade")),
        uses_autocommit_block=any(
            isinstance(node, ast.Attribute) and node.attr == "autocommit_block"
            for node in ast.walk(tree)
        ),
        dynamic_sql=_runs_dynamic_sql(tree),
        commits_itself=any(
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "commit"
            for node in ast.walk(tree)
        ),
        offline_branch=any(
            (isinstance(node, ast.Attribute) and node.attr == "is_offline_mode")
            or (isinstance(node, ast.Name) and node.id == "is_offline_mode")
            for node in ast.walk(tree)
        ),
    )


def reversible(path: str) -> bool:
    """Whether the file's ``downgrade()`` does something (not missing, ``pass`` or only a
    raise): the only kind an Alembic way back can use. Unreadable: not."""
    try:
        return review_file(path).downgrade is Body.REAL
    except ReviewError:
        return False


def _body(function: ast.FunctionDef | ast.AsyncFunctionDef | None) -> Body:
    if function is None:
        return Body.MISSING
    doing = [s for s in function.body if not _is_filler(s)]
    if not doing:
        return Body.EMPTY
    if all(isinstance(s, ast.Raise) for s in doing):
        return Body.RAISES
    return Body.REAL


def _is_filler(statement: ast.stmt) -> bool:
    """``pass``, ``...`` and bare strings (docstrings) do nothing."""
    if isinstance(statement, ast.Pass):
        return True
    return isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant)
