"""The two people of the sandbox: one asks for a migration, the other approves it.

Two are enough to try the two-person rule. Each is a Slack user id and a
name, written ``U0ALICE:Alice`` on the command line (the name is optional).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from commands.errors import ExitCode, MigrateBotError

USER_ID = re.compile(r"^U[A-Z0-9]{2,20}$")
MAX_NAME = 40


class PersonSpecError(MigrateBotError):
    """A ``--requester``/``--approver`` value that is not ``USER_ID[:NAME]``."""

    exit_code = ExitCode.BAD_INPUT


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    role: str

    @classmethod
    def parse(cls, spec: str, *, role: str) -> Person:
        """``U0ALICE`` or ``U0ALICE:Alice``; raises ``PersonSpecError``."""
        user_id, _, name = spec.partition(":")
        user_id, name = user_id.strip(), name.strip()
        if not USER_ID.match(user_id):
            raise PersonSpecError(
                f"--{role} {spec!r}: the user id must look like a Slack one (U0ALICE),"
                " optionally followed by :Name"
            )
        if len(name) > MAX_NAME:
            raise PersonSpecError(f"--{role} {spec!r}: the name is longer than {MAX_NAME}")
        return cls(id=user_id, name=name or user_id.lower(), role=role)


@dataclass(frozen=True)
class People:
    requester: Person
    approver: Person

    def __post_init__(self) -> None:
        if self.requester.id == self.approver.id:
            raise PersonSpecError(
                "the requester and the approver must be two people (two user ids)"
            )

    @property
    def both(self) -> tuple[Person, Person]:
        return (self.requester, self.approver)


DEFAULT_REQUESTER = "U0DEMOREQ:Alice"
DEFAULT_APPROVER = "U0DEMOAPPR:Bob"


def default_people() -> People:
    return People(
        requester=Person.parse(DEFAULT_REQUESTER, role="requester"),
        approver=Person.parse(DEFAULT_APPROVER, role="approver"),
    )
