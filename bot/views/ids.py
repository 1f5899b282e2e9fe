"""Action and block ids: one place, so listeners, views and tests agree.

Contract other parts rely on: the approve button's ``action_id`` starts with
``approve``, the reject button's with ``reject``, and a button's ``value`` is
only an id (a request id, or a plan reference), never data to trust.
"""

from __future__ import annotations

from enum import StrEnum


class ActionId(StrEnum):
    VIEW_SQL = "view_sql"
    APPROVE = "approve"
    REJECT = "reject"


class BlockId(StrEnum):
    HEADER = "header"
    SUMMARY = "summary"
    REVISIONS = "revisions"
    PENDING = "pending"
    ACTIONS = "actions"
    FOOTER = "footer"
    COMMANDS = "commands"
    TARGETS = "targets"
    SQL = "sql"
