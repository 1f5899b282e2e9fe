"""One family of errors whose messages are safe to show a user as they are.

Each front renders them once: the CLI as a line on stderr with an exit code,
the Slack front as an ephemeral message. Anything that is not a
``MigrateBotError`` is a bug and is reported as such.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes of the CLI, one per kind of outcome."""

    OK = 0
    FAILED = 1  # the operation ran and failed (a revision, a backup, a check)
    BAD_INPUT = 2  # usage, config or an unknown name: nothing was changed
    REFUSED = 3  # valid, but not allowed now (lock held, frozen, policy)
    UNAVAILABLE = 4  # a dependency is unreachable (database, storage)


class MigrateBotError(Exception):
    """Base of every error migrate-bot expects; ``str(error)`` is user-safe."""

    exit_code: ExitCode = ExitCode.FAILED


class ConfigError(MigrateBotError):
    """The targets file is missing a key, has a wrong value or cannot be read."""

    exit_code = ExitCode.BAD_INPUT

    def __init__(self, path: str, key: str | None, problem: str) -> None:
        where = f"{path}: {key}" if key else path
        super().__init__(f"{where}: {problem}")
        self.path = path
        self.key = key
        self.problem = problem


class ConfigErrors(ConfigError):
    """Every problem of one targets file, found in one reading: one fix-and-retry, not one
    per problem. With a single problem it reads as that problem alone."""

    def __init__(self, path: str, problems: list[ConfigError]) -> None:
        if len(problems) == 1:
            only = problems[0]
            super().__init__(only.path, only.key, only.problem)
        else:
            lines = "".join(f"\n  {p.key + ': ' if p.key else ''}{p.problem}" for p in problems)
            super().__init__(path, None, f"{len(problems)} problems:{lines}")
        self.problems = list(problems)


class UnknownTargetError(MigrateBotError):
    """A command named a target that is not configured."""

    exit_code = ExitCode.BAD_INPUT

    def __init__(self, name: str, known: list[str]) -> None:
        choices = ", ".join(known) if known else "none configured"
        super().__init__(f"unknown target {name!r} (targets: {choices})")
        self.name = name


class RevisionError(MigrateBotError):
    """A revision name does not resolve, or resolves to more than one revision."""

    exit_code = ExitCode.BAD_INPUT


class DatabaseUnavailableError(MigrateBotError):
    """The target database could not be reached or queried."""

    exit_code = ExitCode.UNAVAILABLE


class AlembicError(MigrateBotError):
    """Alembic or PostgreSQL failed while reading or applying a revision.

    ``sqlstate`` is PostgreSQL's error code when the failure came from the
    server (``55P03`` is lock_not_available), else ``None``; ``revision`` is
    the revision that was running, when one was.
    """

    def __init__(
        self, message: str, *, sqlstate: str | None = None, revision: str | None = None
    ) -> None:
        super().__init__(f"{revision}: {message}" if revision else message)
        self.sqlstate = sqlstate
        self.revision = revision


class ProjectError(AlembicError):
    """The project's own process failed (env.py, a revision, Alembic under them).

    Its text names everything a person needs, the same in Slack, the terminal and
    the audit log: the target, the step (reading the history, running revision R…),
    the line of the project's own code that raised it, the exception, and what to
    do where that is known.
    """

    def __init__(
        self,
        detail: str,
        *,
        target: str | None,
        step: str,
        where: str | None,
        hint: str | None,
        sqlstate: str | None = None,
        revision: str | None = None,
    ) -> None:
        place = f"{step} ({where})" if where else step
        text = f"{place}: {detail}" + (f" — {hint}" if hint else "")
        text = f"target {target}, {text}" if target else text
        MigrateBotError.__init__(self, f"{revision}: {text}" if revision else text)
        self.detail = detail
        self.sqlstate = sqlstate
        self.revision = revision
        self.step = step
        self.where = where
        self.hint = hint
