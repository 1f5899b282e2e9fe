"""Pending work from ancestry: linear, branched and merged graphs (pure, no database)."""

from __future__ import annotations

import pytest

from commands.errors import RevisionError
from commands.migration.script.revision_graph import Direction, Revision, RevisionGraph


def rev(rev_id: str, *down: str, depends: tuple[str, ...] = ()) -> Revision:
    return Revision(rev_id, tuple(down), depends, (), f"msg {rev_id}", f"/{rev_id}.py")


# a -> b -> (c1 -> c2 | d1) -> m (merge of c2 and d1) -> e
BRANCHED = RevisionGraph(
    [
        rev("aaaa01"),
        rev("bbbb01", "aaaa01"),
        rev("cccc01", "bbbb01"),
        rev("cccc02", "cccc01"),
        rev("dddd01", "bbbb01"),
        rev("mmmm01", "cccc02", "dddd01"),
        rev("eeee01", "mmmm01"),
    ]
)
LINEAR = RevisionGraph([rev("r1aaaa"), rev("r2bbbb", "r1aaaa"), rev("r3cccc", "r2bbbb")])


def test_order_puts_parents_first_and_otherwise_keeps_the_order_given() -> None:
    """The child gives Alembic's order; between branches the graph keeps it."""
    given = list(BRANCHED.revisions.values())
    assert BRANCHED.order == tuple(r.id for r in given)
    backwards = RevisionGraph(reversed(given)).order
    for revision in given:
        for parent in revision.parents:
            assert backwards.index(parent) < backwards.index(revision.id)
    assert backwards == ("aaaa01", "bbbb01", "dddd01", "cccc01", "cccc02", "mmmm01", "eeee01")


def test_upgrade_from_base_applies_everything_in_order() -> None:
    assert BRANCHED.upgrade_path((), "head") == BRANCHED.order


def test_upgrade_from_one_branch_applies_only_the_other_branch_and_the_merge() -> None:
    path = BRANCHED.upgrade_path(("cccc02",), "eeee01")
    assert path == ("dddd01", "mmmm01", "eeee01")


def test_upgrade_from_two_heads_to_merge() -> None:
    assert BRANCHED.upgrade_path(("cccc01", "dddd01"), "mmmm01") == ("cccc02", "mmmm01")


def test_upgrade_to_an_applied_revision_is_empty() -> None:
    assert BRANCHED.upgrade_path(("eeee01",), "bbbb01") == ()


def test_after_merge_leaves_one_head() -> None:
    steps = BRANCHED.upgrade_path(("cccc01", "dddd01"), "mmmm01")
    assert BRANCHED.after(("cccc01", "dddd01"), Direction.UP, steps) == ("mmmm01",)


def test_partial_upgrade_to_a_branch_tip_leaves_two_heads() -> None:
    steps = BRANCHED.upgrade_path(("bbbb01",), "dddd01")
    assert steps == ("dddd01",)
    assert set(BRANCHED.after(("cccc02",), Direction.UP, ("dddd01",))) == {"cccc02", "dddd01"}


def test_downgrade_below_merge_undoes_only_descendants_and_splits_heads() -> None:
    steps = BRANCHED.downgrade_path(("eeee01",), "cccc02")
    assert steps == ("eeee01", "mmmm01")
    assert BRANCHED.after(("eeee01",), Direction.DOWN, steps) == ("cccc02", "dddd01")


def test_downgrade_to_base_and_relative() -> None:
    assert BRANCHED.downgrade_path(("eeee01",), "base") == tuple(reversed(BRANCHED.order))
    assert LINEAR.downgrade_path(("r3cccc",), "-2") == ("r3cccc", "r2bbbb")
    assert LINEAR.after(("r3cccc",), Direction.DOWN, ("r3cccc", "r2bbbb")) == ("r1aaaa",)
    assert LINEAR.downgrade_path(("r3cccc",), "-3") == ("r3cccc", "r2bbbb", "r1aaaa")  # base
    assert BRANCHED.downgrade_path(("eeee01",), "-1") == ("eeee01",)


@pytest.mark.parametrize("steps", ["-2", "-3"])
def test_relative_downgrade_that_undoes_a_merge_is_ambiguous(steps: str) -> None:
    """Alembic walks -N to the one revision N below: undoing the merge itself (the last of
    the N, too) leaves two heads and no such revision, so Alembic says "Ambiguous walk"."""
    with pytest.raises(RevisionError, match=f"{steps} is ambiguous: mmmm01 merges"):
        BRANCHED.downgrade_path(("eeee01",), steps)


