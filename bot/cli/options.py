"""Options and helpers every CLI command shares."""

from __future__ import annotations

import getpass
import json
from collections.abc import Callable
from typing import Any, TypeVar

import click

from commands.config.targets_file import load_config
from commands.targets import TargetHandle, open_target

F = TypeVar("F", bound=Callable[..., Any])

json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print JSON for machines instead of text."
)


def open_named_target(name: str) -> TargetHandle:
    """Load the config and resolve ``name``; raises ``ConfigError``/``UnknownTargetError``."""
    return open_target(load_config().target(name))


def operator() -> str:
    """Who is at the terminal, as the audit log names them (``os:<user>``)."""
    try:
        return f"os:{getpass.getuser()}"
    except (KeyError, OSError):
        return "os:unknown"


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, sort_keys=False, default=str))
