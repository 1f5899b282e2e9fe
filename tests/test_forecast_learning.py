"""How right the forecast was, and what the target's runs teach it: scoring, learned rates and
the choice between learned, probed and built-in rates (with the card's words for each)."""

from __future__ import annotations

import pytest

from audit.chain import Event
from audit.store import EventStore
from bot.views.forecast import beside_forecast, score_headline
from commands.checks.forecast.choice import PROBE_WORTH_BYTES, choose_rates
from commands.checks.forecast.classes import Effect, WorkKind
from commands.checks.forecast.learned import learned_from, learned_rates
from commands.checks.forecast.model import (
    Forecast,
    RevisionForecast,
    Span,
    StatementForecast,
    WorkDone,
)
from commands.checks.forecast.probe import PROBE_BASELINE, ProbeError, ProbeResult
from commands.checks.forecast.rates import BUILT_IN, Source
from commands.checks.forecast.scoring import (
    MIN_SAMPLE_BYTES,
    Sample,
    Score,
    ScoredRevision,
    score,
)
from commands.checks.forecast.wording import against, score_words, scored_words
from commands.state.vocabulary import EventKind

GB = 1024**3


def revision(rev: str, passes: list[tuple[WorkKind, int, float]], extra: float = 0.05):
    """A revision forecast whose statements do ``passes`` (kind, bytes, seconds)."""
    statements = tuple(
        StatementForecast(
            n,
            n,
            "…",
            kind.effect,
            "",
            (),
            (WorkDone(kind, "t", size, Span(seconds, seconds / 2, seconds * 2)),),
            Span(seconds, 0, 0),
        )
        for n, (kind, size, seconds) in enumerate(passes, 1)
    )
    total = sum(seconds for _, _, seconds in passes) + extra
    return RevisionForecast(rev, statements, Span(total, total / 2, total * 2))


