"""``before_run`` / ``after_run`` hooks: the runbook's "Freeze new deployments and pause
scheduled jobs" (§5.1) and "Resume automated deployments" (§8.1), run by the bot.

A hook is a command (an argument list, never a shell string) or a webhook URL
(POSTed a JSON body). Each gets the run's facts: commands as ``MIGRATE_BOT_*``
environment variables, webhooks as JSON. A command inherits the bot's
environment except the variables that hold database URLs; it is killed with
its process group at the timeout. What a hook printed or answered is kept
short and redacted before it is recorded (``hook_ran``) or shown.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from audit.redact import redact
from audit.store import EventStore
from commands.config.schedule import Hook
from commands.config.targets_file import Config
from commands.state.vocabulary import EventKind
from commands.units import format_duration

OUTPUT_LINES = 5
OUTPUT_CHARS = 500
KEEP_BYTES = 16 * 1024


@dataclass(frozen=True)
class HookResult:
    """How one hook went; ``output`` is already redacted and cut short."""

    phase: str
    hook: str  # the hook as shown (``Hook.display``), redacted
    ok: bool
    detail: str  # "exited 0", "answered 503", "timed out after 30 s"…
    duration_s: float
    output: str

    @property
    def summary(self) -> str:
        return f"{self.phase} `{self.hook}` {self.detail} in {format_duration(self.duration_s)}"

    def to_json(self) -> dict[str, object]:
        return {
            "phase": self.phase,
            "hook": self.hook,
            "ok": self.ok,
            "detail": self.detail,
            "duration_s": round(self.duration_s, 3),
            "output": self.output,
        }


def hook_facts(
    phase: str, *, request_id: str, target: str, kind: str, goal: str, outcome: str | None = None
) -> dict[str, str]:
    """What a hook is told of the run (``outcome`` for ``after_run`` only)."""
    facts = {"phase": phase, "request_id": request_id, "target": target, "kind": kind, "goal": goal}
    if outcome is not None:
        facts["outcome"] = outcome
    return facts


def run_hook(
    hook: Hook,
    facts: Mapping[str, str],
    *,
    timeout: float,
    hidden_env: Collection[str] = (),
) -> HookResult:
    """Run one hook to its end or its timeout. Never raises for the hook's own failure."""
    started = time.monotonic()
    if hook.url is not None:
        ok, detail, output = _call_webhook(hook.url, facts, timeout)
    else:
        ok, detail, output = _run_command(hook.argv, facts, timeout, hidden_env)
    return HookResult(
        phase=facts["phase"],
        hook=redact(hook.display),
        ok=ok,
        detail=redact(detail),
        duration_s=time.monotonic() - started,
        output=summarise(output),
    )


def record_hook(
    store: EventStore, result: HookResult, *, actor: str, facts: Mapping[str, str]
) -> None:
    """Append the hook's ``hook_ran`` event to the request's record."""
    store.append(
        kind=EventKind.HOOK_RAN,
        actor=actor,
        request_id=facts["request_id"],
        target=facts["target"],
        data=result.to_json(),
    )


def database_env_names(config: Config) -> frozenset[str]:
    """The environment variables that hold a database URL (a fleet's members' too): hooks
    never see them."""
    names = {t.database_url_env for t in config.targets.values()}
    names |= {t.replica_url_env for t in config.targets.values()}
    names |= {t.fleet.members_env for t in config.targets.values() if t.fleet}
    return frozenset(n for n in names if n)


def summarise(output: str) -> str:
    """The last few lines of ``output``, redacted, at most ``OUTPUT_CHARS`` characters."""
    lines = [line.rstrip() for line in redact(output).splitlines() if line.strip()]
    text = "\n".join(lines[-OUTPUT_LINES:])
    return text if len(text) <= OUTPUT_CHARS else "…" + text[-(OUTPUT_CHARS - 1) :]


def _run_command(
    argv: tuple[str, ...], facts: Mapping[str, str], timeout: float, hidden: Collection[str]
) -> tuple[bool, str, str]:
    env = {k: v for k, v in os.environ.items() if k not in hidden}
    env.update({f"MIGRATE_BOT_{key.upper()}": value for key, value in facts.items()})
    try:
        child = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # its own process group: a timeout kills its children too
        )
    except OSError as exc:
        return False, f"could not start: {exc.strerror or exc}", ""
    try:
        out, _ = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        out, _ = child.communicate()
        return False, f"timed out after {format_duration(timeout)}", _text(out)
    code = child.returncode
    detail = f"exited {code}" if code >= 0 else f"was killed by signal {-code}"
    return code == 0, detail, _text(out)


def _call_webhook(url: str, facts: Mapping[str, str], timeout: float) -> tuple[bool, str, str]:
    request = urllib.request.Request(
        url,
        data=json.dumps(dict(facts)).encode(),
        headers={"Content-Type": "application/json", "User-Agent": "migrate-bot"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return True, f"answered {answer.status}", _text(answer.read(KEEP_BYTES))
    except urllib.error.HTTPError as exc:
        return False, f"answered {exc.code}", _text(exc.read(KEEP_BYTES))
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        reason = getattr(exc, "reason", exc)
        return False, f"could not be reached: {reason}", ""


def _text(raw: bytes | None) -> str:
    return (raw or b"")[-KEEP_BYTES:].decode("utf-8", errors="replace")
