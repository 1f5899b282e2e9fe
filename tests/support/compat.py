"""The compatibility suite's driver: a project of tests/compat/projects as a target.

Each project is copied to the test's folder and configured as target ``app``
with the keys its pattern needs; ``plan``, ``check`` and break-glass runs go
through the same functions as the CLI (plan, pre-flight, the whole pipeline:
run lock, pre-flight, backup, revisions, verification). ``plain`` runs plain
``alembic`` on the same project, to compare.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

from commands.checks import Report, run_preflight
from commands.config.targets_file import Config, parse_config
from commands.errors import ProjectError
from commands.migration.planning import plan
from commands.migration.runtime.runner import AlembicRunner
from commands.migration.script.plan import Plan
from commands.migration.script.revision_graph import Direction
from commands.pipeline import RunContext, RunOutcome, run_request
from commands.pipeline.plans import plan_request
from commands.postgres.database_url import DatabaseUrl
from commands.requests import RequestService, open_requests
from commands.state.audit_log import open_audit_log
from commands.state.vocabulary import RequestKind, RequestState
from commands.targets import TargetHandle, open_target

PROJECTS = Path(__file__).resolve().parent.parent / "compat" / "projects"
URL_ENV = "COMPAT_DATABASE_URL"
ALEMBIC_INIT = PROJECTS / "branches" / "migrations"  # env.py as `alembic init` writes it


@dataclass
class CompatTarget:
    """Target ``app``: one compat project on one database."""

    root: Path
    database: DatabaseUrl
    config: Config

    @property
    def url(self) -> str:
        return self.database.text()

    @property
    def handle(self) -> TargetHandle:
        return open_target(self.config.target("app"), {URL_ENV: self.url})

    @property
    def requests(self) -> RequestService:
        return open_requests(self.config)

    def plan(self, to: str | None = None, *, down: bool = False) -> Plan:
        direction = Direction.DOWN if down else Direction.UP
        return plan(self.handle, to=to, direction=direction)

    def plan_error(self) -> str:
        """The text of the error a plan stops with (a project's process that cannot start)."""
        try:
            self.plan()
        except ProjectError as error:
            return str(error)
        raise AssertionError("the plan did not fail")

    def check(self, to: str | None = None) -> Report:
        return run_preflight(self.handle, to=to, open_other=lambda name: self.handle)

    def check_down(self, to: str) -> Report:
        return run_preflight(
            self.handle, to=to, direction=Direction.DOWN, open_other=lambda name: self.handle
        )

    def current(self) -> tuple[str, ...]:
        return AlembicRunner.for_target(self.handle).current()

    def run(self, kind: RequestKind, goal: str | None = None) -> RunOutcome:
        """A break-glass request, created and run through the whole pipeline."""
        handle = self.handle
        store = open_audit_log(self.config.bot.state)
        with AlembicRunner.for_target(handle).session() as session:  # handed to the run
            planned = plan_request(
                handle, session, kind=kind, goal=goal or "head", store=store, with_sql=False
            )
            requests = self.requests
            request = requests.create_break_glass(
                kind=kind,
                target="app",
                operator="os:compat",
                fingerprint=planned.fingerprint,
                goal=goal,
                reason="compatibility suite",
            )
            context = RunContext(
                config=self.config,
                requests=requests,
                store=store,
                open_target=lambda target: open_target(target, {URL_ENV: self.url}),
            )
            return run_request(context, request.id, session=session)

    def upgrade(self, goal: str | None = None) -> RunOutcome:
        return self.run(RequestKind.UPGRADE, goal)

    def downgrade(self, goal: str) -> RunOutcome:
        return self.run(RequestKind.DOWNGRADE, goal)

    def round_trip(self, revisions: list[str]) -> Plan:
        """Plan and check (one pre-flight), upgrade to head, downgrade to base."""
        report = self.check()
        assert report.plan is not None and not report.blocks
        assert [r.id for r in report.plan.revisions] == revisions
        up = self.upgrade()
        assert up.state is RequestState.SUCCEEDED, up.error
        assert [a.revision for a in up.applied] == revisions
        down = self.downgrade("base")
        assert down.state is RequestState.SUCCEEDED, down.error
        assert down.database_revisions == ()
        return report.plan

    def plain(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Plain ``alembic -c alembic.ini ARGS`` in the project's folder."""
        environ = {**os.environ, "DATABASE_URL": self.url, **(env or {})}
        return subprocess.run(
            [sys.executable, "-m", "alembic", "-c", "alembic.ini", *args],
            cwd=self.root,
            env=environ,
            capture_output=True,
            text=True,
            check=False,
        )


def compat_target(name: str, tmp_path: Path, database: DatabaseUrl, keys: str = "") -> CompatTarget:
    """Project ``name`` copied under ``tmp_path``, as target ``app`` with ``keys`` added
    (``{root}`` in them is the copy's folder). The default key is
    ``alembic_config = "{root}/alembic.ini"``. A project of revisions only gets the
    ``env.py`` and ``script.py.mako`` of ``alembic init`` (``branches``'s)."""
    root = tmp_path / name
    shutil.copytree(PROJECTS / name, root)
    for missing in ("env.py", "script.py.mako"):  # a project of revisions only
        if (root / "migrations").is_dir() and not (root / "migrations" / missing).exists():
            shutil.copy(ALEMBIC_INIT / missing, root / "migrations" / missing)
    keys = textwrap.dedent(keys) or 'alembic_config = "{root}/alembic.ini"\n'
    text = textwrap.dedent(
        f"""
        [bot]
        state_path = "{(tmp_path / "state.sqlite3").as_posix()}"

        [targets.app]
        database_url_env = "{URL_ENV}"
        approvers = ["U0BOB"]
        checklist = []
        backup = "file://{(tmp_path / "backups").as_posix()}"
        """
    ) + keys.replace("{root}", root.as_posix())
    path = tmp_path / "migrate-bot.toml"
    path.write_text(text)
    return CompatTarget(root, database, parse_config(text, source=str(path), base=tmp_path))
