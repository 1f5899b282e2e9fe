"""A simulated application on the demo database: the traffic a real one would send.

The sandbox starts it once the demo database is reset, so that what the bot
reads from ``pg_stat_statements`` is real: the ``live_use`` check finds that
this "application" still reads ``videos.youtube_id`` (which the bundled
history's last revision drops), and the watch after a run has statements to
compare. It is the application's *current* code: after that revision runs,
its queries on ``youtube_id`` fail, as they would in production; it counts
the failures, logs each kind once, and goes on with the rest.

It has three releases, the rename change's (``migrations/changes/``): the
current one reads ``youtube_id``; the next writes both columns; the last reads
and writes ``youtube_video_id`` only. ``release`` says which is deployed (the
sandbox follows the deploys confirmed on the demo's change), asked before
every round, so confirming a deploy in the sandbox deploys the next release.
"""

from __future__ import annotations

import logging
import random
import threading
from collections import Counter
from collections.abc import Callable

import psycopg

from commands.errors import MigrateBotError
from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl

log = logging.getLogger(__name__)

ROUND_S = 0.2  # a small app: five or six statements every 200 ms

COMMON = (
    # the transcript of a video, in order
    "SELECT s.start_seconds, s.end_seconds, s.text FROM segments s"
    " WHERE s.video_id = %(video)s ORDER BY s.start_seconds LIMIT 50",
    # search
    "SELECT video_id, start_seconds FROM segments"
    " WHERE tsv @@ plainto_tsquery('english', %(word)s) LIMIT 10",
    # the jobs dashboard
    "SELECT id, kind, status, created_at FROM jobs WHERE status = %(status)s"
    " ORDER BY created_at DESC LIMIT 20",
)
VIDEO_PAGE = (  # the video page and links from YouTube, on the old column
    "SELECT v.id, v.youtube_id, v.title, v.duration_seconds FROM videos v WHERE v.id = %(video)s",
    "SELECT id, title FROM videos WHERE youtube_id = %(youtube)s",
)
RELEASES = (
    (*VIDEO_PAGE, *COMMON),  # today's: the old column only
    (  # writes both columns when a video's link is fixed, still reads the old one
        *VIDEO_PAGE,
        "UPDATE videos SET youtube_id = %(youtube)s, youtube_video_id = %(youtube)s"
        " WHERE id = %(video)s",
        *COMMON,
    ),
    (  # reads and writes the new column only
        "SELECT v.id, v.youtube_video_id, v.title, v.duration_seconds FROM videos v"
        " WHERE v.id = %(video)s",
        "SELECT id, title FROM videos WHERE youtube_video_id = %(youtube)s",
        "UPDATE videos SET youtube_video_id = %(youtube)s WHERE id = %(video)s",
        *COMMON,
    ),
)
Release = Callable[[], int]
"""Which of ``RELEASES`` is deployed now (its index)."""
WORDS = ("migration", "index", "rollback", "replica", "vacuum", "deploy")
STATUSES = ("queued", "running", "succeeded", "failed")


class DemoWorkload:
    """A thread sending the demo application's statements; ``stop()`` ends it."""

    def __init__(
        self,
        database: DatabaseUrl,
        *,
        round_s: float = ROUND_S,
        seed: int = 7,
        release: Release = lambda: 0,
    ) -> None:
        self.database = database
        self.release = release
        self.round_s = round_s
        self.rounds = 0
        self.failures: Counter[str] = Counter()
        self._random = random.Random(seed)
        self._ids: list[tuple[str, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="demo-app", daemon=True)

    def start(self) -> DemoWorkload:
        """One round now (so its statements are recorded before anyone asks), then a thread."""
        with connect(self.database) as conn:
            self._round(conn)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                with connect(self.database) as conn:
                    while not self._stop.wait(self.round_s):
                        self._round(conn)
            except (MigrateBotError, psycopg.OperationalError) as exc:
                self._failed(str(exc))
                self._stop.wait(1.0)

    def _round(self, conn: psycopg.Connection) -> None:
        if not self._ids:
            self._ids = [
                (str(video), str(youtube))
                for video, youtube in conn.execute(
                    "SELECT id, youtube_id FROM videos ORDER BY created_at DESC LIMIT 200"
                )
            ]
        video, youtube = self._random.choice(self._ids) if self._ids else ("", "")
        params = {
            "video": video or None,
            "youtube": youtube,
            "word": self._random.choice(WORDS),
            "status": self._random.choice(STATUSES),
        }
        for query in RELEASES[min(max(self.release(), 0), len(RELEASES) - 1)]:
            try:
                conn.execute(query, params).fetchall()
            except psycopg.OperationalError:
                raise
            except psycopg.Error as exc:
                self._failed(str(exc).splitlines()[0])
        self.rounds += 1

    def _failed(self, error: str) -> None:
        if not self.failures[error]:
            log.warning("the demo application's query failed (shown once): %s", error)
        self.failures[error] += 1
