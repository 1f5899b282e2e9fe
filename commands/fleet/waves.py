"""A fleet run's waves: which members go in which wave. Pure.

The sizes come from the target's ``waves`` (``["1", "25%", "100%"]``): a
count, or a share of all the members the run has; ``100%`` takes all that
remain. Members keep their configured order, so the first wave (the canary)
is the first member listed. Past the last size listed, waves of that size
follow until every member has one.
"""

from __future__ import annotations

from collections.abc import Sequence

from commands.config.fleet import WaveSize


def split_waves(members: Sequence[str], sizes: Sequence[WaveSize]) -> list[tuple[str, ...]]:
    """``members`` cut into successive waves of ``sizes``; no wave is empty."""
    assert sizes, "a fleet has at least one wave size"
    total = len(members)
    waves: list[tuple[str, ...]] = []
    start = 0
    index = 0
    while start < total:
        size = sizes[min(index, len(sizes) - 1)].members(total)
        waves.append(tuple(members[start : start + size]))
        start += size
        index += 1
    return waves


def describe_waves(sizes: Sequence[WaveSize], members: int) -> str:
    """``1, then 25% (50), then the rest (149)``: how ``members`` would be cut, in words."""
    waves = split_waves([str(n) for n in range(members)], sizes)
    parts = []
    for number, wave in enumerate(waves):
        size = sizes[min(number, len(sizes) - 1)]
        last = number == len(waves) - 1 and size.percent is not None and size.percent >= 100
        if last and number > 0:
            parts.append(f"the rest ({len(wave)})")
        elif size.count is not None:
            parts.append(str(len(wave)))
        else:
            parts.append(f"{size} ({len(wave)})")
    return ", then ".join(parts)
