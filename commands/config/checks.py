"""The ``[targets.NAME.checks]`` table: which checks run and the thresholds they use.

It lives apart from ``commands.checks`` so the config loader can validate it
without importing the checks themselves. The names of the checks are listed
here for the same reason; ``commands.checks`` tests that the two agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from commands.config.table import ConfigTable
from commands.units import parse_size

# Checks that open the way for the others: without them nothing else can run,
# so they cannot be switched off.
GATE_CHECKS = ("connectivity", "alembic", "revision")
OPTIONAL_CHECKS = (
    "lint",
    "forecast",
    "review",
    "disk",
    "replication",
    "sessions",
    "locks",
    "promotion",
    "live_use",
    "drift",
    "rehearsal",
    "invalid_indexes",
    "catalog",
    "models",
    "row_counts",
    "health",
    "smoke_sql",
)


@dataclass(frozen=True)
class CheckSettings:
    """Thresholds of the checks, with the defaults a careful engineer would pick."""

    skip: frozenset[str] = frozenset()
    small_table_rows: int = 10_000
    large_table_rows: int = 1_000_000
    small_table_size: int = 10 * 1024**2
    large_table_size: int = 1024**3
    long_transaction: float = 300.0
    idle_in_transaction: float = 60.0
    disk_headroom: int | None = None
    replication_lag_bytes: int = 64 * 1024**2
    max_row_drop: float = 0.01
    forecast_probe: bool = True  # the forecast may calibrate on the target (a temporary table)

    def enabled(self, name: str) -> bool:
        return name not in self.skip


def parse_check_settings(table: ConfigTable) -> CheckSettings:
    """Validate one ``checks`` table; raises ``ConfigError`` naming the key."""
    skip = table.strings("skip")
    for index, name in enumerate(skip):
        if name in GATE_CHECKS:
            raise table.error(f"skip[{index}]", f"{name!r} cannot be switched off")
        if name not in OPTIONAL_CHECKS:
            known = ", ".join(OPTIONAL_CHECKS)
            raise table.error(f"skip[{index}]", f"{name!r} is not a check (checks: {known})")
    defaults = CheckSettings()
    settings = CheckSettings(
        skip=frozenset(skip),
        small_table_rows=table.integer("small_table_rows", defaults.small_table_rows),
        large_table_rows=table.integer("large_table_rows", defaults.large_table_rows, minimum=1),
        small_table_size=_required_size(table, "small_table_size", "10MB"),
        large_table_size=_required_size(table, "large_table_size", "1GB"),
        long_transaction=table.duration("long_transaction", "5min"),
        idle_in_transaction=table.duration("idle_in_transaction", "1min"),
        disk_headroom=_size(table, "disk_headroom", None),
        replication_lag_bytes=_required_size(table, "replication_lag_bytes", "64MB"),
        max_row_drop=_fraction(table, "max_row_drop", defaults.max_row_drop),
        forecast_probe=table.get("forecast_probe", bool, defaults.forecast_probe),
    )
    if settings.small_table_rows > settings.large_table_rows:
        raise table.error("small_table_rows", "must not be more than large_table_rows")
    if settings.small_table_size > settings.large_table_size:
        raise table.error("small_table_size", "must not be more than large_table_size")
    table.reject_unknown()
    return settings


def _required_size(table: ConfigTable, key: str, default: str) -> int:
    """A size with a default, so always one."""
    size = _size(table, key, default)
    assert size is not None, "a default size is always parsed"
    return size


def _size(table: ConfigTable, key: str, default: str | None) -> int | None:
    text = table.string(key, default)
    if text is None:
        return None
    try:
        return parse_size(text)
    except ValueError as exc:
        raise table.error(key, str(exc)) from None


def _fraction(table: ConfigTable, key: str, default: float) -> float:
    value = float(table.get(key, (int, float), default))
    if not 0 <= value <= 1:
        raise table.error(key, f"must be a fraction between 0 and 1 (0.05 is 5%), not {value}")
    return value
