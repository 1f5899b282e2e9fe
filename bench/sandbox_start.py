"""Start-up of the sandbox: `migrate-bot serve` (no Slack credentials) to a page that answers.

Each run starts `migrate-bot serve --port 0` in the same empty folder, as a new
user's first `make run` does (the first run also creates the embedded
PostgreSQL under var/; later runs reuse it and only reset the demo database),
and times, from the spawn:

- "page": the page (GET /) answers 200 — the URL is usable in a browser;
- "ready": GET /health answers 200 — the demo database is reset and seeded,
  so `/migrate upgrade demo` can be typed;
- "status": the answer to `/migrate status demo`, typed on the page, is
  posted (the real bot, an Alembic child process, the database).

Then it stops the process with SIGTERM and times that too.

    .venv/bin/python bench/sandbox_start.py [--runs 3] [--rows 20000]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.sandbox.people import default_people  # noqa: E402
from commands.config.targets_file import demo_config  # noqa: E402

ENV_DROPPED = ("SLACK_APP_TOKEN", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "MIGRATE_BOT_CONFIG")


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def until(check: Callable[[], bool], deadline: float) -> float:
    while time.monotonic() < deadline:
        if check():
            return time.monotonic()
        time.sleep(0.02)
    raise SystemExit("timed out")


def one_run(folder: Path, rows: int) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if k not in ENV_DROPPED}
    migrate_bot = str(Path(sys.executable).with_name("migrate-bot"))
    began = time.monotonic()
    process = subprocess.Popen(
        [migrate_bot, "serve", "--port", "0", "--demo-rows", str(rows)],
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = None
        for line in process.stdout:
            found = re.search(r"migrate-bot sandbox: (http://\S+/)", line)
            if found:
                url = found.group(1)
                break
        if url is None:
            raise SystemExit("the sandbox printed no URL")
        deadline = began + 300
        page = until(lambda: status_of(url) == 200, deadline)
        ready = until(lambda: status_of(f"{url}health") == 200, deadline)
        asked = time.monotonic()
        answered = ask_status(url, deadline)
        stopping = time.monotonic()
        process.send_signal(signal.SIGTERM)
        process.wait(60)
        stopped = time.monotonic()
    finally:
        if process.poll() is None:
            process.kill()
    return {
        "page": page - began,
        "ready": ready - began,
        "status": answered - asked,
        "stop": stopped - stopping,
    }


def ask_status(url: str, deadline: float) -> float:
    body = json.dumps(
        {
            "user": default_people().requester.id,
            "channel": demo_config().bot.ops_channel,
            "text": "/migrate status demo",
        }
    ).encode()
    request = urllib.request.Request(
        f"{url}sandbox/command", body, {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        assert json.load(answer)["status"] == 200
    seen = 0
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{url}_local/changes?after={seen}&timeout=5") as got:
            changes = json.load(got)
        for change in changes:
            seen = change["seq"]
            if change["kind"] == "ephemeral_posted":
                return time.monotonic()
    raise SystemExit("no answer to /migrate status demo")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rows", type=int, default=20_000, help="--demo-rows")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sandbox-start-") as folder:
        runs = [one_run(Path(folder), args.rows) for _ in range(args.runs)]
    print(f"{'run':>4} {'page s':>8} {'ready s':>8} {'status s':>9} {'stop s':>7}")
    for number, run in enumerate(runs, start=1):
        first = " (creates var/postgres)" if number == 1 else ""
        print(
            f"{number:>4} {run['page']:>8.2f} {run['ready']:>8.2f} {run['status']:>9.2f}"
            f" {run['stop']:>7.2f}{first}"
        )
    if len(runs) > 1:
        page = statistics.median(r["page"] for r in runs[1:])
        ready = statistics.median(r["ready"] for r in runs[1:])
        print(f"median of runs 2-{len(runs)}: page {page:.2f} s, ready {ready:.2f} s")


if __name__ == "__main__":
    main()
