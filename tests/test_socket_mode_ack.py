"""Socket Mode answers as HTTP mode does: the ack leaves before the work it started."""

from __future__ import annotations

import threading
import time

from slack_bolt import Ack, App

from bot.adapters.socket_mode import AnsweringSocketModeHandler
from bot.local_slack.server import LocalSlackServer
from bot.local_slack.workspace import Workspace
from bot.slack_api.replies import web_client
from bot.work_pool import ThreadWorkPool
from tests.support.socket_mode import SocketModeEndpoint

TOKEN, APP_TOKEN = "xoxb-test-0000-token", "xapp-test-0000-token"
LISTENER_S = 0.3  # the listener's own time after it submitted its job


def test_a_job_starts_after_the_ack_it_was_submitted_with() -> None:
    pool = ThreadWorkPool(max_workers=1)
    started: list[float] = []
    ran = threading.Event()

    def job() -> None:
        started.append(time.perf_counter())
        ran.set()

    with (
        SocketModeEndpoint() as endpoint,
        LocalSlackServer(
            Workspace(users={}), bot_token=TOKEN, app_token=APP_TOKEN, socket_url=endpoint.url
        ) as slack,
    ):
        client = web_client(TOKEN, slack.api_url)
        app = App(token=TOKEN, client=client, process_before_response=True)

        @app.command("/migrate")
        def slash(ack: Ack) -> None:
            pool.submit(job, name="job", on_error=lambda exc: None)
            time.sleep(LISTENER_S)  # a job started at once would run meanwhile
            ack()

        handler = AnsweringSocketModeHandler(app, APP_TOKEN, web_client=client)
        handler.connect()  # type: ignore[no-untyped-call]
        try:
            deadline = time.monotonic() + 30
            while not endpoint.connections and time.monotonic() < deadline:
                time.sleep(0.05)
            sent = time.perf_counter()
            acked_ms = endpoint.send("slash_commands", {"command": "/migrate", "text": "help"})
            assert ran.wait(10)
        finally:
            handler.close()  # type: ignore[no-untyped-call]
    assert acked_ms >= LISTENER_S * 1000
    # Bolt's own handler starts the job while the listener still runs, well before this.
    # (The ack's arrival here is read a moment after it left, so it is not the bound.)
    assert started[0] - sent >= LISTENER_S
