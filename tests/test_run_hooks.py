"""``before_run``/``after_run`` hooks on their own: real child processes and a real
HTTP webhook. What they print comes back short and redacted; database URLs never
reach them; a hook past its timeout is killed with its children."""

from __future__ import annotations

import json
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from bot.adapters.server_thread import ServerThread
from commands.config.schedule import Hook
from commands.pipeline.hooks import OUTPUT_CHARS, hook_facts, run_hook, summarise

FACTS = hook_facts("before_run", request_id="M-4", target="prod", kind="upgrade", goal="head")


def python(code: str) -> Hook:
    return Hook(argv=(sys.executable, "-c", textwrap.dedent(code)))


def test_a_command_gets_the_facts_but_not_the_database_urls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PROD_DATABASE_URL", "postgresql://app:hunter2secret@db/prod")
    monkeypatch.setenv("DEPLOY_API", "https://deploys.internal")
    hook = python(
        """
        import os
        print("request", os.environ["MIGRATE_BOT_REQUEST_ID"], os.environ["MIGRATE_BOT_PHASE"])
        print("deploy api", os.environ.get("DEPLOY_API"))
        print("database", os.environ.get("PROD_DATABASE_URL", "hidden"))
        """
    )
    result = run_hook(hook, FACTS, timeout=20, hidden_env={"PROD_DATABASE_URL"})
    assert result.ok and result.detail == "exited 0"
    assert result.output.splitlines() == [
        "request M-4 before_run",
        "deploy api https://deploys.internal",
        "database hidden",
    ]
    assert result.to_json()["phase"] == "before_run"


def test_failures_and_what_they_print_come_back_redacted_and_short() -> None:
    hook = python(
        """
        import sys
        for n in range(50):
            print("line", n, "x" * 150)
        print("connecting to postgresql://app:hunter2secret@db/prod failed")
        print("token xoxb-1234-5678-abcdefghijkl")
        sys.exit(3)
        """
    )
    result = run_hook(hook, FACTS, timeout=20)
    assert not result.ok and result.detail == "exited 3"
    assert "hunter2secret" not in result.output and "xoxb-1234" not in result.output
    assert "postgresql://app:***@db/prod" in result.output
    assert len(result.output) <= OUTPUT_CHARS and "line 49" in result.output
    assert "line 10 " not in result.output
    missing = run_hook(Hook(argv=("/nonexistent/deployctl", "freeze")), FACTS, timeout=5)
    assert not missing.ok and missing.detail.startswith("could not start")
    assert summarise("") == ""


def test_a_hook_past_its_timeout_is_killed_with_its_children(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    hook = python(
        f"""
        import subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        open({str(pid_file)!r}, "w").write(str(child.pid))
        print("freezing deployments…", flush=True)
        time.sleep(60)
        """
    )
    result = run_hook(hook, FACTS, timeout=2)
    assert not result.ok and result.detail.startswith("timed out after")
    assert result.duration_s < 30 and "freezing deployments" in result.output
    grandchild = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while alive(grandchild):
        assert time.monotonic() < deadline, "the hook's child outlived its timeout"
        time.sleep(0.05)


def alive(pid: int) -> bool:
    """Running or sleeping; a zombie (killed, not yet reaped) is dead."""
    try:
        return "State:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False


@pytest.fixture(scope="module")
def webhook() -> Iterator[tuple[str, list[dict]]]:
    received: list[dict] = []

    async def hook(request: Request) -> PlainTextResponse:
        received.append(json.loads(await request.body()))
        status = int(request.path_params["status"])
        return PlainTextResponse(f"deployments frozen ({status})", status_code=status)

    app = Starlette(routes=[Route("/hooks/{status:int}", hook, methods=["POST"])])
    with ServerThread(app) as server:
        yield server.url, received


def test_a_webhook_is_posted_the_facts_and_its_answer_decides(
    webhook: tuple[str, list[dict]],
) -> None:
    url, received = webhook
    ok = run_hook(Hook(url=f"{url}/hooks/200?token=s3cretvalue"), FACTS, timeout=10)
    assert ok.ok and ok.detail == "answered 200" and ok.output == "deployments frozen (200)"
    assert ok.hook == f"{url}/hooks/200" and "s3cretvalue" not in json.dumps(ok.to_json())
    assert received[-1] == {**FACTS}
    refused = run_hook(Hook(url=f"{url}/hooks/503"), FACTS, timeout=10)
    assert not refused.ok and refused.detail == "answered 503"
    gone = run_hook(Hook(url="http://127.0.0.1:9/hooks"), FACTS, timeout=5)
    assert not gone.ok and gone.detail.startswith("could not be reached")