def test_a_run_is_scored_revision_by_revision_and_the_dominant_pass_teaches_its_rate() -> None:
    forecast = Forecast(
        "prod",
        (
            revision("r1", [(WorkKind.REWRITE, 2 * GB, 50.0)]),
            revision("r2", [(WorkKind.INDEX, GB, 10.0), (WorkKind.SCAN, GB, 9.0)]),
            revision("r3", [(WorkKind.SCAN, MIN_SAMPLE_BYTES // 2, 0.01)]),
        ),
        "first run on prod: calibrated now",
    )
    scored = score(forecast, [("r1", 80.05), ("r2", 25.0), ("r3", 0.2)], source="run")
    assert [r.ratio for r in scored.revisions] == pytest.approx(
        [80.05 / 50.05, 25 / 19.05, 0.2 / 0.06]
    )
    assert scored.revisions[0].in_range and not scored.revisions[2].in_range
    # r1 teaches the rewrite rate (80 s for 2 GB); r2's two passes are too alike to tell apart;
    # r3's pass is too small to be more than fixed costs
    assert scored.samples == (Sample(WorkKind.REWRITE, 2 * GB, pytest.approx(80.0)),)
    assert scored.samples[0].seconds_per_gb == pytest.approx(40.0)
    assert Score.from_json(scored.to_json()).to_json() == scored.to_json()


def test_a_revision_without_a_forecast_is_scored_without_a_ratio() -> None:
    forecast = Forecast("prod", (RevisionForecast("r1", note="SQL not available offline"),), "")
    scored = score(forecast, [("r1", 3.0)], source="rehearsal")
    assert scored.revisions[0].ratio is None and scored.forecast_total is None
    assert scored.samples == ()


def test_learned_rates_are_the_median_of_the_newest_samples_and_say_where_they_come_from(
    store: EventStore,
) -> None:
    for seconds, source in [(20.0, "run"), (30.0, "run"), (400.0, "rehearsal"), (40.0, "run")]:
        sample = Sample(WorkKind.REWRITE, GB, seconds)
        store.append(
            kind=EventKind.FORECAST_SCORED,
            actor="migrate-bot",
            target="prod",
            data=Score(source, (), (sample,)).to_json(),
        )
    store.append(
        kind=EventKind.FORECAST_SCORED,
        actor="migrate-bot",
        target="staging",
        data=Score("run", (), (Sample(WorkKind.SCAN, GB, 1.0),)).to_json(),
    )
    learned = learned_rates(store, "prod")
    rate = learned.rates[WorkKind.REWRITE]
    assert rate.seconds_per_gb == pytest.approx(35.0)  # one odd rehearsal does not move it
    assert (rate.low, rate.high) == pytest.approx((20 / 35, 400 / 35))
    assert rate.source is Source.LEARNED and rate.samples == 4
    assert WorkKind.SCAN not in learned.rates
    assert learned.basis == "calibrated on 3 past runs and 1 rehearsal on prod"


def probe_here(factor: float) -> ProbeResult:
    return ProbeResult({name: value * factor for name, value in PROBE_BASELINE.items()}, 0.8)


def test_first_run_is_calibrated_now_by_the_probe() -> None:
    rates = choose_rates(
        {WorkKind.INDEX: 10 * GB}, learned=None, probe=lambda: probe_here(3.0), target="prod"
    )
    assert rates[WorkKind.INDEX].seconds_per_gb == pytest.approx(BUILT_IN[WorkKind.INDEX] * 3)
    assert rates[WorkKind.INDEX].source is Source.PROBE
    assert rates.basis == "first run on prod: calibrated now (800 ms probe)"


def test_past_runs_win_and_the_probe_runs_only_for_what_they_did_not_teach() -> None:
    learned = learned_from("prod", [_event(Sample(WorkKind.INDEX, GB, 12.0))])
    calls: list[str] = []

    def probe() -> ProbeResult:
        calls.append("probe")
        return probe_here(2.0)

    taught = choose_rates({WorkKind.INDEX: 10 * GB}, learned=learned, probe=probe, target="prod")
    assert taught[WorkKind.INDEX].seconds_per_gb == pytest.approx(12.0)
    assert taught.basis == "calibrated on 1 past run on prod" and calls == []
    mixed = choose_rates(
        {WorkKind.INDEX: 10 * GB, WorkKind.UPDATE: 10 * GB},
        learned=learned,
        probe=probe,
        target="prod",
    )
    assert calls == ["probe"]
    assert mixed[WorkKind.UPDATE].source is Source.PROBE
    assert (
        mixed.basis
        == "calibrated on 1 past run on prod; calibrated now (800 ms probe) for the rest"
    )


@pytest.mark.parametrize(
    ("work", "probe", "basis"),
    [
        ({}, None, "catalog-only: instant once each lock is granted"),
        (
            {WorkKind.SCAN: PROBE_WORTH_BYTES - 1},
            None,
            "built-in rates (under 64.0 MB of work: no calibration)",
        ),
        (
            {WorkKind.SCAN: PROBE_WORTH_BYTES},
            None,
            "built-in rates (the calibration probe is switched off)",
        ),
    ],
)
def test_built_in_rates_say_why(work, probe, basis) -> None:
    rates = choose_rates(work, learned=None, probe=probe, target="prod")
    assert rates.basis == basis
    assert {rate.source for rate in rates.by_kind.values()} == {Source.BUILT_IN}


def test_a_probe_that_cannot_run_leaves_the_built_in_rates_and_says_why() -> None:
    def refused() -> ProbeResult:
        raise ProbeError("the calibration probe could not run: permission denied for TEMP")

    rates = choose_rates({WorkKind.SCAN: GB}, learned=None, probe=refused, target="prod")
    assert rates.basis == (
        "built-in rates (the calibration probe could not run: permission denied for TEMP)"
    )


def _event(sample: Sample) -> Event:
    data = Score("run", (), (sample,)).to_json()
    return Event(
        1,
        "2026-01-01T00:00:00+00:00",
        None,
        "prod",
        "migrate-bot",
        EventKind.FORECAST_SCORED,
        data,
        "0" * 64,
        "0" * 64,
    )


def test_effects_read_as_the_approver_reads_them() -> None:
    assert [e.value for e in Effect] == [
        "catalog-only",
        "scans",
        "builds an index",
        "rewrites",
        "changes rows",
        "runs code the bot cannot see into",
    ]


def test_the_thread_reads_each_revision_beside_its_forecast() -> None:
    scored = Score(
        "run",
        (
            ScoredRevision("e2f6a8c0d376", Span(120.0, 60.0, 240.0), 160.0),
            ScoredRevision("4f1c7a9e2b87", Span(0.06, 0.06, 0.06), 0.5),
            ScoredRevision("5a7c1e3f0b54", None, 3.0),
        ),
        (),
    )
    assert score_headline(scored) == (
        "*Forecast vs actual* 3 revisions took 2 min 44 s; not all of them were forecast"
    )
    assert [beside_forecast(scored, r.revision) for r in scored.revisions] == [
        " · forecast ~2 min (1 min to 4 min): x1.33",
        " · forecast instant",  # both under a second: a ratio would judge fixed costs
        " · not forecast",
    ]
    slow = ScoredRevision("4f1c7a9e2b87", Span(0.06, 0.06, 0.06), 1.5)
    assert against(slow) == "forecast instant: longer than that (outside the range)"
    assert beside_forecast(None, "e2f6a8c0d376") == ""
    assert scored_words(scored.revisions[0]) == (
        "e2f6a8c0d376: took 2 min 40 s, forecast ~2 min (1 min to 4 min): x1.33"
    )
    both = Score("run", scored.revisions[:2], ())
    assert score_words(both) == "2 revisions took 2 min 40 s; forecast ~2 min (1 min to 4 min)"
