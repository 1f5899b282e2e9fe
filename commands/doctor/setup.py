"""The Slack-free half of ``migrate-bot doctor``: the state, then each target's databases,
pg_dump and backup destination, in that order."""

from __future__ import annotations

import os
from collections.abc import Mapping

from commands.config.targets_file import Config
from commands.doctor.backups import check_backups
from commands.doctor.databases import check_databases
from commands.doctor.finding import Finding
from commands.doctor.state import check_state


def check_setup(config: Config, environ: Mapping[str, str] = os.environ) -> list[Finding]:
    return [
        check_state(config.bot.state, environ),
        *check_databases(config, environ),
        *check_backups(config),
    ]
