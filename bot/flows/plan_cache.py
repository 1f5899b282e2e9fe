"""Plans shown recently, by a short id: what a "View SQL" button's value points to.

A button's value carries only an id; the SQL stays here, in memory, for the
last ``capacity`` plans. After a restart the id is unknown and the modal says
so (``/migrate plan`` again). A request's plan is kept under its id (``M-12``);
after a restart it is made again and checked against the request's fingerprint.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable

from commands.migration.script.plan import Plan


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
