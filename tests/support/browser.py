"""Browser fixtures: Debian's Chromium driven by Playwright, one browser per session.

The browser is Debian's (apt package ``chromium``), never one Playwright
downloads. On a fresh machine the suite installs it, with an emoji font so
screenshots read as in a desktop browser, when we are root and apt-get is
there; elsewhere the browser tests are skipped and say why.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
EMOJI_FONT = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
INSTALL_TIMEOUT_S = 900


def apt_install(*packages: str) -> str | None:
    """Install Debian ``packages``; ``None`` when done, else why it could not be."""
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        return f"cannot install {' '.join(packages)}: not root with apt-get (install them by hand)"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in ([apt, "update", "-q"], [apt, "install", "-y", "-q", *packages]):
        try:
            done = subprocess.run(
                argv,
                check=False,
                env=env,
                capture_output=True,
                text=True,
                timeout=INSTALL_TIMEOUT_S,
            )
        except subprocess.TimeoutExpired:
            return f"{' '.join(argv)} took longer than {INSTALL_TIMEOUT_S} s"
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            return f"{' '.join(argv)} failed: {' / '.join(tail)}"
    return None


def chromium_or_reason() -> str | None:
    """Make sure Debian's Chromium is there; ``None`` when it is, else why it is not."""
    wanted = {"chromium": CHROMIUM, "fonts-noto-color-emoji": EMOJI_FONT}
    missing = [package for package, path in wanted.items() if not path.exists()]
    if not missing:
        return None
    reason = apt_install(*missing)
    if CHROMIUM.exists():
        return None  # the emoji font only makes screenshots prettier
    return reason or f"{CHROMIUM} is still missing after installing chromium"


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    reason = chromium_or_reason()
    if reason is not None:
        pytest.skip(f"no browser for the sandbox tests: {reason}")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS
        )
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where screenshots go (``test-artifacts/``, kept out of git)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
