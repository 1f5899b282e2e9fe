"""``migrate-bot worker``: run the jobs of a shared deployment (docs/deployment.md).

Like ``serve``, it reaches the Slack side (it posts, and replays Slack
requests through the Bolt app), so it imports ``bot.distributed.worker_process`` only
when it runs.
"""

from __future__ import annotations

import logging

import click

from bot.logs.setup import configure_logging
from commands.config.targets_file import DEFAULT_QUEUE, QUEUE_NAME


def _queue(
    _ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]
) -> tuple[str, ...]:
    for value in values:
        if not QUEUE_NAME.match(value):
            raise click.BadParameter(f"{value!r}: lowercase letters, digits, '-' and '_'")
    return values or (DEFAULT_QUEUE,)


@click.command()
@click.option(
    "--queue",
    "queues",
    multiple=True,
    metavar="Q",
    callback=_queue,
    help=f"Run the jobs of this queue (a target's `queue`); repeat for several. Default:"
    f" {DEFAULT_QUEUE}, the queue of targets that name none.",
)
@click.option(
    "--concurrency",
    type=click.IntRange(min=1, max=64),
    default=4,
    show_default=True,
    help="Jobs at once: runs (one per target at most), pre-flights, plans, answers.",
)
@click.option(
    "--metrics-port",
    type=click.IntRange(min=0, max=65535),
    help="Serve Prometheus metrics on this port (0.0.0.0): the Slack API errors and outbox"
    " of this worker, and the audit log's counters, which are the whole deployment's.",
)
@click.pass_context
def worker(
    ctx: click.Context, *, queues: tuple[str, ...], concurrency: int, metrics_port: int | None
) -> None:
    """Run the jobs the `serve` fronts enqueue: pre-flights, runs, backups, restores, and
    the Slack messages (needs [bot] state_url_env and $SLACK_BOT_TOKEN).

    Workers heartbeat; a worker that dies is noticed by another within a minute, and
    its run is marked interrupted. One of them also runs the scheduler.
    """
    from bot.distributed.worker_process import WorkerOptions, run_worker

    configure_logging(logging.INFO, (ctx.obj or {}).get("log_format", "text"))
    run_worker(WorkerOptions(queues=queues, concurrency=concurrency, metrics_port=metrics_port))
