"""Property-based fuzzing of the bot process over HTTP: the /migrate grammar, every
button and checkbox it serves, and bodies, fields and headers of the wrong shape.

Each request is signed as Slack signs it (the fuzz is of what Slack, or
someone holding the secret, could send), from users who are neither the
requester nor an approver. Per request: an answer, never a 5xx; a grammar
mistake is answered in the acknowledgement itself. Per test: no traceback or
ERROR in the bot's log, nobody told "something went wrong", ``/health``
fine, and nothing changed but refusals recorded for the auditor (see
``hostile_support``). A few dozen cases per test in CI; thousands with --full.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit.redact import redact
from bot.adapters.payload_shape import payload_problem
from bot.views.ids import ActionId, BlockId, ViewId
from commands.postgres.database_url import DatabaseUrl
from commands.slash.commands import Verb
from commands.slash.grammar import CommandSyntaxError, parse
from tests.support.reliability.bot_process import TEAM
from tests.support.reliability.hostile_support import (
    ALICE,
    BOB,
    DEV,
    ELSEWHERE,
    EVE,
    FOREIGN_TEAM,
    HostileBot,
    click_payload,
    full_run,
    hostile_bot,
    post_payload,
    refusals_only,
)

CASES = {"grammar": (60, 2000), "clicks": (60, 2000), "malformed": (60, 1500)}
FUZZ_USERS = itertools.count(1)


@pytest.fixture(scope="module")
def target(
    pg_server: DatabaseUrl, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HostileBot]:
    with hostile_bot(pg_server, tmp_path_factory.mktemp("fuzz")) as bot:
        yield bot


def run_fuzz(
    request: pytest.FixtureRequest, name: str, strategy: st.SearchStrategy[Any], case: Callable
) -> int:
    """Run ``case`` on ``strategy``'s examples (few in CI, many with --full); how many ran."""
    fast, full = CASES[name]
    ran = 0

    @settings(
        max_examples=full if full_run(request) else fast,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def fuzz(example: Any) -> None:
        nonlocal ran
        ran += 1
        case(example)

    fuzz()
    return ran


def markers(workdir: Path) -> list[Path]:
    return sorted(workdir.glob("pwned*"))


# --- the grammar -----------------------------------------------------------------

NASTY = ["'", '"', ";", "\n", "\r\n", "\t", "`", "$(", ")", "|", "&&", "||", ">", "<", "*"]
NASTY += ["\\", "{", "}", "--", "/*", "\x00", "%s", "${IFS}", "\u202e", "é", "🚀", "<!channel>"]
WORDS = ["app", "APP", "demo", "to", "head", "base", "-1", "-9999", "M-1", "M-0", "m-2", "t_one"]
WORDS += ["t_two", "at", "next-window", "2031-02-03", "04:05", "UTC", "Europe/Paris", "verify"]
WORDS += ["payload", "payload=", "command=", "ssl_check=1"]  # form fields' names, as text


def injections(workdir: Path) -> list[str]:
    """Text that would create a table or a file if it ever reached SQL or a shell."""
    marker = workdir / "pwned_shell"
    return [
        "x'; CREATE TABLE pwned_sql (i int); --",
        "t_one; CREATE TABLE pwned_sql (i int)",
        '"; DROP TABLE alembic_version; --',
        "' OR '1'='1",
        f"$(touch {marker})",
        f"`touch {marker}`",
        f"x;touch {marker}",
        f"x|touch {marker}",
        f"x&&touch {marker}",
        f"x\ntouch {marker}",
        "app\nupgrade app",
    ]


def commands(workdir: Path) -> st.SearchStrategy[str]:
    word = st.one_of(
        st.sampled_from(WORDS + NASTY + injections(workdir)),
        st.text(max_size=24),
        st.from_regex(r"[a-z0-9_;'\"$`|&-]{1,12}", fullmatch=True),
    )
    verb = st.sampled_from([v.value for v in Verb] + ["audit", "upgrad", "UPGRADE", ""])
    sentence = st.builds(
        lambda v, ws, sep: sep.join([v, *ws]),
        verb,
        st.lists(word, max_size=6),
        st.sampled_from([" ", "  ", "\t", "\n", " \u00a0"]),
    )
    return st.one_of(sentence, st.text(max_size=200), st.text(min_size=990, max_size=1100))


def test_fuzzed_slash_commands_are_answered_and_change_nothing(
    target: HostileBot, request: pytest.FixtureRequest, reliability: Callable[..., None]
) -> None:
    bot = target.bot
    before, offset = target.snapshot(), target.log_offset()
    answered_later: list[str] = []

    def case(example: tuple[str, str]) -> None:
        text, channel = example
        user = f"U0FZ{next(FUZZ_USERS):05d}"  # one per case, to tell its answer apart
        bot.slack.workspace.users[user] = user.lower()
        body = bot.sender.command_body(text, user=user, channel=channel)
        status, answer = bot.sender.post(body)
        assert status == 200, (text, status, answer)
        try:
            parse(text)
        except CommandSyntaxError as error:
            assert json.loads(answer)["text"] == f"⚠️ {redact(str(error))}"
            return
        if not answer:
            answered_later.append(user)

    def hostile(example: tuple[str, str]) -> bool:
        """Not a valid ask for real work (status, plan, upgrade… of ``app`` from DEV)."""
        text, channel = example
        try:
            command = parse(text)
        except CommandSyntaxError:
            return True
        return not (channel == DEV and getattr(command, "target", "") in ("app", None))

    examples = st.tuples(commands(target.workdir), st.sampled_from([DEV, ELSEWHERE]))
    since = len(bot.slack.workspace.ephemerals)
    ran = run_fuzz(request, "grammar", examples.filter(hostile), case)
    target.quiet_since(offset, since)
    told = {e.user for e in bot.slack.workspace.ephemerals[since:]}
    assert set(answered_later) <= told, set(answered_later) - told
    refusals_only(before, target.snapshot())
    assert markers(target.workdir) == []
    reliability(
        area="hostile input",
        fault="fuzzed /migrate text (hypothesis: verbs, quotes, ;, newlines, $(…), 1 KB)",
        tried=ran,
        outcome="every one answered (mistakes in the ack, 0 tracebacks); no state change",
    )


# --- buttons and checkboxes ------------------------------------------------------


def clicks(target: HostileBot, workdir: Path) -> st.SearchStrategy[dict[str, Any]]:
    pending = target.pending
    request_ids = [pending, "M-1", "M-0", "M-99999999", "m1", "M-1 ", "P-1", "P-x", ""]
    texts = st.one_of(st.sampled_from(request_ids + injections(workdir)), st.text(max_size=40))
    options = st.lists(
        st.fixed_dictionaries({"value": st.one_of(st.text(max_size=20), st.sampled_from(NASTY))}),
        max_size=4,
    )
    element = st.one_of(
        st.just({}),
        st.builds(lambda o: {"type": "checkboxes", "selected_options": o}, options),
        st.just({"type": "static_select", "selected_option": None}),
    )
    block_ids = st.one_of(
        st.text(max_size=40),
        st.sampled_from(
            [f"{BlockId.DECIDE}:{'0' * 64}", f"{BlockId.CHECKLIST}:{pending}", "decide:", "x:"]
        ),
    )
    return st.builds(
        click_payload,
        action_id=st.one_of(
            st.sampled_from([*ActionId, "approve_x", "unknown", "", "🚀"]), st.text(max_size=20)
        ),
        value=st.one_of(st.none(), texts),
        block_id=block_ids,
        user=st.one_of(
            st.sampled_from([EVE, "U0NOBODY"]), st.from_regex(r"U0[A-Z0-9]{1,9}", fullmatch=True)
        ).filter(
            lambda u: u not in (ALICE, BOB)  # the requester and the approver are not fuzzed
        ),
        team=st.sampled_from([{"id": TEAM}, {"id": TEAM}, {"id": FOREIGN_TEAM}, None, ...]),
        element=element,
        message_ts=st.sampled_from([target.message.ts, "1.0", "9999999999.000001"]),
    )


def test_fuzzed_clicks_on_every_button_are_answered_and_change_nothing(
    target: HostileBot, request: pytest.FixtureRequest, reliability: Callable[..., None]
) -> None:
    before, offset = target.snapshot(), target.log_offset()
    since = len(target.bot.slack.workspace.ephemerals)

    def case(payload: dict[str, Any]) -> None:
        status, answer = post_payload(target, payload)
        expected = 400 if payload_problem(json.loads(json.dumps(payload))) else 200
        assert status == expected, (payload, status, answer)

    ran = run_fuzz(request, "clicks", clicks(target, target.workdir), case)
    target.quiet_since(offset, since)
    refusals_only(before, target.snapshot())
    assert markers(target.workdir) == []
    reliability(
        area="hostile input",
        fault="fuzzed clicks: every action id and unknown ones, junk values, block ids,"
        " checkboxes, users, team ids",
        tried=ran,
        outcome="every one answered, 0 tracebacks; only refusals recorded, no request changed",
    )


# --- wrong shapes, types and headers ---------------------------------------------

JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text()),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(), inner, max_size=3)
    ),
    max_leaves=8,
)
PATHS = [
    ("type",), ("user",), ("user", "id"), ("user", "team_id"), ("team",), ("team", "id"),
    ("channel",), ("channel", "id"), ("container",), ("container", "channel_id"),
    ("container", "message_ts"), ("actions",), ("actions", 0), ("actions", 0, "action_id"),
    ("actions", 0, "value"), ("actions", 0, "block_id"), ("actions", 0, "selected_options"),
    ("trigger_id",), ("response_url",), ("view",), ("message",), ("enterprise",),
    ("authorizations",), ("function_data",), ("is_enterprise_install",),
]  # fmt: skip
OTHER_TYPES = ["view_submission", "view_closed", "shortcut", "message_action", "block_suggestion"]
OTHER_TYPES += ["interactive_message", "dialog_submission", "event_callback", "url_verification"]
# a Schedule modal submitted for a request that does not exist: refused by the listener
VIEW_SUBMISSION = {
    "type": "view_submission",
    "user": {"id": EVE},
    "team": {"id": TEAM},
    "view": {
        "id": "V0FUZZ",
        "type": "modal",
        "callback_id": ViewId.SCHEDULE,
        "private_metadata": "R-0000000000",
        "state": {"values": {"b": {"a": {"type": "datepicker", "selected_date": "2030-01-01"}}}},
    },
    "response_urls": [],
}
VIEW_PATHS = [
    ("user",), ("user", "id"), ("view",), ("view", "callback_id"), ("view", "private_metadata"),
    ("view", "state"), ("view", "state", "values"), ("view", "state", "values", "b"),
    ("view", "state", "values", "b", "a"), ("response_urls",),
]  # fmt: skip