@pytest.mark.parametrize(
    ("current", "target", "message"),
    [
        (("r3cccc",), "-9", "cannot go back 9"),
        ((), "-5", r"-5 has nothing to undo: no revision is applied to this database \(base\)"),
        (("r1aaaa", "r3cccc"), "-1", r"-1 needs one current revision .* at 2 \(r1aaaa, r3cccc\)"),
        (("r1aaaa",), "r3cccc", "not applied"),
        (("r3cccc",), "zzzz", "no revision 'zzzz'"),
        (("gone00",), "base", "does not have"),
    ],
)
def test_downgrade_refusals(current: tuple[str, ...], target: str, message: str) -> None:
    with pytest.raises(RevisionError, match=message):
        LINEAR.downgrade_path(current, target)


def test_resolve_prefix_and_refuse_ambiguous_or_several_heads() -> None:
    assert BRANCHED.resolve("dddd") == "dddd01"
    with pytest.raises(RevisionError, match="matches several"):
        BRANCHED.resolve("cccc")
    two_heads = RevisionGraph([rev("aaaa01"), rev("bbbb01", "aaaa01"), rev("cccc01", "aaaa01")])
    with pytest.raises(RevisionError, match="2 heads"):
        two_heads.upgrade_path(("aaaa01",), "head")
    assert two_heads.upgrade_path(("aaaa01",), "cccc01") == ("cccc01",)


def test_depends_on_counts_as_ancestry() -> None:
    graph = RevisionGraph(
        [rev("aaaa01"), rev("xxxx01"), rev("bbbb01", "aaaa01", depends=("xxxx01",))]
    )
    assert graph.upgrade_path((), "bbbb01") == ("aaaa01", "xxxx01", "bbbb01")


def test_going_down_to_an_expand_revision_keeps_the_contract_that_only_depends_on_it() -> None:
    """glance's expand/contract history: each release's contract revision ``depends_on``
    its expand revision. Down to ``zed_expand`` Alembic undoes what descends from
    ``zed_expand``'s own child (the next expand, and the contracts depending on it) and
    keeps ``zed_contract``: it used to be undone too, one revision more than plain."""
    graph = RevisionGraph(
        [
            rev("branch"),
            rev("zed_expand", "branch"),
            rev("zed_contract", "branch", depends=("zed_expand",)),
            rev("v23_expand", "zed_expand"),
            rev("v23_contract", "zed_contract", depends=("v23_expand",)),
        ]
    )
    at_heads = ("v23_contract",)
    assert graph.downgrade_path(at_heads, "zed_expand") == ("v23_contract", "v23_expand")
    # zed_expand is below zed_contract (depends_on): one row, where plain Alembic ends
    assert graph.after(at_heads, Direction.DOWN, ("v23_contract", "v23_expand")) == (
        "zed_contract",
    )
    with pytest.raises(RevisionError, match="v23_expand is not a revision to go down to from"):
        graph.downgrade_path(at_heads, "v23_expand")  # only v23_contract above: depends_on
    assert graph.downgrade_path(at_heads, "branch") == (
        "v23_contract",
        "v23_expand",
        "zed_contract",
        "zed_expand",
    )


def test_a_version_row_another_row_descends_from_is_the_same_state() -> None:
    """Neutron, downgraded to 5abc0278ca73 by plain Alembic and by the bot: the version
    table holds 89ab9a816d70 beside 4bcd4df1f426, which descends from it through a
    depends_on. The plan said 5abc0278ca73 and 4bcd4df1f426: the same revisions applied,
    and verification failed the run on it."""
    graph = RevisionGraph(
        [
            rev("kilo"),
            rev("5abc02", "kilo"),
            rev("89ab9a", "kilo"),
            rev("8fd391", "kilo", depends=("89ab9a",)),
            rev("4bcd4d", "8fd391"),
        ]
    )
    rows = ("89ab9a", "4bcd4d", "5abc02")
    assert graph.rows_state(rows) == ("5abc02", "4bcd4d")
    assert graph.applied(rows) == graph.applied(graph.rows_state(rows))
    assert graph.rows_state(("4bcd4d", "gone01")) == ("4bcd4d", "gone01")  # not ours: as is


def test_unknown_parent_and_cycles_are_refused() -> None:
    with pytest.raises(RevisionError, match="unknown parent"):
        RevisionGraph([rev("aaaa01", "nope00")])
    with pytest.raises(RevisionError, match="cycle"):
        RevisionGraph([rev("aaaa01", "bbbb01"), rev("bbbb01", "aaaa01")])
