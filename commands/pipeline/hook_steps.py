"""The hooks around a run: ``before_run`` first, ``after_run`` last, whatever happened.

``before_run`` hooks run in order once the run has started and before its
pre-flight; the first that fails fails the run at ``before_run``, before
anything was changed. ``after_run`` hooks all run after the last step,
whether it succeeded, failed or was aborted (also after a failed
``before_run``, which may have frozen half of what it meant to); their
failure is reported but does not change the outcome. Each hook's result is
recorded (``hook_ran``) and sent to the watchers with its output.
"""

from __future__ import annotations

from commands.config.schedule import Hook
from commands.pipeline.hooks import (
    HookResult,
    database_env_names,
    hook_facts,
    record_hook,
    run_hook,
)
from commands.pipeline.progress import RunStep, UpdateKind
from commands.pipeline.stages import Stages
from commands.state.vocabulary import RequestState, StepStatus

HOOK_EVENT = "hook"  # ``RunUpdate.data["event"]`` of a hook's result


def run_before_hooks(stages: Stages) -> None:
    """Raises ``StageFailed`` at the first hook that fails."""
    hooks = stages.handle.config.before_run
    if not hooks:
        return
    step = RunStep.BEFORE_RUN
    stages.begin(step, f"running {len(hooks)} before_run hook(s)")
    for hook in hooks:
        result = _run(stages, step, hook, outcome=None)
        if not result.ok:
            raise stages.fail(step, f"{result.summary}: the run stops, nothing was changed")
    stages.succeed(step, f"{len(hooks)} before_run hook(s) succeeded")


def run_after_hooks(stages: Stages, outcome: RequestState) -> None:
    """Every hook runs; never raises for a hook's failure (the run's outcome stands)."""
    hooks = stages.handle.config.after_run
    if not hooks:
        return
    step = RunStep.AFTER_RUN
    stages.record(step, StepStatus.STARTED, f"running {len(hooks)} after_run hook(s)")
    results = [_run(stages, step, hook, outcome=outcome) for hook in hooks]
    failed = [r.summary for r in results if not r.ok]
    if failed:
        stages.record(step, StepStatus.FAILED, "; ".join(failed))
    else:
        stages.record(step, StepStatus.SUCCEEDED, f"{len(hooks)} after_run hook(s) succeeded")


def _run(stages: Stages, step: RunStep, hook: Hook, *, outcome: RequestState | None) -> HookResult:
    request = stages.request
    facts = hook_facts(
        step.value,
        request_id=request.id,
        target=request.target,
        kind=request.kind.value,
        goal=request.goal,
        outcome=outcome.value if outcome is not None else None,
    )
    config = stages.handle.config
    result = run_hook(
        hook,
        facts,
        timeout=config.hook_timeout,
        hidden_env=database_env_names(stages.context.config),
    )
    record_hook(stages.context.store, result, actor=stages.context.actor, facts=facts)
    stages.emit(
        step,
        UpdateKind.PROGRESS,
        result.summary,
        data={"event": HOOK_EVENT, **result.to_json()},
    )
    return result