def mutated(base: dict[str, Any], path: tuple[Any, ...], value: Any, delete: bool) -> Any:
    """``base`` with the field at ``path`` replaced by ``value`` (or removed)."""
    payload = json.loads(json.dumps(base))
    holder = payload
    for step in path[:-1]:
        holder = holder[step]
    if delete and isinstance(holder, dict):
        holder.pop(path[-1], None)
    elif delete:
        del holder[path[-1]]
    else:
        holder[path[-1]] = value
    return payload


def wrong_shapes(target: HostileBot) -> st.SearchStrategy[tuple[str, Any]]:
    """(kind, thing): a click or a modal submission with one field of the wrong type or
    missing, another payload type, JSON that is no object, or raw bytes that are no
    payload at all."""
    base = click_payload(
        action_id=ActionId.APPROVE,
        value=target.pending,
        block_id="b",
        user=EVE,
        team={"id": TEAM},
        element={},
        message_ts="1.0",
    )
    fields = st.builds(
        lambda path, value, delete: ("payload", mutated(base, path, value, delete)),
        st.sampled_from(PATHS),
        JSON,
        st.booleans(),
    )
    views = st.builds(
        lambda path, value, delete: ("payload", mutated(VIEW_SUBMISSION, path, value, delete)),
        st.sampled_from(VIEW_PATHS),
        JSON,
        st.booleans(),
    )
    types = st.builds(
        lambda kind, extra: ("payload", {**base, "type": kind, **extra}),
        st.sampled_from(OTHER_TYPES),
        st.dictionaries(st.sampled_from(["view", "callback_id", "event", "challenge"]), JSON),
    )
    raw = st.one_of(
        st.builds(lambda v: ("payload", v), JSON),
        st.builds(lambda b: ("raw", b), st.binary(max_size=300)),
        st.builds(lambda t: ("raw", urlencode({"payload": t}).encode()), st.text(max_size=200)),
        st.builds(
            lambda d: ("raw", b'{"a":' + b"[" * d + b"]" * d + b"}"), st.integers(10, 300_000)
        ),
        st.builds(lambda d: ("payload-text", "[" * d + "]" * d), st.integers(10, 100_000)),
        st.builds(lambda t: ("raw", urlencode(t).encode()), st.dictionaries(st.text(), st.text())),
    )
    return st.one_of(fields, views, types, raw)


