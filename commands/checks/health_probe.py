"""One GET of a target's health URL, as the runbook's `curl …/health` does.

Used by the verification after a run and by the watch, which asks it again
and again while it watches.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from dataclasses import dataclass

HEALTH_TIMEOUT_S = 10


@dataclass(frozen=True)
class HealthAnswer:
    """A 2xx is healthy; ``status`` None: no HTTP answer at all (``error`` says why)."""

    url: str
    status: int | None
    seconds: float
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def describe(self) -> str:
        if self.status is None:
            return f"{self.url} did not answer: {self.error}"
        return f"{self.url} answered {self.status}"


def probe_health(url: str, *, timeout: float = HEALTH_TIMEOUT_S) -> HealthAnswer:
    started = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return HealthAnswer(url, None, time.monotonic() - started, str(reason))
    return HealthAnswer(url, status, time.monotonic() - started)
