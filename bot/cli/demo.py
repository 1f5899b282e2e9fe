"""``demo-data``: fill the bundled project's tables for benchmarks and the sandbox."""

from __future__ import annotations

import click

from bot.cli.options import open_named_target
from bot.cli.output import Output, output_option
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
@output_option
def demo_data(target: str, rows: int, out: Output) -> None:
    """Add realistic rows to the transcripts tables of TARGET (default: demo)."""
    handle = open_named_target(target)

    def progress(done: int, total: int) -> None:
        out.say(f"  {done:,}/{total:,} segments", err=True)

    counts = fill_demo_data(handle.database, rows=rows, on_progress=progress)
    out.emit(counts, render_json=dict, render_text=_counts_text)


def _counts_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{n:,} {table}" for table, n in counts.items()) + " added"
