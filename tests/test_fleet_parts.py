"""A fleet's parts without a database: its keys, waves, set plan, member transitions on a
real SQLite log, the fold of member events, the ways back, and its views within Block
Kit's limits however many members it has."""

from __future__ import annotations

import hashlib
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from audit.store import utc_now
from bot.views import limits
from bot.views.announcements import outcome_thread
from bot.views.ids import ActionId
from bot.views.request import request_message
from bot.views.request_card import RequestCard
from bot.views.run_picture import fleet_picture
from bot.views.status import fleet_status_blocks
from bot.views.thread_lines import member_thread_line
from commands.checks import CheckResult, Phase, Report, Verdict
from commands.config.fleet import WaveSize
from commands.config.targets_file import BUNDLED_MIGRATIONS, Config, parse_config
from commands.errors import ConfigError, UnknownTargetError
from commands.fleet.member_status import FleetStatus, MemberStatus
from commands.fleet.set_checks import set_report
from commands.fleet.set_plan import groups, member_fingerprint
from commands.fleet.survey import MemberSurvey
from commands.fleet.waves import describe_waves, split_waves
from commands.migration.script.fingerprint import (
    MemberPlan,
    PlanFingerprint,
    RevisionFile,
    describe_changes,
)
from commands.migration.script.plan import Status
from commands.pipeline.outcomes import fleet_outcome
from commands.pipeline.progress import FleetUpdate, FleetUpdateKind
from commands.pipeline.ways_back import FleetWayBack, fleet_ways_back
from commands.requests import Request, RequestService, TargetFrozenError
from commands.requests.errors import FleetNotRunningError, MemberDriftedError
from commands.requests.inputs import RequestInputError
from commands.requests.live_use import LiveUseNotAcknowledgedError, warned_findings
from commands.requests.run_events import StepRecord
from commands.state.vocabulary import MemberState, RequestKind, RequestState, StepStatus
from tests.support.request_helpers import APPROVER, REQUESTER, Clock, make_service

FLEET_KEYS = """
members_env = "TENANT_DATABASE_URLS"
approvers = ["U0BOB"]
checklist = []
"""


def config_with(directory: Path, keys: str) -> Config:
    text = textwrap.dedent(
        f"""
        [bot]
        state_path = "state.sqlite3"

        [targets.tenants]
        script_location = "{BUNDLED_MIGRATIONS.as_posix()}"
        """
    ) + textwrap.dedent(keys)
    return parse_config(text, source="fleet.toml", base=directory)


# --- keys ---------------------------------------------------------------------------


def test_a_fleet_has_defaults_and_its_members_are_targets(tmp_path: Path) -> None:
    config = config_with(tmp_path, FLEET_KEYS + 'backup = "s3://bucket/tenants"\n')
    fleet = config.target("tenants")
    assert fleet.is_fleet and fleet.fleet is not None
    assert [str(w) for w in fleet.fleet.waves] == ["1", "100%"]
    assert (fleet.fleet.concurrency, fleet.fleet.max_failures) == (4, 1)
    member = config.target("tenants.Acme-1")
    assert member.name == "tenants.Acme-1" and member.backup == "s3://bucket/tenants/Acme-1"
    assert member.member_of is not None and member.member_of.members_env == "TENANT_DATABASE_URLS"
    assert not member.is_fleet
    for name in ("tenants.a.b", "tenants.", "other.acme"):
        with pytest.raises(UnknownTargetError):
            config.target(name)


@pytest.mark.parametrize(
    ("keys", "problem"),
    [
        ('waves = ["0"]', "waves[0]: '0' is not a wave size"),
        ('waves = ["1", "150%"]', "waves[1]: '150%' is not a wave size"),
        ("waves = [true]", "waves[0]: True is not a wave size"),
        ("waves = []", "waves: list at least one wave"),
        ("concurrency = 0", "concurrency: must be at least 1"),
        ('database_url_env = "X"', "set exactly one of database_url_env, embedded_postgres or"),
        ('replica_url_env = "R"', "replica_url_env: does not apply to a fleet"),
        ('watch = "10min"', "watch: does not apply to a fleet"),
        ('members = "postgres://u:pw@h/d"', "URLs never go in the file"),
    ],
)
def test_bad_fleet_keys_are_refused_by_name(tmp_path: Path, keys: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=r"targets\.tenants") as refused:
        config_with(tmp_path, FLEET_KEYS + keys + "\n")
    assert problem in str(refused.value) and "pw@" not in str(refused.value)


def test_fleet_keys_on_a_single_database_are_refused(tmp_path: Path) -> None:
    keys = 'database_url_env = "APP_URL"\napprovers = ["U0BOB"]\nmax_failures = 2\n'
    with pytest.raises(ConfigError, match="max_failures: only applies to a fleet"):
        config_with(tmp_path, keys)


