"""``make run`` as the README gives it, in a real browser, walked to a successful run;
the screenshot of the README comes from it (``make screenshot``)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

from playwright.sync_api import Browser, expect

from tests.support.sandbox_page import (
    APPROVER,
    messages,
    send,
    switch_to,
)


def test_make_run_is_the_sandbox_of_the_readme_and_its_screenshot(
    browser: Browser, tmp_path: Path, artifacts: Path
) -> None:
    """`make run PORT=…` as a new user types it (the default 20,000 segments), walked to a
    successful run. Its screenshot lands in test-artifacts/; `make screenshot` runs this test
    with MIGRATE_BOT_SCREENSHOT=docs to refresh the README's picture, docs/sandbox.png."""
    root = Path(__file__).resolve().parents[1]
    venv = root / ".venv"
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MIGRATE_BOT_"))}
    env.pop("PORT", None)
    env["PYTHONFAULTHANDLER"] = "1"  # SIGABRT then prints every thread's stack (a hang's)
    command = ["make", "-s", "-f", str(root / "Makefile"), f"VENV={venv}"]
    command += ["-o", f"{venv}/.installed", "run", f"PORT={port}"]
    started = time.monotonic()
    process = subprocess.Popen(
        command,
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    printed: list[str] = []
    rest: list[str] = []  # what it prints after "Ctrl-C stops it"
    try:
        assert process.stdout is not None
        for line in process.stdout:
            printed.append(line)
            if line.startswith("Ready in"):
                waited = time.monotonic() - started
            if line.startswith("Ctrl-C stops it"):
                break
        # read on as it comes, so the sandbox never waits on its prints
        draining = threading.Thread(target=rest.extend, args=(process.stdout,), daemon=True)
        draining.start()
        assert any("20,000 segments" in line for line in printed), printed
        assert f"http://127.0.0.1:{port}/" in printed[0], printed  # printed before the bot loads
        assert printed[1].startswith("Ready in"), printed  # no library's chatter between
        said = float(
            re.search(r"^Ready in ([\d.]+) s \(since the command started\)", printed[1])[1]
        )
        assert waited - 1.5 <= said <= waited + 0.1, (said, waited)  # counted from the command
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        page.goto(f"http://127.0.0.1:{port}/")
        expect(page.locator("body")).to_have_attribute("data-loaded", "true")
        send(page, "/migrate upgrade demo")
        asked = messages(page, "message").filter(has=page.locator("[data-action-id^=approve]"))
        expect(asked.last).to_be_visible(timeout=60_000)
        request = page.locator(
            f'#messages article[data-ts="{asked.last.get_attribute("data-ts")}"]'
        )
        boxes = request.locator(".checkboxes input[type=checkbox]")
        for index in range(boxes.count()):
            boxes.nth(index).click()
            expect(boxes.nth(index)).to_be_checked()
        switch_to(page, APPROVER)
        acknowledge = request.locator('[data-block-id^="live_use:"] input[type=checkbox]')
        acknowledge.click()  # the demo's simulated app still reads what the last revision drops
        expect(request).to_contain_text("acknowledged by", timeout=60_000)
        request.locator("[data-action-id^=approve]").click()
        expect(request).to_contain_text("Succeeded", timeout=180_000)
        request.locator(".b-header").evaluate("node => node.scrollIntoView({block: 'start'})")
        expect(request.locator(".b-header")).to_be_in_viewport()
        page.screenshot(path=screenshot_path(root, artifacts))
        context.close()
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # make and the sandbox, as Ctrl-C would
        stopped_within(process, SHUTDOWN_S, rest)
    draining.join(30)
    said = "".join(rest)
    assert "stopping the sandbox" in said, rest[-20:]
    # the end of a clean stop; past bot.runtime.SHUTDOWN_LIMIT_S (110 s) the bot instead
    # writes every thread's stack (faulthandler's "Timeout") and exits: shown here
    assert said.rstrip().endswith("the sandbox has stopped"), rest[-300:]


# past the bot's own limit, so that its stacks come first (twice a clean clone's run
# did not stop within 60 and 120 s after SIGTERM, before the bot had a limit)
SHUTDOWN_S = 150


def stopped_within(process: subprocess.Popen[str], seconds: float, output: list[str]) -> None:
    """Wait for ``process``; past ``seconds``, fail with what its group was still running
    and its threads' stacks (``output``: what it printed, read meanwhile)."""
    try:
        process.wait(seconds)
    except subprocess.TimeoutExpired:
        ps = ["ps", "-o", "pid,stat,etime,args", "-g", str(process.pid)]
        still = subprocess.run(ps, capture_output=True, text=True, check=False).stdout
        os.killpg(process.pid, signal.SIGABRT)  # the bot's threads' stacks, to its output
        time.sleep(2)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(30)
        stacks = "".join(output[-300:])
        said = f"not stopped {seconds} s after SIGTERM; still running:\n{still}\n{stacks}"
        raise AssertionError(said) from None


def screenshot_path(root: Path, artifacts: Path) -> Path:
    """test-artifacts/ by default: a test run must not rewrite a tracked file."""
    if os.environ.get("MIGRATE_BOT_SCREENSHOT") == "docs":
        return root / "docs" / "sandbox.png"
    return artifacts / "sandbox.png"
