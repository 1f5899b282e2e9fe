"""The local Slack-compatible server, driven by slack_sdk's real WebClient over HTTP."""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.local_slack.faults import Fault
from bot.local_slack.server import LocalSlackServer
from bot.local_slack.workspace import Workspace

TOKEN = "xoxb-local-test-token-000"


@pytest.fixture(scope="module")
def slack() -> Iterator[LocalSlackServer]:
    workspace = Workspace(
        users={"U0ALICE": "alice", "U0BOB": "bob"},
        usergroups={"S0DBA": ("db-admins", ["U0BOB"])},
    )
    with LocalSlackServer(workspace, bot_token=TOKEN) as server:
        yield server


@pytest.fixture
def client(slack: LocalSlackServer) -> WebClient:
    slack.clear_faults()
    return WebClient(token=TOKEN, base_url=slack.api_url, timeout=2)


def test_messages_threads_and_updates_are_modelled(
    slack: LocalSlackServer, client: WebClient
) -> None:
    posted = client.chat_postMessage(channel="C0OPS", text="hello", blocks=[{"type": "divider"}])
    reply = client.chat_postMessage(channel="C0OPS", text="detail", thread_ts=posted["ts"])
    client.chat_update(channel="C0OPS", ts=posted["ts"], text="hello again")
    assert float(reply["ts"]) > float(posted["ts"])
    parent = slack.workspace.messages["C0OPS"][posted["ts"]]
    assert (parent.text, parent.edited, parent.reply_count) == ("hello again", True, 1)
    assert slack.workspace.messages["C0OPS"][reply["ts"]].thread_ts == posted["ts"]
    with pytest.raises(SlackApiError) as missing:
        client.chat_update(channel="C0OPS", ts="1.000001", text="x")
    assert missing.value.response["error"] == "message_not_found"


def test_every_call_is_recorded_without_its_token(
    slack: LocalSlackServer, client: WebClient
) -> None:
    client.chat_postEphemeral(channel="C0OPS", user="U0ALICE", text="only you")
    call = slack.calls("chat.postEphemeral")[-1]
    assert call.args == {"channel": "C0OPS", "user": "U0ALICE", "text": "only you"}
    assert call.response["ok"] is True and call.at > 0
    assert all(TOKEN not in json.dumps(c.args) for c in slack.calls())
    bad = WebClient(token="xoxb-wrong-token-0000", base_url=slack.api_url)
    with pytest.raises(SlackApiError) as refused:
        bad.chat_postMessage(channel="C0OPS", text="x")
    assert refused.value.response["error"] == "invalid_auth"


def test_people_groups_dms_views_and_files(slack: LocalSlackServer, client: WebClient) -> None:
    assert client.usergroups_users_list(usergroup="S0DBA")["users"] == ["U0BOB"]
    assert client.users_info(user="U0BOB")["user"]["name"] == "bob"
    dm = client.conversations_open(users="U0ALICE")["channel"]["id"]
    opened = client.views_open(
        trigger_id=slack.workspace.new_trigger_id(),
        view={"type": "modal", "title": {"type": "plain_text", "text": "SQL"}, "blocks": []},
    )["view"]
    client.views_update(view_id=opened["id"], hash=opened["hash"], view={"type": "modal"})
    with pytest.raises(SlackApiError) as stale:
        client.views_update(view_id=opened["id"], hash=opened["hash"], view={"type": "modal"})
    assert stale.value.response["error"] == "hash_conflict"
    client.files_upload_v2(channel=dm, content="SELECT 1;", filename="plan.sql", title="plan")
    (stored,) = [f for f in slack.workspace.files.values() if f["name"] == "plan.sql"]
    assert stored["content"] == b"SELECT 1;"
    assert any(m.files == [stored["id"]] for m in slack.workspace.messages[dm].values())


def test_a_trigger_id_is_single_use(slack: LocalSlackServer, client: WebClient) -> None:
    trigger = slack.workspace.new_trigger_id()
    client.views_open(trigger_id=trigger, view={"type": "modal"})
    with pytest.raises(SlackApiError) as again:
        client.views_open(trigger_id=trigger, view={"type": "modal"})
    assert again.value.response["error"] == "exchanged_trigger_id"


def test_injected_faults_429_500_and_timeouts(slack: LocalSlackServer, client: WebClient) -> None:
    slack.inject(Fault("chat.update", status=429, retry_after=7))
    slack.inject(Fault("chat.postMessage", status=503, times=2))
    with pytest.raises(SlackApiError) as limited:
        client.chat_update(channel="C0OPS", ts="1.0", text="x")
    assert limited.value.response.status_code == 429
    assert limited.value.response.headers["Retry-After"] in ("7", ["7"])
    for _ in range(2):
        with pytest.raises(SlackApiError) as down:
            client.chat_postMessage(channel="C0OPS", text="x")
        assert down.value.response.status_code == 503
    assert client.chat_postMessage(channel="C0OPS", text="back")["ok"]
    slack.inject(Fault("auth.test", delay=1.5))
    slow = WebClient(token=TOKEN, base_url=slack.api_url, timeout=0.3)
    with pytest.raises(TimeoutError):
        slow.auth_test()


def test_subscribers_see_changes_as_they_happen(slack: LocalSlackServer, client: WebClient) -> None:
    seen = len(slack.workspace.changes)
    got: list[str] = []
    waiter = threading.Thread(
        target=lambda: got.extend(c.kind for c in slack.workspace.wait_for_changes(seen, 5))
    )
    waiter.start()
    client.chat_postMessage(channel="C0LIVE", text="now")
    waiter.join(5)
    assert got[:1] == ["message_posted"]


def test_response_urls_post_ephemeral_or_replace_the_original(
    slack: LocalSlackServer, client: WebClient
) -> None:
    original = client.chat_postMessage(channel="C0OPS", text="v1")["ts"]
    url = slack.response_url("C0OPS", "U0ALICE", original)
    deleted = client.chat_postMessage(channel="C0OPS", text="gone soon")["ts"]
    client.chat_delete(channel="C0OPS", ts=deleted)
    assert deleted not in slack.workspace.messages["C0OPS"]
    for body in ({"text": "just you"}, {"text": "v2", "replace_original": True}):
        request = urllib.request.Request(
            url, json.dumps(body).encode(), {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=5) as answer:
            assert json.load(answer)["ok"] is True
    assert slack.workspace.ephemerals[-1].text == "just you"
    assert slack.workspace.messages["C0OPS"][original].text == "v2"


def test_another_process_can_follow_changes_and_mint_interaction_ids(
    slack: LocalSlackServer, client: WebClient
) -> None:
    seen = len(slack.workspace.changes)
    client.chat_postMessage(channel="C0HTTP", text="over http")
    with urllib.request.urlopen(f"{slack.url}/_local/changes?after={seen}&timeout=5") as got:
        changes = json.load(got)
    assert changes[0]["seq"] == seen + 1 and changes[0]["data"]["text"] == "over http"
    with urllib.request.urlopen(f"{slack.url}/_local/changes?after=99999&timeout=0.1") as got:
        assert json.load(got) == []
    request = urllib.request.Request(
        f"{slack.url}/_local/interaction",
        json.dumps({"channel": "C0HTTP", "user": "U0BOB"}).encode(),
        {"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as got:
        ids = json.load(got)
    assert ids["response_url"].startswith(f"{slack.url}/response/")
    client.views_open(trigger_id=ids["trigger_id"], view={"type": "modal"})
