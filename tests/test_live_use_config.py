"""The live_use and watch keys of a target: defaults, valid values, errors naming the key."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from commands.config.live_use import LiveUseMode
from commands.config.targets_file import BUNDLED_MIGRATIONS, TargetConfig, parse_config
from commands.errors import ConfigError

TARGET = f"""
[targets.prod]
database_url_env = "PROD_DATABASE_URL"
script_location = "{BUNDLED_MIGRATIONS.as_posix()}"
approvers = ["U0BOB"]
"""


def target(keys: str = "") -> TargetConfig:
    text = textwrap.dedent(TARGET) + textwrap.dedent(keys)
    return parse_config(text, source="bot.toml", base=Path("/srv")).target("prod")


def test_live_use_warns_and_the_watch_is_off_by_default() -> None:
    prod = target()
    assert prod.live_use.mode is LiveUseMode.WARN and prod.live_use.roles == ()
    assert prod.live_use.window == 2.0
    assert not prod.watch.enabled and (prod.watch.slowdown, prod.watch.min_calls) == (2.0, 20)


def test_the_keys_are_read() -> None:
    prod = target(
        """
        live_use = "fail"
        live_use_roles = ["transcripts_app", "worker"]
        live_use_window = "5s"
        watch = "10min"
        watch_slowdown = 1.5
        watch_min_calls = 50
        """
    )
    assert prod.live_use.mode is LiveUseMode.FAIL
    assert prod.live_use.roles == ("transcripts_app", "worker") and prod.live_use.window == 5
    assert (prod.watch.period, prod.watch.slowdown, prod.watch.min_calls) == (600, 1.5, 50)
    assert not target('watch = "off"').watch.enabled


@pytest.mark.parametrize(
    ("keys", "key", "problem"),
    [
        ('live_use = "maybe"', "live_use", "is not one of warn, fail, off"),
        ('live_use_roles = ["two words"]', "live_use_roles[0]", "not valid"),
        ('live_use_window = "soon"', "live_use_window", "not a duration"),
        ('watch = "ten minutes"', "watch", "not a duration"),
        ('watch = "0s"', "watch", "longer than zero"),
        ("watch_slowdown = 1", "watch_slowdown", "a factor above 1"),
        ('watch_slowdown = "2x"', "watch_slowdown", "must be an integer or a number, not a string"),
        ("watch_min_calls = 0", "watch_min_calls", "at least 1"),
        ('wach = "10min"', "wach", "did you mean 'watch'"),
    ],
)
def test_a_bad_value_names_the_key(keys: str, key: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        target(keys)
    assert caught.value.key == f"targets.prod.{key}"
    assert problem in str(caught.value)
