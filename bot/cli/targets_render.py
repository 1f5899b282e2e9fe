"""The configured targets as text and JSON for ``migrate-bot targets``. Pure functions.

Apart from ``render.py`` so that listing targets imports no planning code.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from commands.config.targets_file import Config, TargetConfig


def unset_variable(target: TargetConfig, environ: Mapping[str, str]) -> str | None:
    """The target's URL variable when the environment does not set it, else ``None``."""
    variable = target.database_url_env
    return variable if variable and not environ.get(variable) else None


def target_json(
    target: TargetConfig, environ: Mapping[str, str] = os.environ, env_py: str | None = None
) -> dict[str, Any]:
    """``env_py``: the URL form env.py gets ("postgresql+asyncpg:// (…)")."""
    return {
        "name": target.name,
        "description": target.description,
        "database": (
            f"embedded PostgreSQL in {target.embedded_postgres}"
            if target.embedded_postgres
            else f"${target.database_url_env}"
        ),
        "database_url_set": unset_variable(target, environ) is None,
        "alembic": str(target.alembic.config_file or target.alembic.script_location),
        "env_py_url": env_py,
        "approvals": target.approvals,
        "approvers": list(target.approvers),
        "backup": target.backup,
    }


def targets_text(
    config: Config,
    environ: Mapping[str, str] = os.environ,
    env_py: Mapping[str, str] | None = None,
) -> str:
    lines = [f"Targets from {config.path}:"]
    for target in config.targets.values():
        data = target_json(target, environ, (env_py or {}).get(target.name))
        unset = unset_variable(target, environ)
        note = "  (not set in this environment: commands on it fail until it is)" if unset else ""
        lines.append(f"  {target.name:<12} {data['database']}{note}")
        lines.append(f"  {'':<12} alembic: {data['alembic']}")
        if data["env_py_url"]:
            lines.append(f"  {'':<12} env.py gets: {data['env_py_url']}")
        approvers = ", ".join(target.approvers)
        lines.append(
            f"  {'':<12} approvals: {target.approvals} from {approvers}; backup: {target.backup}"
        )
        if target.description:
            lines.append(f"  {'':<12} {target.description}")
    return "\n".join(lines)
