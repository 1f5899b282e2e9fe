"""A target's limits for running revisions, read from its config."""

from __future__ import annotations

from commands.config.targets_file import TargetConfig
from commands.migration.runtime.executor import ExecutionSettings


def execution_settings(target: TargetConfig, *, server_major: int) -> ExecutionSettings:
    return ExecutionSettings(
        lock_timeout=target.lock_timeout,
        statement_timeout=target.statement_timeout,
        lock_retry_budget=target.lock_retry_budget,
        queue_budget=target.max_queue_wait,
        server_major=server_major,
    )
