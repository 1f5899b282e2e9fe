"""Helpers every CLI command shares: the target named on the command line, the operator."""

from __future__ import annotations

import getpass

from commands.config.targets_file import load_config
from commands.targets import TargetHandle, open_target


def open_named_target(name: str) -> TargetHandle:
    """Load the config and resolve ``name``; raises ``ConfigError``/``UnknownTargetError``."""
    return open_target(load_config().target(name))


def operator() -> str:
    """Who is at the terminal, as the audit log names them (``os:<user>``)."""
    try:
        return f"os:{getpass.getuser()}"
    except (KeyError, OSError):
        return "os:unknown"