# --- waves ----------------------------------------------------------------------------


def sizes(*texts: str) -> list[WaveSize]:
    return [WaveSize.parse(t) for t in texts]


@pytest.mark.parametrize(
    ("spec", "members", "cut"),
    [
        (("1", "25%", "100%"), 200, [1, 50, 149]),
        (("1", "100%"), 1, [1]),
        (("1", "25%"), 10, [1, 3, 3, 3]),
        (("5",), 12, [5, 5, 2]),
        (("100%",), 7, [7]),
        (("0.5%", "100%"), 10, [1, 9]),
    ],
)
def test_waves_cut_the_members_in_order(
    spec: tuple[str, ...], members: int, cut: list[int]
) -> None:
    names = [f"m{n}" for n in range(members)]
    waves = split_waves(names, sizes(*spec))
    assert [len(w) for w in waves] == cut
    assert [m for wave in waves for m in wave] == names  # every member once, in order
    assert waves[0][0] == "m0"  # the canary is the first member listed


def test_waves_are_described_as_the_approver_reads_them() -> None:
    assert describe_waves(sizes("1", "25%", "100%"), 200) == "1, then 25% (50), then the rest (149)"


# --- the set plan ---------------------------------------------------------------------


def revision(rev: str) -> RevisionFile:
    return RevisionFile(rev, hashlib.sha256(rev.encode()).hexdigest())


def set_plan(*members: MemberPlan, target: str = "tenants") -> PlanFingerprint:
    ids = sorted({r for m in members for r in m.revisions})
    return PlanFingerprint(
        target=target,
        action="upgrade",
        from_revisions=(),
        to_revisions=("c",),
        revisions=tuple(revision(r) for r in ids),
        members=members,
    )


ACME = MemberPlan("acme", (), ("c",), ("a", "b", "c"))
GLOBEX = MemberPlan("globex", ("a",), ("c",), ("b", "c"))
INITECH = MemberPlan("initech", (), ("c",), ("a", "b", "c"))
HOOLI = MemberPlan("hooli", ("c",), ("c",), ())


def test_the_set_binds_each_members_start_and_a_single_targets_digest_is_unchanged() -> None:
    fingerprint = set_plan(ACME, GLOBEX, INITECH, HOOLI)
    moved = set_plan(ACME, MemberPlan("globex", ("b",), ("c",), ("c",)), INITECH, HOOLI)
    assert fingerprint.digest != moved.digest
    assert "member globex moved from a to b" in describe_changes(fingerprint, moved)
    assert PlanFingerprint.from_json(fingerprint.to_json()) == fingerprint
    single = PlanFingerprint("prod", "upgrade", (), ("c",), (revision("c"),))
    assert "members" not in single.to_json()

    mine = member_fingerprint(fingerprint, "globex")
    assert mine.target == "tenants.globex" and mine.from_revisions == ("a",)
    assert mine.revision_ids == ("b", "c") and mine.revisions[0] == revision("b")

    found = groups(fingerprint)
    assert [(g.from_revisions, g.members) for g in found] == [
        ((), ("acme", "initech")),
        (("a",), ("globex",)),
        (("c",), ("hooli",)),
    ]


# --- member transitions and the fold, on a real log -----------------------------------------


@pytest.fixture
def service(tmp_path: Path) -> RequestService:
    return make_service(config_with(tmp_path, FLEET_KEYS), Clock())


def running_fleet(service: RequestService, *members: MemberPlan) -> Request:
    request = service.create(
        kind=RequestKind.UPGRADE,
        target="tenants",
        requester=REQUESTER,
        fingerprint=set_plan(*members),
        origin={"channel": "C0DEV"},
    )
    service.record_preflight(request.id, actor="migrate-bot", passed=True, summary="ok")
    service.approve(request.id, approver=APPROVER)
    return service.start_run(request.id, actor="migrate-bot", fingerprint_now=request.fingerprint)


def start(
    service: RequestService, request: Request, member: str, now: PlanFingerprint | None = None
) -> None:
    approved = member_fingerprint(request.fingerprint, member)
    service.start_member(
        request.id,
        member=member,
        actor="migrate-bot",
        approved=approved,
        now=now or approved,
        wave=1,
    )


