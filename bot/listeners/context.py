"""What a command handler gets, and the table that maps commands to handlers.

This is the seam the request service and the pipeline plug into: a handler
is ``handler(command, ctx)``, runs on the worker after the ``ack()``, and
answers through ``ctx.reply``. Register more with ``build_app(handlers=...)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.flows.plan_cache import RecentPlans
from bot.invocation import Invocation
from bot.listeners.shared_work import SharedWork
from bot.slack_api.replies import Replier
from commands.config.targets_file import Config, TargetConfig
from commands.targets import TargetHandle


@dataclass(frozen=True)
class CommandContext:
    """Everything a handler may use; nothing of Bolt's."""

    invocation: Invocation
    reply: Replier
    config: Config
    plans: RecentPlans
    open_target: Callable[[TargetConfig], TargetHandle]
    shared: SharedWork = field(default_factory=SharedWork)  # one per app: see build_app


CommandHandler = Callable[[Any, CommandContext], None]