def bad_headers() -> st.SearchStrategy[dict[str, str]]:
    junk = st.one_of(
        st.sampled_from(["", "abc", "1e9", "-1", "99999999999999999999", "1.5", "v0=", "v1=00"]),
        st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=255), max_size=30),
    )
    return st.one_of(
        st.builds(lambda t: {"X-Slack-Request-Timestamp": t}, junk),
        st.builds(lambda s: {"X-Slack-Signature": s}, junk),
        st.builds(
            lambda t, s: {"X-Slack-Request-Timestamp": t, "X-Slack-Signature": s}, junk, junk
        ),
    )


def test_malformed_bodies_fields_and_headers_are_refused_cleanly(
    target: HostileBot, request: pytest.FixtureRequest, reliability: Callable[..., None]
) -> None:
    sender = target.bot.sender
    before, offset = target.snapshot(), target.log_offset()
    since = len(target.bot.slack.workspace.ephemerals)
    statuses: dict[int, int] = {}

    def case(example: tuple[tuple[str, Any], dict[str, str] | None]) -> None:
        (kind, thing), headers = example
        if kind == "payload":
            status, answer = post_payload(target, thing, headers)
        elif kind == "payload-text":
            status, answer = sender.post(urlencode({"payload": thing}).encode(), headers=headers)
        else:
            status, answer = sender.post(thing, headers=headers)
        statuses[status] = statuses.get(status, 0) + 1
        assert status in (200, 400, 401), (kind, thing, headers, status, answer)
        if headers:
            assert status == 401, (kind, thing, headers, status, answer)

    examples = st.tuples(wrong_shapes(target), st.one_of(st.none(), st.none(), bad_headers()))
    ran = run_fuzz(request, "malformed", examples, case)
    target.quiet_since(offset, since)
    refusals_only(before, target.snapshot())
    reliability(
        area="hostile input",
        fault="malformed bodies: wrong types, missing fields (clicks and modal submissions),"
        " other payload types, broken or 200k-deep JSON, raw bytes; junk signature and"
        " timestamp headers",
        tried=ran,
        outcome=f"refused {statuses.get(400, 0)}x 400, {statuses.get(401, 0)}x 401, rest"
        " answered; no 5xx, 0 tracebacks; no state change",
    )
