"""Opening the audit log to read it, and proving it intact, for both fronts."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from audit.chain import Head
from audit.sqlite_store import SqliteEventStore
from audit.store import EventStore, StoreBusyError, StoreError
from audit.verification import VerifyReport
from commands.errors import ExitCode, MigrateBotError


class BadHeadError(MigrateBotError):
    """An expected head is not of the form ``SEQ:SHA256``."""

    exit_code = ExitCode.BAD_INPUT


class AuditLogUnavailableError(MigrateBotError):
    """The log cannot be written now: locked too long by another process, or tampered
    with (then nothing is written until someone has looked)."""

    exit_code = ExitCode.UNAVAILABLE


class AuditLogBusyError(AuditLogUnavailableError):
    """Locked past the busy timeout by another process: the same write may work later."""


class AuditLogMissingError(MigrateBotError):
    exit_code = ExitCode.BAD_INPUT

    def __init__(self, path: Path) -> None:
        super().__init__(f"there is no audit log at {path} (nothing has been recorded yet?)")


class AuditLogBrokenError(MigrateBotError):
    """``verify`` found a breach: ``report.breach`` names the first bad event."""

    exit_code = ExitCode.FAILED

    def __init__(self, report: VerifyReport) -> None:
        assert report.breach is not None
        super().__init__(
            f"the audit log does not verify: event {report.breach.seq}: {report.breach.reason}"
        )
        self.report = report


@contextmanager
def audit_log_errors() -> Iterator[None]:
    """The store's errors as the user's: busy (the same action may work later), or
    unavailable (tampered with, unreadable)."""
    try:
        yield
    except StoreBusyError as exc:
        raise AuditLogBusyError(str(exc)) from None
    except StoreError as exc:
        raise AuditLogUnavailableError(str(exc)) from None


def open_existing(path: Path) -> EventStore:
    """The store at ``path``; raises ``AuditLogMissingError`` rather than creating one."""
    if not path.exists():
        raise AuditLogMissingError(path)
    try:
        return SqliteEventStore(path)
    except StoreError as exc:
        raise AuditLogUnavailableError(str(exc)) from None


def verify(
    store: EventStore, expected: Sequence[Head] = (), *, incremental: bool = False
) -> VerifyReport:
    """Walk the whole chain, or with ``incremental`` only the events after the last
    verified head (``audit.verification`` says what each proves); raises
    ``AuditLogBrokenError`` at the first bad event.

    ``expected`` are heads recorded elsewhere (a ticket, a Slack message): a log
    cut back past one of them fails even if its own head file was rewritten.
    """
    report = store.verify(expected, incremental=incremental)
    if not report.ok:
        raise AuditLogBrokenError(report)
    return report


def parse_head(text: str) -> Head:
    """``SEQ:SHA256`` as a ``Head``; raises ``MigrateBotError`` (bad input) otherwise."""
    try:
        return Head.parse(text)
    except ValueError as exc:
        raise BadHeadError(str(exc)) from None
