"""The check keys of a target: defaults, values, and errors that name the key."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from commands.checks.size_risk import SizeClass, assess, size_class
from commands.checks.table_sizes import TableSize
from commands.config.checks import CheckSettings
from commands.config.targets_file import BUNDLED_MIGRATIONS, parse_config
from commands.errors import ConfigError
from commands.units import format_bytes, format_rows, parse_size

TARGETS = f"""
[targets.staging]
database_url_env = "STAGING_URL"
script_location = "{BUNDLED_MIGRATIONS.as_posix()}"
approvers = ["U0BOB"]

[targets.prod]
database_url_env = "PROD_URL"
script_location = "{BUNDLED_MIGRATIONS.as_posix()}"
approvers = ["U0BOB"]
health_url = "https://transcripts.internal/health"
smoke_sql = ["SELECT count(*) FROM jobs"]
watch_tables = ["jobs", "public.videos"]
replica_url_env = "PROD_REPLICA_URL"
max_replication_lag = "10s"
requires_applied_in = "staging"
rehearse = true

[targets.prod.checks]
skip = ["replication"]
large_table_rows = 5000000
disk_headroom = "200GB"
max_row_drop = 0.05
idle_in_transaction = "30s"
"""


def parse(text: str) -> object:
    return parse_config(textwrap.dedent(text), source="bot.toml", base=Path("/srv"))


def test_check_keys_load_with_typed_values_and_defaults() -> None:
    config = parse(TARGETS)
    prod, staging = config.target("prod"), config.target("staging")
    assert prod.health_url == "https://transcripts.internal/health"
    assert prod.watch_tables == ("jobs", "public.videos")
    assert (prod.max_replication_lag, prod.requires_applied_in, prod.rehearse) == (
        10,
        "staging",
        True,
    )
    assert prod.checks.skip == frozenset({"replication"})
    assert prod.checks.large_table_rows == 5_000_000
    assert prod.checks.disk_headroom == 200 * 1024**3
    assert prod.checks.idle_in_transaction == 30
    assert staging.checks == CheckSettings()
    assert (staging.health_url, staging.rehearse, staging.smoke_sql) == (None, False, ())


@pytest.mark.parametrize(
    ("change", "key", "problem"),
    [
        (
            ('skip = ["replication"]', 'skip = ["replicaton"]'),
            "targets.prod.checks.skip[0]",
            "not a check",
        ),
        (
            ('skip = ["replication"]', 'skip = ["connectivity"]'),
            "targets.prod.checks.skip[0]",
            "cannot be switched off",
        ),
        (
            ('disk_headroom = "200GB"', 'disk_headroom = "lots"'),
            "targets.prod.checks.disk_headroom",
            "not a size",
        ),
        (
            ("max_row_drop = 0.05", "max_row_drop = 5"),
            "targets.prod.checks.max_row_drop",
            "between 0 and 1",
        ),
        (
            ("large_table_rows = 5000000", "large_table_rows = 10"),
            "targets.prod.checks.small_table_rows",
            "not be more than large_table_rows",
        ),
        (
            ("max_row_drop = 0.05", "max_rows_drop = 0.05"),
            "targets.prod.checks.max_rows_drop",
            "did you mean 'max_row_drop'",
        ),
        (
            ('requires_applied_in = "staging"', 'requires_applied_in = "qa"'),
            "targets.prod.requires_applied_in",
            "'qa' is not a target",
        ),
        (
            ('requires_applied_in = "staging"', 'requires_applied_in = "prod"'),
            "targets.prod.requires_applied_in",
            "names the target itself",
        ),
        (
            ('health_url = "https://transcripts.internal/health"', 'health_url = "localhost:8000"'),
            "targets.prod.health_url",
            "not valid",
        ),
        (
            ('watch_tables = ["jobs", "public.videos"]', 'watch_tables = ["jobs; drop"]'),
            "targets.prod.watch_tables[0]",
            "not valid",
        ),
        (("rehearse = true", 'rehearse = "yes"'), "targets.prod.rehearse", "must be true or false"),
        (
            ('max_replication_lag = "10s"', 'max_replication_lag = "soon"'),
            "targets.prod.max_replication_lag",
            "not a duration",
        ),
    ],
)
def test_check_key_errors_name_the_key(change: tuple[str, str], key: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(TARGETS.replace(*change))
    assert caught.value.key == key
    assert problem in str(caught.value)


def test_sizes_read_and_print_like_pg_size_pretty() -> None:
    assert parse_size("512MB") == 512 * 1024**2 and parse_size("1.5gb") == int(1.5 * 1024**3)
    assert parse_size("0") == 0
    with pytest.raises(ValueError, match="not a size"):
        parse_size("12 parsecs")
    assert [format_bytes(n) for n in (0, 8192, 3_330_000_000, 90_700_000)] == [
        "0 B",
        "8 kB",
        "3.1 GB",
        "86.5 MB",
    ]
    assert [format_rows(n) for n in (1, 4800, 12_400_000)] == ["1 row", "4,800 rows", "12.4 M rows"]


def test_size_classes_by_rows_or_bytes() -> None:
    settings = CheckSettings()

    def sized(rows: int | None, total: int) -> SizeClass:
        return size_class(TableSize("t", True, rows, total, total), settings)

    assert sized(5, 16_384) is SizeClass.SMALL
    assert sized(None, 16_384) is SizeClass.SMALL  # never analyzed: judged by bytes
    assert sized(50_000, 5 * 1024**2) is SizeClass.MEDIUM
    assert sized(10_000_000, 5 * 1024**2) is SizeClass.LARGE
    assert sized(10, 2 * 1024**3) is SizeClass.LARGE  # few wide rows: the bytes decide
    assert size_class(TableSize("t", False), settings) is SizeClass.NEW
    assert size_class(None, settings) is SizeClass.UNKNOWN
    risk = assess(
        "ban-drop-column", "Dropping a column may break existing clients.", None, None, settings
    )
    assert risk.level.value == "warn"
    assert risk.sentence.startswith("Dropping a column may break existing clients (")
