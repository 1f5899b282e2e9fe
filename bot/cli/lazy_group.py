"""A click group that imports a command's module only when that command runs.

Each command of ``migrate-bot`` needs its own part of the bot (the pipeline,
SQLAlchemy, Alembic, psycopg…); importing them all before parsing the
arguments made every call, ``--version`` included, pay for all of them.
``--help`` lists the commands from their registered one-line help instead of
importing them.
"""

from __future__ import annotations

import gc
import importlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import click


class LazyGroup(click.Group):
    """Commands named in ``commands_at``: name → ("module:attribute", one-line help)."""

    def __init__(self, *args: Any, commands_at: Mapping[str, tuple[str, str]], **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.commands_at = dict(commands_at)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self.commands_at)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands_at:
            return None
        module, _, attribute = self.commands_at[cmd_name][0].partition(":")
        with collection_paused():
            command = getattr(importlib.import_module(module), attribute)
        assert isinstance(command, click.Command), f"{module}:{attribute} is not a command"
        return command

    def every_command(self) -> dict[str, click.Command]:
        """Every command, imported (for the docs-as-tests)."""
        with click.Context(self) as ctx:
            return {
                name: found for name in self.commands_at if (found := self.get_command(ctx, name))
            }

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The commands and their one-line help, none of them imported."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = [(name, short_help(self.commands_at[name][1], limit)) for name in names]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@contextmanager
def collection_paused() -> Iterator[None]:
    """No cyclic garbage collection meanwhile: importing a command's modules makes
    hundreds of thousands of objects that all live on, and the collector, run every 700
    of them, walked them again and again (a fifth of the import's CPU time)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def short_help(text: str, limit: int) -> str:
    """The first sentence of ``text``, cut at a word to fit ``limit`` (as click shortens)."""
    sentence = text.split(". ", maxsplit=1)[0].rstrip(".")
    if len(sentence) <= limit:
        return sentence
    return sentence[: max(limit - 3, 1)].rsplit(" ", 1)[0] + "..."
