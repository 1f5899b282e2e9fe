"""Plans shown recently, by a short id: what a "View SQL" button's value points to.

A button's value carries only an id; the SQL stays here, in memory, for the
last ``capacity`` plans. After a restart the id is unknown and the modal says
so (``/migrate plan`` again). A request's plan is kept under its id (``M-12``);
after a restart it is made again and checked against the request's fingerprint.

With a shared state, ``SharedPlans`` keeps them in the ``plans`` table for a
day instead, so the worker that answers a click finds the plan another
worker made.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import psycopg_pool

from commands.migration.script.plan import Plan
from commands.migration.script.revision_graph import Direction, Revision

KEEP_S = 86_400.0


class RecentPlans:
    def __init__(
        self, capacity: int = 256, id_factory: Callable[[], str] = lambda: secrets.token_hex(6)
    ) -> None:
        self._plans: OrderedDict[str, Plan] = OrderedDict()
        self._capacity = capacity
        self._new_id = id_factory
        self._lock = threading.Lock()

    def put(self, plan: Plan) -> str:
        """Keep ``plan``; returns its id (``P-…``), dropping the oldest past capacity."""
        ref = f"P-{self._new_id()}"
        self.keep(ref, plan)
        return ref

    def keep(self, ref: str, plan: Plan) -> None:
        """Keep ``plan`` under a name of the caller's (a request id)."""
        with self._lock:
            self._plans[ref] = plan
            self._plans.move_to_end(ref)
            while len(self._plans) > self._capacity:
                self._plans.popitem(last=False)

    def get(self, ref: str) -> Plan | None:
        with self._lock:
            return self._plans.get(ref)


class SharedPlans(RecentPlans):
    """``RecentPlans`` in the shared state's ``plans`` table (plans as JSON, a day long)."""

    def __init__(
        self,
        pool: psycopg_pool.ConnectionPool,
        id_factory: Callable[[], str] = lambda: secrets.token_hex(6),
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(id_factory=id_factory)
        self._pool = pool
        self._clock = clock

    def keep(self, ref: str, plan: Plan) -> None:
        now = self._clock()
        with self._pool.connection() as conn:
            conn.execute(
                "INSERT INTO plans (ref, kept_at, plan) VALUES (%s, %s, %s)"
                " ON CONFLICT (ref) DO UPDATE SET kept_at = EXCLUDED.kept_at, plan = EXCLUDED.plan",
                (ref, now, json.dumps(plan_json(plan))),
            )
            conn.execute("DELETE FROM plans WHERE kept_at < %s", (now - KEEP_S,))

    def get(self, ref: str) -> Plan | None:
        with self._pool.connection() as conn:
            row = conn.execute(
                "SELECT plan FROM plans WHERE ref = %s AND kept_at >= %s",
                (ref, self._clock() - KEEP_S),
            ).fetchone()
        return plan_of(json.loads(row[0])) if row else None


def plan_json(plan: Plan) -> dict[str, Any]:
    return {**asdict(plan), "sql": dict(plan.sql)}


def plan_of(data: dict[str, Any]) -> Plan:
    return Plan(
        target=data["target"],
        direction=Direction(data["direction"]),
        current=tuple(data["current"]),
        destination=tuple(data["destination"]),
        revisions=tuple(_revision_of(r) for r in data["revisions"]),
        sql=data["sql"],
    )


def _revision_of(data: dict[str, Any]) -> Revision:
    return Revision(
        id=data["id"],
        down_revisions=tuple(data["down_revisions"]),
        dependencies=tuple(data["dependencies"]),
        branch_labels=tuple(data["branch_labels"]),
        message=data["message"],
        path=data["path"],
    )
