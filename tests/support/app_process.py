"""``python -m tests.support.app_process PROFILE [--out FILE]``: a simulated application,
in a process of its own, sending one version's statements to ``$APP_DATABASE_URL``.

Each "deploy" in a test is this process stopped and started again with the next
version's profile, as a real deploy replaces the application's processes.
Profiles:

- ``videos-old``, ``videos-both``, ``videos-new``: the rename pattern's three
  application versions on the demo's ``videos`` (reads and writes
  ``youtube_id``; writes both columns and reads the old; only the new column);
- ``items-both``: the backfill bench's application, writing both columns of
  ``items`` at random ids.

With ``--out``, every write's wall-clock start and latency (seconds) go to
FILE, one ``start latency`` line each, when the process is stopped (SIGTERM).
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import sys
import threading
import time
from pathlib import Path

import psycopg

from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl

READ, WRITE = "read", "write"
PROFILES: dict[str, tuple[tuple[str, str], ...]] = {
    "videos-old": (
        (READ, "SELECT id, youtube_id, title FROM videos WHERE id = %(id)s"),
        (WRITE, "UPDATE videos SET youtube_id = %(text)s WHERE id = %(id)s"),
    ),
    "videos-both": (
        (READ, "SELECT id, youtube_id, title FROM videos WHERE id = %(id)s"),
        (
            WRITE,
            "UPDATE videos SET youtube_id = %(text)s, youtube_video_id = %(text)s"
            " WHERE id = %(id)s",
        ),
    ),
    "videos-new": (
        (READ, "SELECT id, youtube_video_id, title FROM videos WHERE id = %(id)s"),
        (WRITE, "UPDATE videos SET youtube_video_id = %(text)s WHERE id = %(id)s"),
    ),
    "items-both": ((WRITE, "UPDATE items SET old = %(text)s, new = %(text)s WHERE id = %(id)s"),),
}
ID_QUERY = {"videos": "SELECT id FROM videos", "items": "SELECT max(id) FROM items"}


class Application:
    """Writer threads sending a profile's statements until stopped."""

    def __init__(self, database: DatabaseUrl, profile: str, writers: int, pause: float) -> None:
        self.database = database
        self.statements = PROFILES[profile]
        self.table = profile.split("-", maxsplit=1)[0]
        self.writers = writers
        self.pause = pause
        self.samples: list[tuple[float, float]] = []
        self.stop = threading.Event()

    def ids(self) -> list:
        with connect(self.database) as conn:
            rows = conn.execute(ID_QUERY[self.table]).fetchall()
        if self.table == "items":
            return list(range(1, int(rows[0][0] or 0) + 1))
        return [row[0] for row in rows]

    def run(self) -> None:
        ids = self.ids()
        threads = [
            threading.Thread(target=self._loop, args=(ids, seed), daemon=True)
            for seed in range(self.writers)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def _loop(self, ids: list, seed: int) -> None:
        chooser = random.Random(seed)
        with connect(self.database, application_name="simulated-app") as conn:
            while not self.stop.is_set():
                params = {"id": chooser.choice(ids), "text": f"app{chooser.randrange(10**6)}"}
                for kind, query in self.statements:
                    began = time.time()
                    try:
                        conn.execute(query, params)
                    except psycopg.Error as exc:  # a column gone: the app breaks, as in production
                        print(f"simulated-app: {exc}".splitlines()[0], file=sys.stderr)
                        continue
                    if kind == WRITE:
                        self.samples.append((began, time.time() - began))
                self.stop.wait(self.pause)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("profile", choices=sorted(PROFILES))
    parser.add_argument("--out", type=Path)
    parser.add_argument("--writers", type=int, default=2)
    parser.add_argument("--pause", type=float, default=0.01)
    args = parser.parse_args()
    app = Application(
        DatabaseUrl.parse(os.environ["APP_DATABASE_URL"]), args.profile, args.writers, args.pause
    )
    signal.signal(signal.SIGTERM, lambda *_: app.stop.set())
    print("ready", flush=True)
    app.run()
    if args.out is not None:
        args.out.write_text("".join(f"{start} {latency}\n" for start, latency in app.samples))


if __name__ == "__main__":
    main()
