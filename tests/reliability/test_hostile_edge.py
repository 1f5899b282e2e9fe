"""What the bot's HTTP edge refuses before any listener acts, on the bot process:
forged, tampered, unsigned and stale signatures (401, unparsed), oversized
bodies (413, unread) and unknown action ids (acknowledged, ignored). Each is
sent for an approver on a pending request, where acceptance would start a run.
"""

from __future__ import annotations

import contextlib
import http.client
import time
from collections.abc import Callable, Iterator
from urllib.parse import urlparse

import pytest

from bot.adapters.http_mode import MAX_BODY
from bot.views.ids import ActionId
from commands.postgres.database_url import DatabaseUrl
from tests.support.reliability.bot_process import TEAM, find_element
from tests.support.reliability.hostile_support import (
    BOB,
    DEV,
    HostileBot,
    click_payload,
    hostile_bot,
    post_payload,
)
from tests.support.slack_requests import signature


@pytest.fixture(scope="module")
def target(
    pg_server: DatabaseUrl, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HostileBot]:
    with hostile_bot(pg_server, tmp_path_factory.mktemp("edge")) as bot:
        yield bot


def test_forged_tampered_and_stale_signatures_get_401_and_change_nothing(
    target: HostileBot, reliability: Callable[..., None]
) -> None:
    """BOB may approve: each of these, accepted, would start a run."""
    sender = target.bot.sender
    element = find_element(target.message, ActionId.APPROVE)
    body = sender.action_body(
        ActionId.APPROVE,
        target.pending,
        user=BOB,
        channel=DEV,
        message_ts=target.message.ts,
        block_id=element["_block_id"],
    )
    now = int(time.time())
    stamp = str(now)
    real = signature(sender.signing_secret, stamp, body)
    cases = {
        "another secret": lambda: sender.post(body, secret="f" * 64),
        "no signature": lambda: sender.post(body, headers={"X-Slack-Signature": ""}),
        "no timestamp": lambda: sender.post(body, headers={"X-Slack-Request-Timestamp": ""}),
        "v1 scheme": lambda: sender.post(body, headers={"X-Slack-Signature": "v1" + real[2:]}),
        "body changed after signing": lambda: sender.post(
            body + b"&x=1", headers={"X-Slack-Signature": real, "X-Slack-Request-Timestamp": stamp}
        ),
        "signed 301 s ago": lambda: sender.post(body, timestamp=now - 301),
        "signed an hour ago": lambda: sender.post(body, timestamp=now - 3600),
        "signed 10 min ahead": lambda: sender.post(body, timestamp=now + 600),
    }
    before, offset, calls = target.snapshot(), target.log_offset(), len(target.bot.slack.calls())
    answers = {name: send() for name, send in cases.items()}
    assert {name: status for name, (status, _) in answers.items()} == dict.fromkeys(cases, 401)
    target.quiet_since(offset)
    assert target.snapshot() == before
    assert len(target.bot.slack.calls()) == calls
    log = target.bot.log_text()[offset:]
    assert log.count("missing, wrong or stale signature") == len(cases)
    reliability(
        area="hostile input",
        fault="forged, tampered, unsigned and stale (> 5 min, or ahead) signatures on an"
        " approver's approve click",
        tried=len(cases),
        outcome="401 each, before the body is parsed; no Slack call, audit log untouched",
    )


CLOSED_UNREAD = 0  # the bot answered and closed before the body was sent, unread


def stream_body(
    url: str, body: bytes, *, declare: bool, headers: dict[str, str] | None = None
) -> int:
    """POST ``body`` in 64 KiB chunks, with a Content-Length or chunked; the status.

    The bot answers an oversized body before reading it and may close the
    connection while the rest is still being sent: then the answer is read if it
    arrived, else the result is ``CLOSED_UNREAD``.
    """
    parts = urlparse(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    view = memoryview(body)
    chunks = (view[i : i + 65536] for i in range(0, len(body), 65536))
    sent = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
    if declare:
        sent["Content-Length"] = str(len(body))
    try:
        # closed under our feet while sending: the answer may still be there to read
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            connection.request(
                "POST", "/slack/events", body=chunks, headers=sent, encode_chunked=not declare
            )
        return connection.getresponse().status
    except (ConnectionError, http.client.HTTPException):
        return CLOSED_UNREAD
    finally:
        connection.close()


def test_oversized_bodies_get_413_unread(
    target: HostileBot, reliability: Callable[..., None]
) -> None:
    sender, url = target.bot.sender, target.bot.url
    before, offset = target.snapshot(), target.log_offset()
    over = b"payload=" + b"a" * (MAX_BODY - 7)
    statuses = {
        "declared 1 MiB + 1": stream_body(url, b"a" * (MAX_BODY + 1), declare=True),
        "declared 64 MiB": stream_body(url, b"a" * (64 * MAX_BODY), declare=True),
        "chunked 2 MiB, no length": stream_body(url, b"a" * (2 * MAX_BODY), declare=False),
        "signed 1 MiB + 1": stream_body(
            url, over, declare=True, headers=sender.signed_headers(over)
        ),
    }
    refused = {413, CLOSED_UNREAD}
    assert all(status in refused for status in statuses.values()), statuses
    assert sender.post(b"payload=" + b"a" * (MAX_BODY - 8))[0] == 400  # at the limit: read
    target.quiet_since(offset)
    assert target.snapshot() == before
    reliability(
        area="hostile input",
        fault="oversized bodies: declared 1 MiB + 1 and 64 MiB, chunked 2 MiB, signed 1 MiB + 1",
        tried=len(statuses),
        outcome="413 each (or closed before the body was sent), the rest unread;"
        " a body at the limit is read (and refused, 400)",
    )


def test_unknown_action_ids_are_ignored(
    target: HostileBot, reliability: Callable[..., None]
) -> None:
    unknown = ["launch_missiles", "approve_all", "APPROVE", "approve ", "view_sql2", "x" * 255]
    before, offset = target.snapshot(), target.log_offset()
    calls = len(target.bot.slack.calls())
    for action_id in unknown:
        payload = click_payload(
            action_id=action_id,
            value=target.pending,
            block_id="b",
            user=BOB,
            team={"id": TEAM},
            element={},
            message_ts=target.message.ts,
        )
        assert post_payload(target, payload)[0] == 200
    target.quiet_since(offset)
    assert target.bot.log_text()[offset:].count("ignored an unknown action") == len(unknown)
    assert target.snapshot() == before
    assert len(target.bot.slack.calls()) == calls
    reliability(
        area="hostile input",
        fault="unknown action ids (an approver's click carrying a pending request's id)",
        tried=len(unknown),
        outcome="acknowledged and ignored (one log line each); no Slack call, nothing recorded",
    )
