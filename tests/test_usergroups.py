"""User groups looked up in Slack for the approval policy: handles, ids, the TTL cache,
and a sentence (not a silent "no") when Slack cannot answer."""

from __future__ import annotations

import pytest

from bot.local_slack.faults import Fault
from bot.local_slack.server import LocalSlackServer
from bot.local_slack.workspace import Workspace
from bot.slack_api.replies import web_client
from bot.slack_api.usergroups import SlackUserGroups, UserGroupUnavailableError

TOKEN = "xoxb-groups-token"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_members_by_handle_or_id_are_cached_for_the_ttl() -> None:
    workspace = Workspace(
        users={"U0A": "a", "U0B": "b", "U0C": "c"}, usergroups={"S0DBA": ("dbas", ["U0A"])}
    )
    clock = Clock()
    with LocalSlackServer(workspace, bot_token=TOKEN) as slack:
        groups = SlackUserGroups(web_client(TOKEN, slack.api_url), ttl=60, clock=clock)
        assert groups("@dbas") == {"U0A"} and groups("S0DBA") == {"U0A"}
        assert groups("@nobody") == frozenset()
        assert len(slack.calls("usergroups.list")) == 1
        assert len(slack.calls("usergroups.users.list")) == 1
        workspace.usergroups["S0DBA"] = ("dbas", ["U0A", "U0B"])
        assert groups("@dbas") == {"U0A"}  # still cached
        clock.now += 61
        assert groups("@dbas") == {"U0A", "U0B"}
        assert groups.expand(["U0C", "@dbas", "U0A"]) == ["U0C", "U0A", "U0B"]


def test_slack_failing_refuses_with_a_sentence() -> None:
    with LocalSlackServer(Workspace(), bot_token=TOKEN) as slack:
        groups = SlackUserGroups(web_client(TOKEN, slack.api_url))
        slack.inject(Fault("usergroups.users.list", error="missing_scope"))
        with pytest.raises(UserGroupUnavailableError, match="missing_scope"):
            groups("S0DBA")
        assert groups.expand(["U0A", "S0DBA"]) == ["U0A"]
