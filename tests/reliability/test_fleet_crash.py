"""A fleet run and a SIGKILL: a real bot process (``migrate-bot serve``) killed while one
member sits inside a revision, then restarted on the same state file.

After the restart every member is explained and nothing resumes: the members that
succeeded stay succeeded, the one in flight is interrupted at the revision its
database actually holds (PostgreSQL rolled the revision in flight back), the ones
whose turn had not come did not start; the ops channel is told once, and the hash
chain verifies.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.local_slack.workspace import Message
from commands.postgres.database_url import DatabaseUrl
from commands.requests import Request, open_requests
from commands.state.audit_log import open_audit_log
from commands.state.audit_reading import verify
from commands.state.vocabulary import EventKind, MemberState, RequestState
from tests.support.fleet_support import SLOW_HISTORY, SLOW_REVISION, fleet_target
from tests.support.reliability.bot_process import BotProcess, wait_for
from tests.support.reliability.world import ALICE, BOB, CHANNELS, DEV, OPS, USERS

MEMBERS = ("f1", "f2", "f3", "f4", "f5")
SLOW = "f3"  # its second revision sleeps: the kill lands inside it, on one member
KEYS = 'waves = ["1", "100%"]\nconcurrency = 2\nmax_failures = 2\n'
TIMEOUT = 240


def request_message(bot: BotProcess) -> Message:
    found = [m for m in bot.messages(DEV) if "(fleet)" in json.dumps(m.blocks)]
    return found[0] if found else None  # type: ignore[return-value]


@pytest.mark.slow  # a whole fleet killed and restarted: `make reliability` runs it
def test_a_fleet_killed_mid_run_is_explained_member_by_member_and_never_resumes(
    pg_server: DatabaseUrl, tmp_path: Path
) -> None:
    fleet = fleet_target(tmp_path, pg_server, MEMBERS, revisions=SLOW_HISTORY, keys=KEYS)
    fleet.slow_down(SLOW)
    requests = open_requests(fleet.config)
    try:
        with BotProcess(
            tmp_path / "migrate-bot.toml",
            workdir=tmp_path,
            users=USERS,
            channels=CHANNELS,
            environ=fleet.environ,
        ) as bot:
            assert bot.command("upgrade tenants", user=ALICE, channel=DEV) == 200
            message = wait_for(lambda: request_message(bot), TIMEOUT, "the fleet request")
            request_id = str(message.blocks[0]["text"]["text"]).split(" ")[0]
            assert bot.click(message, "approve", user=BOB) == 200

            def in_flight() -> Request | None:
                found = requests.get(request_id)
                slow = found.members[SLOW]
                done = found.members["f1"].state is MemberState.SUCCEEDED
                return found if done and slow.revision_running == SLOW_REVISION else None

            wait_for(in_flight, TIMEOUT, f"{SLOW} inside its sleeping revision")
            bot.kill()
            assert requests.get(request_id).state is RequestState.RUNNING
            bot.start()

            after = wait_for(
                lambda: (r := requests.get(request_id)).state.is_final and r,
                TIMEOUT,
                "the fleet marked interrupted",
            )
            assert after.state is RequestState.INTERRUPTED
            members = after.members
            assert members["f1"].state is MemberState.SUCCEEDED
            assert members[SLOW].state is MemberState.INTERRUPTED
            assert members[SLOW].database_revisions == ("orders",) == fleet.revision_of(SLOW)
            for name, member in members.items():
                held = fleet.revision_of(name)
                if member.state is MemberState.SUCCEEDED:
                    assert held == ("refunds",), name
                elif member.state is MemberState.INTERRUPTED:
                    assert member.database_revisions == held, name
                else:
                    assert member.state is MemberState.NOT_STARTED, (name, member.state)
                    assert held == (), name

            told = wait_for(
                lambda: [m for m in bot.messages(OPS) if request_id in m.text], TIMEOUT, "ops"
            )
            assert len(told) == 1 and "interrupted" in told[0].text
            assert f"`{SLOW}` was interrupted" in json.dumps(told[0].blocks)
            store = open_audit_log(fleet.config.bot.state)
            interrupted = store.events(request_id=request_id, kinds=[EventKind.RUN_INTERRUPTED])
            last_seq = store.events(request_id=request_id)[-1].seq
            assert len(interrupted) == 1 and verify(store).ok
            # nothing resumes: the bot answers, and the fleet's log has not moved since
            assert bot.command("status tenants", user=ALICE, channel=DEV) == 200
            wait_for(lambda: bot.slack.workspace.ephemerals, TIMEOUT, "the status answer")
            assert store.events(request_id=request_id)[-1].seq == last_seq
            assert fleet.revision_of(SLOW) == ("orders",)
    finally:
        fleet.drop()
