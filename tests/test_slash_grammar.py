"""The /migrate grammar: every form, clear refusals, and properties over any input."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from commands.errors import ExitCode
from commands.slash import grammar as g


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", g.Help()),
        ("  help ", g.Help()),
        ("targets", g.Targets()),
        ("status", g.Status()),
        ("Status Demo", g.Status("demo")),
        ("plan demo", g.Plan("demo")),
        ("plan demo to 3f9a", g.Plan("demo", "3f9a")),
        ("plan demo TO HEAD", g.Plan("demo", "head")),
        ("upgrade glance to heads", g.Upgrade("glance", "heads")),  # every head, as Alembic's
        ("upgrade prod-eu to 3f9a1c2e7b10", g.Upgrade("prod-eu", "3f9a1c2e7b10")),
        ("downgrade demo -2", g.Downgrade("demo", "-2")),
        ("downgrade demo BASE", g.Downgrade("demo", "base")),
        ("downgrade demo 3f9a1c2e", g.Downgrade("demo", "3f9a1c2e")),
        ("restore demo demo-20250101T0200Z.dump", g.Restore("demo", "demo-20250101T0200Z.dump")),
        ("cancel m-12", g.Cancel("M-12")),
        ("history", g.History()),
        ("history demo", g.History("demo")),
        ("backups demo", g.Backups("demo")),
        ("freeze demo release week; see INC-42", g.Freeze("demo", "release week; see INC-42")),
        ("unfreeze demo", g.Unfreeze("demo")),
        ("audit   VERIFY", g.AuditVerify()),
        ("schedule demo next-window", g.Schedule("demo")),
        (
            "schedule demo to head at 2031-02-03 04:05 Europe/Paris",
            g.Schedule("demo", "head", datetime(2031, 2, 3, 4, 5), "Europe/Paris"),
        ),
        ("schedule demo at 2031-02-03 04:05", g.Schedule("demo", None, datetime(2031, 2, 3, 4, 5))),
        ("change start demo rename-youtube-id", g.ChangeStart("demo", "rename-youtube-id")),
        ("Change SHOW c-3", g.ChangeShow("C-3")),
        (
            "change confirm rename-youtube-id write-both",
            g.ChangeConfirm("rename-youtube-id", "write-both"),
        ),
        ("change confirm C-3 2", g.ChangeConfirm("C-3", "2")),
        (
            "change abandon c-3 we rolled the app back",
            g.ChangeAbandon("C-3", "we rolled the app back"),
        ),
        ("changes", g.Changes()),
        ("changes demo", g.Changes("demo")),
        ("backfill demo copy-youtube-id", g.Backfill("demo", "copy-youtube-id")),
        ("backfills", g.Backfills()),
    ],
)
def test_each_form_parses_to_its_command(text: str, expected: g.SlashCommand) -> None:
    assert g.parse(text) == expected


@pytest.mark.parametrize(
    ("text", "problem", "usage"),
    [
        ("upgrad demo", "did you mean `upgrade`?", None),
        ("status demo; drop table jobs", "too many words", "/migrate status [TARGET]"),
        ("status demo;rm", "is not a target name", "/migrate status [TARGET]"),
        ('plan "demo"', "that value is not a target name", "/migrate plan TARGET [to REV]"),
        ("plan demo to $(reboot)", "is not a revision id", "/migrate plan TARGET [to REV]"),
        ("plan demo to base", "use `/migrate downgrade`", "/migrate plan TARGET [to REV]"),
        ("plan demo from abcd", "only `to REV` may follow", "/migrate plan TARGET [to REV]"),
        ("upgrade", "something is missing", "/migrate upgrade TARGET [to REV|heads]"),
        ("downgrade demo head", "not `head`", "/migrate downgrade TARGET REV|-N"),
        ("downgrade demo heads", "not `heads`", "/migrate downgrade TARGET REV|-N"),
        ("upgrade demo to expand@head", "branch@ goals are not taken", "/migrate upgrade"),
        ("downgrade demo -0", "is not a revision id", "/migrate downgrade TARGET REV|-N"),
        ("restore demo ../etc/passwd", "is not a backup id", "/migrate restore TARGET BACKUP"),
        ("cancel 12", "is not a request id", "/migrate cancel M-N"),
        ("freeze demo", "say which target to freeze and why", "/migrate freeze TARGET REASON"),
        ("audit", "takes one word", "/migrate audit verify"),
        ("schedule demo", "say when", "/migrate schedule"),
        ("schedule demo at 2031-02-30 04:05", "is not a real date", "/migrate schedule"),
        ("schedule demo at 2031-02-03 4:05", "give the time as", "/migrate schedule"),
        ("schedule demo at 2031-02-03 04:05 Mars/Olympus", "is not a time zone", None),
        ("schedule demo at 2031-02-03 04:05 ../../etc/passwd", "is not a time zone", None),
        ("schedule demo next-window now", "nothing may follow", "/migrate schedule"),
        ("x" * 1001, "longer than 1000", None),
        ("change", "followed by `start`", "/migrate change start"),
        ("change begin demo x", "followed by `start`", "/migrate change start"),
        ("change start demo", "something is missing", "/migrate change start TARGET CHANGE"),
        ("change start demo ../x", "is not a change name", "/migrate change start"),
        ("change confirm x Write_Both", "is not a phase name", "/migrate change confirm"),
        ("change abandon C-3", "say which change to abandon and why", "/migrate change abandon"),
        ("backfill demo", "something is missing", "/migrate backfill TARGET BACKFILL"),
        ("backfills demo extra", "too many words", "/migrate backfills [TARGET]"),
    ],
)
def test_bad_input_says_what_was_wrong_and_the_right_form(
    text: str, problem: str, usage: str | None
) -> None:
    with pytest.raises(g.CommandSyntaxError) as caught:
        g.parse(text)
    message = str(caught.value)
    assert problem in message
    assert caught.value.exit_code == ExitCode.BAD_INPUT
    assert f"Usage: `{usage}" in message if usage else "Usage: `/migrate" in message


def test_a_newline_inside_a_name_is_refused_and_never_echoed() -> None:
    with pytest.raises(g.CommandSyntaxError) as caught:
        g.parse("cancel M-1'\n; DROP")
    assert "\n" not in str(caught.value) and "DROP" not in str(caught.value)


def test_every_verb_has_a_usage_line_and_a_parser() -> None:
    assert set(g.USAGE) == set(g.Verb)
    for verb in g.Verb:
        assert verb is g.Verb.AUDIT_VERIFY or verb in g._PARSERS


# --- properties ---------------------------------------------------------------

NASTY = st.sampled_from(
    ["'", '"', ";", "\n", "`", "$(", "|", "&", "<", ">", "\\", "\x00", "\u200b"]
)
WORDS = st.sampled_from(
    [w.value for w in g.Verb] + ["audit", "to", "at", "next-window", "head", "base", "demo", "-1"]
)


@settings(max_examples=1000)
@given(st.lists(st.one_of(WORDS, st.text(max_size=12), NASTY), max_size=8).map(" ".join))
@example("status demo\n")
@example("schedule demo at 9999-12-31 23:59 UTC")
@example("schedule demo at 0000-01-01 00:00")
def test_no_input_raises_anything_but_the_typed_error(text: str) -> None:
    try:
        command = g.parse(text)
    except g.CommandSyntaxError as exc:
        assert str(exc).count("Usage:") == 1
        return
    assert g.parse(command.render()) == command


def _case(word: str) -> st.SearchStrategy[str]:
    return st.sampled_from([word, word.upper(), word.capitalize()])


targets = st.from_regex(g.TARGET, fullmatch=True)
revisions = st.from_regex(g.REVISION, fullmatch=True).filter(
    lambda r: r.lower() not in (g.HEAD, g.BASE)
)
relatives = st.from_regex(g.RELATIVE, fullmatch=True)
to_revs = st.none() | st.just(g.HEAD) | revisions
minutes = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2999, 12, 31)).map(
    lambda d: d.replace(second=0, microsecond=0)
)
zones = st.none() | st.sampled_from(["UTC", "Europe/Paris", "America/Argentina/Buenos_Aires"])
reasons = st.lists(
    st.text(st.characters(categories=["L", "N", "P", "S"]), min_size=1, max_size=10),
    min_size=1,
    max_size=5,
).map(" ".join)

names = st.from_regex(g.NAME, fullmatch=True)
change_ids = st.from_regex(g.CHANGE_ID, fullmatch=True)
COMMANDS = st.one_of(
    st.just(g.Help()),
    st.just(g.Targets()),
    st.just(g.AuditVerify()),
    st.builds(g.Status, st.none() | targets),
    st.builds(g.History, st.none() | targets),
    st.builds(g.Plan, targets, to_revs),
    st.builds(g.Upgrade, targets, to_revs),
    st.builds(g.Downgrade, targets, revisions | st.just(g.BASE) | relatives),
    st.builds(g.Restore, targets, st.from_regex(g.BACKUP_ID, fullmatch=True)),
    st.builds(g.Cancel, st.from_regex(g.REQUEST_ID, fullmatch=True)),
    st.builds(g.Backups, targets),
    st.builds(g.Freeze, targets, reasons),
    st.builds(g.Unfreeze, targets),
    st.builds(g.Schedule, targets, to_revs),
    st.builds(g.Schedule, targets, to_revs, minutes, zones),
    st.builds(g.ChangeStart, targets, names),
    st.builds(g.ChangeShow, names | change_ids),
    st.builds(g.ChangeConfirm, names | change_ids, names | st.sampled_from(["1", "12"])),
    st.builds(g.ChangeAbandon, names | change_ids, reasons),
    st.builds(g.Changes, st.none() | targets),
    st.builds(g.Backfill, targets, names),
    st.builds(g.Backfills, st.none() | targets),
)


@settings(max_examples=500)
@given(COMMANDS)
def test_every_valid_command_round_trips_through_its_text(command: g.SlashCommand) -> None:
    assert g.parse(command.render()) == command


@given(COMMANDS, st.data())
def test_verbs_are_case_insensitive_and_spacing_does_not_matter(
    command: g.SlashCommand, data: st.DataObject
) -> None:
    words = command.render().split(" ")
    words[0] = data.draw(_case(words[0]))
    spaced = data.draw(st.sampled_from([" ", "  ", "\t", " \u00a0"])).join(words)
    assert g.parse(f" {spaced} ") == command
