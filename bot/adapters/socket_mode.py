"""Socket Mode: Bolt's handler, with the work a request starts held until its ack has gone.

HTTP mode holds the jobs a listener submits until the answer has left
(``http_mode.py``), and counts the request as being answered meanwhile, so
the work pool's jobs wait for a quiet moment. Bolt's Socket Mode handler
sends its acknowledgement only after the listener returns, and the jobs it
submitted had started already, competing with that acknowledgement and the
next ones for the two cores and the interpreter lock (a front's p50 at 20
senders was 50 ms against the bare app's 3 to 7 in ``bench/ack.py``). Here a
request is answered the same way in both modes.
"""

from __future__ import annotations

from time import time

from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.socket_mode.internals import run_bolt_app, send_response
from slack_sdk.socket_mode.client import BaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest

from bot.work_pool import answering, holding_jobs, release


class AnsweringSocketModeHandler(SocketModeHandler):
    """Acknowledge first, then start what the listener submitted."""

    def handle(self, client: BaseSocketModeClient, req: SocketModeRequest) -> None:
        started = time()
        with holding_jobs() as held, answering.one():
            send_response(client, req, run_bolt_app(self.app, req), started)
        release(held)
