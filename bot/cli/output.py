"""What a command prints: JSON for machines or text for people, chosen once per command.

Every command with ``--json`` takes an ``Output`` (``output_option``) and
prints its result with ``emit``: one value, one renderer for each form. Lines
for a person watching (progress, a run's header) go through ``say``: JSON
output leaves them out, so standard output stays one JSON document.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import click

T = TypeVar("T")


@dataclass(frozen=True)
class Output:
    as_json: bool

    def emit(
        self,
        result: T,
        *,
        render_json: Callable[[T], Any],
        render_text: Callable[[T], str] | None,
    ) -> None:
        """Print ``result`` in the chosen form; ``render_text=None``: nothing as text (an
        error raised next says it)."""
        if self.as_json:
            echo_json(render_json(result))
        elif render_text is not None:
            click.echo(render_text(result))

    def say(self, line: str, *, err: bool = False) -> None:
        """A line for a person watching; none in JSON output."""
        if not self.as_json:
            click.echo(line, err=err)


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, sort_keys=False, default=str))


def _output(_ctx: click.Context, _param: click.Parameter, as_json: bool) -> Output:
    return Output(as_json)


output_option = click.option(
    "--json",
    "out",
    is_flag=True,
    callback=_output,
    help="Print JSON for machines instead of text.",
)
"""``--json``, given to the command as ``out: Output``."""
