"""``demo-data``: fill the bundled project's tables for benchmarks and the sandbox."""

from __future__ import annotations

import click

from bot.cli.options import echo_json, json_option, open_named_target
from commands.demo.data import fill_demo_data


@click.command("demo-data")
@click.argument("target", default="demo")
@click.option(
    "--rows",
    type=click.IntRange(min=1),
    default=10_000,
    show_default=True,
    help="Segments to add (with one video and job per 40 segments).",
)
@json_option
def demo_data(target: str, rows: int, as_json: bool) -> None:
    """Add realistic rows to the transcripts tables of TARGET (default: demo)."""
    handle = open_named_target(target)

    def progress(done: int, total: int) -> None:
        if not as_json:
            click.echo(f"  {done:,}/{total:,} segments", err=True)

    counts = fill_demo_data(handle.database, rows=rows, on_progress=progress)
    if as_json:
        echo_json(counts)
    else:
        click.echo(", ".join(f"{n:,} {table}" for table, n in counts.items()) + " added")
