"""The map in docs/design.md matches the folders, and the folders stay small at the top."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DESIGN = (ROOT / "docs" / "design.md").read_text()
TOP_LEVEL_LIMITS = {"commands": 6, "bot": 8}


def _packages(root: str) -> list[str]:
    return sorted(p.name for p in (ROOT / root).iterdir() if (p / "__init__.py").is_file())


@pytest.mark.parametrize("root", sorted(TOP_LEVEL_LIMITS))
def test_top_level_modules_stay_few(root: str) -> None:
    modules = sorted(p.name for p in (ROOT / root).glob("*.py"))
    assert len(modules) <= TOP_LEVEL_LIMITS[root], modules


@pytest.mark.parametrize("root", ["bot", "commands"])
def test_every_package_is_on_the_map(root: str) -> None:
    missing = [name for name in _packages(root) if f"  {name}/" not in DESIGN]
    assert not missing, f"docs/design.md's layout does not name {root}/{missing}"


def test_every_top_level_module_of_bot_is_on_the_map() -> None:
    missing = [p.name for p in (ROOT / "bot").glob("*.py") if p.name != "__init__.py"]
    missing = [name for name in missing if f"  {name}" not in DESIGN]
    assert not missing, f"docs/design.md's layout does not name bot/{missing}"
