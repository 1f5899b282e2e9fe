"""``migrate-bot targets``: the configured targets, and the URL form each env.py gets.

Its own module, so listing targets imports neither the pipeline nor SQLAlchemy.
"""

from __future__ import annotations

import click

from bot.cli import targets_render as render
from bot.cli.output import Output, output_option
from commands.config.targets_file import load_config
from commands.migration.runtime.driver_probe import target_env_py_driver


@click.command()
@output_option
def targets(out: Output) -> None:
    """List the configured targets."""
    config = load_config()
    env_py = {name: target_env_py_driver(t).describe() for name, t in config.targets.items()}
    out.emit(
        config,
        render_json=lambda c: [
            render.target_json(t, env_py=env_py[t.name]) for t in c.targets.values()
        ],
        render_text=lambda c: render.targets_text(c, env_py=env_py),
    )