def test_members_start_once_for_their_own_plan_and_fold_into_the_request(
    service: RequestService,
) -> None:
    request = running_fleet(service, ACME, GLOBEX, INITECH, HOOLI)
    assert list(request.members) == ["acme", "globex", "initech"]  # hooli has nothing to run
    service.start_wave(request.id, actor="migrate-bot", wave=1, members=["acme", "globex"])
    start(service, request, "acme")
    with pytest.raises(RequestInputError, match="already had its turn"):
        start(service, request, "acme")
    for rev in ("a", "b"):
        steps = [
            StepRecord("apply", status, rev)
            for status in (StepStatus.STARTED, StepStatus.SUCCEEDED)
        ]
        service.record_member_steps(request.id, member="acme", actor="migrate-bot", steps=steps)
    service.finish_member(
        request.id,
        member="acme",
        actor="migrate-bot",
        outcome=RequestState.FAILED,
        reason="c failed: boom",
        details={"failed_step": "apply", "database_revisions": ["b"], "backup_id": "k7m2xq"},
    )
    drifted = member_fingerprint(request.fingerprint, "globex")
    moved = PlanFingerprint(drifted.target, "upgrade", ("b",), ("c",), (revision("c"),))
    with pytest.raises(MemberDriftedError, match=r"tenants\.globex is skipped: it moved"):
        start(service, request, "globex", now=moved)
    service.freeze("tenants", actor=APPROVER, reason="incident")
    with pytest.raises(TargetFrozenError):
        start(service, request, "initech")

    folded = service.get(request.id)
    acme, globex, initech = (folded.members[n] for n in ("acme", "globex", "initech"))
    assert (acme.state, acme.revisions_done, acme.backup_id) == (
        MemberState.FAILED,
        ("a", "b"),
        "k7m2xq",
    )
    assert acme.revision_now == ("b",) and acme.failed_step == "apply"
    assert (globex.state, globex.revision_now) == (MemberState.SKIPPED, ("b",))
    assert initech.state is MemberState.PENDING
    assert [w.members for w in folded.waves] == [("acme", "globex")]

    service.finish_run(request.id, actor="migrate-bot", outcome=RequestState.FAILED, reason="x")
    closed = service.get(request.id)
    assert closed.members["initech"].state is MemberState.NOT_STARTED
    with pytest.raises(FleetNotRunningError):
        start(service, closed, "initech")

    offers = {o.way: o for o in fleet_ways_back(closed)}
    assert offers[FleetWayBack.RETRY].members == ("acme", "globex", "initech")
    assert FleetWayBack.BACK_TO_START not in offers  # nobody succeeded


def test_the_ways_back_take_the_members_that_succeeded_back_to_each_start(
    service: RequestService,
) -> None:
    request = running_fleet(service, ACME, GLOBEX, INITECH)
    for member in ("acme", "globex"):
        start(service, request, member)
        service.finish_member(
            request.id, member=member, actor="migrate-bot", outcome=RequestState.SUCCEEDED
        )
    service.finish_run(request.id, actor="migrate-bot", outcome=RequestState.ABORTED, reason="stop")
    offers = {o.way: o for o in fleet_ways_back(service.get(request.id))}
    back = offers[FleetWayBack.BACK_TO_START]
    assert back.kind is RequestKind.DOWNGRADE and back.goals == {"acme": "base", "globex": "a"}
    assert offers[FleetWayBack.RETRY].members == ("initech",)


def member_live_use(member: str, subject: str, level: str = "warn") -> MemberSurvey:
    finding = {
        "level": level,
        "key": f"column_dropped:c:{subject}",
        "subject": subject,
        "sentence": f"`{subject}` is dropped by `c`, but the application still reads it",
        "calls": 7,
        "statements": [],
    }
    verdict = Verdict.FAIL if level == "fail" else Verdict.WARN
    check = CheckResult("live_use", verdict, "still used", data={"findings": [finding]})
    report = Report(Phase.PREFLIGHT, f"tenants.{member}", (check,), utc_now(), 0.1)
    return MemberSurvey(member, report)


def test_members_live_use_is_on_the_fleets_request_and_each_approver_acknowledges_it(
    service: RequestService,
) -> None:
    surveys = [
        member_live_use("acme", "videos.youtube_id"),
        member_live_use("globex", "videos.youtube_id"),
        member_live_use("initech", "users.fax"),
    ]
    report = set_report(
        "tenants", surveys, groups=[], plan=None, sized=(), started_at=utc_now(), duration_s=1
    )
    live_use = next(r for r in report.results if r.name == "live_use")
    assert live_use.verdict is Verdict.WARN and "warn on 3" in live_use.summary
    findings = {f["subject"]: f for f in live_use.data["findings"]}  # one per finding
    assert findings["videos.youtube_id"]["members"] == ["acme", "globex"]
    assert findings["videos.youtube_id"]["sentence"].startswith("On acme, globex: `videos")

    request = service.create(
        kind=RequestKind.UPGRADE,
        target="tenants",
        requester=REQUESTER,
        fingerprint=set_plan(ACME, GLOBEX, INITECH),
        origin={"channel": "C0DEV"},
    )
    checks = [r.to_json() for r in report.results]
    service.record_preflight(
        request.id, actor="migrate-bot", passed=True, summary="warned", checks=checks
    )
    asked = service.get(request.id)
    assert len(warned_findings(asked)) == 2
    _, blocks = request_message(RequestCard(asked, (APPROVER,), (), (), 3600, utc_now()))
    assert ActionId.VIEW_LIVE_USE in str(blocks) and ActionId.LIVE_USE_ACK in str(blocks)
    assert "On acme, globex: `videos.youtube_id`" in str(blocks)
    with pytest.raises(LiveUseNotAcknowledgedError, match=r"`videos\.youtube_id`, `users\.fax`"):
        service.approve(request.id, approver=APPROVER)
    service.acknowledge_live_use(request.id, actor=APPROVER)
    assert service.approve(request.id, approver=APPROVER).request.state is RequestState.APPROVED


# --- views --------------------------------------------------------------------------------


def big_fleet(count: int) -> PlanFingerprint:
    members = [
        MemberPlan(
            f"tenant-{n:03d}",
            (f"r{n % 12:02d}",),
            ("r12",),
            tuple(f"r{k:02d}" for k in range(n % 12 + 1, 13)),
        )
        for n in range(count)
    ]
    ids = [f"r{k:02d}" for k in range(13)]
    return PlanFingerprint(
        "tenants", "upgrade", (), ("r12",), tuple(revision(r) for r in ids), members=tuple(members)
    )


def test_a_fleet_of_hundreds_stays_inside_block_kits_limits(service: RequestService) -> None:
    fingerprint = big_fleet(300)
    request = service.create(
        kind=RequestKind.UPGRADE, target="tenants", requester=REQUESTER, fingerprint=fingerprint
    )
    service.record_preflight(request.id, actor="migrate-bot", passed=True, summary="ok")
    service.approve(request.id, approver=APPROVER)
    request = service.start_run(request.id, actor="migrate-bot", fingerprint_now=fingerprint)
    error = "relation already exists " * 200
    for n, member in enumerate(list(request.members)[:40]):
        start(service, request, member)
        outcome = RequestState.FAILED if n % 3 == 0 else RequestState.SUCCEEDED
        service.finish_member(
            request.id, member=member, actor="migrate-bot", outcome=outcome, reason=error
        )
    request = service.get(request.id)
    now = request.created_at + timedelta(minutes=5)
    picture = fleet_picture(request, waves_total=3, now=now)
    card = RequestCard(request, ("U0BOB",), (), (), 3600, now, fleet=picture)
    _, blocks = request_message(card)
    assert limits.problems(blocks) == []
    text = str(blocks)
    assert "300 of 300 members" in text and "26 succeeded" in text and "14 failed" in text
    assert ActionId.CANCEL in text  # Stop the run

    service.finish_run(
        request.id, actor="migrate-bot", outcome=RequestState.FAILED, reason="1 member(s) failed"
    )
    ended = service.get(request.id)
    offers = fleet_ways_back(ended)
    card = RequestCard(
        ended,
        ("U0BOB",),
        (),
        (),
        3600,
        now,
        fleet=fleet_picture(ended, waves_total=3, now=now),
        ways_back=offers,
    )
    _, blocks = request_message(card)
    assert limits.problems(blocks) == []
    assert ActionId.FLEET_RETRY in str(blocks) and ActionId.FLEET_BACK_TO_START in str(blocks)
    outcome = fleet_outcome(
        ended,
        stop_reason="max_failures (1) reached",
        aborted=False,
        started_at=now,
        finished_at=now,
    )
    assert limits.problems(outcome_thread(outcome)[1]) == []

    update = FleetUpdate(
        request.id,
        "tenants",
        FleetUpdateKind.MEMBER_ENDED,
        "x",
        now,
        wave=2,
        member="tenant-007",
        state=MemberState.FAILED,
        data={"error": error, "failed_step": "apply"},
    )
    line = member_thread_line(update)
    assert (
        line is not None
        and line.startswith("❌ `tenant-007` failed at apply (wave 2)")
        and len(line) < 600
    )


def test_fleet_status_names_who_is_behind_and_who_cannot_be_reached() -> None:
    def at(rev: str, pending: int) -> Status:
        return Status("t", "db", "16.2", (rev,), ("r12",), tuple(object() for _ in range(pending)))  # type: ignore[misc]

    members = tuple(MemberStatus(f"m{n:03d}", at("r12", 0)) for n in range(250))
    members += tuple(MemberStatus(f"late{n}", at("r10", 2)) for n in range(30))
    members += (MemberStatus("gone", None, "connection refused"),)
    status = FleetStatus("tenants", members)
    blocks = fleet_status_blocks(status)
    assert limits.problems(blocks) == []
    text = str(blocks)
    assert "250 of 281 members at head" in text and "`gone`: connection refused" in text
    assert status.behind[0].name == "late0" and len(status.unreachable) == 1
