"""The New Year's Eve scenario: the event floor against the HPA and the forecast alone, in one window."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from forecastscale.backtest import report
from forecastscale.backtest.suite import TraceResult, default_policies, plan_jobs, run_job, scenario_for
from forecastscale.backtest.window import lead_in_s, parse_window
from forecastscale.config import Config, load_config
from forecastscale.errors import ConfigError
from tests.conftest import DATA

SCENARIO = DATA / "scenarios" / "nyc_new_year.yaml"
WINDOW = "2014-12-31T23:00/2015-01-01T06:00"


@pytest.fixture(scope="module")
def new_year() -> TraceResult:
    config = load_config(SCENARIO)
    [job] = plan_jobs([(SCENARIO, config)], [], None)
    sc = scenario_for(job, parse_window(WINDOW))
    return run_job(job, sc, default_policies([job]))


def test_the_event_floor_beats_the_hpa_and_the_forecast_alone(new_year: TraceResult) -> None:
    scores = report.policy_scores(new_year)
    under = {p: s[report.UNDER_MIN] for p, s in scores.items()}
    assert under["predictive"] < under["reactive"]
    assert under["predictive"] < under["forecast_only"]
    assert under["predictive"] == 0.0
    # The floor is what acted: it won most of the event's steps.
    assert new_year.runs["predictive"].reasons.get("event", 0) > 0
    # And it costs GPU-hours: the baselines never see the floor.
    for name in ("reactive", "forecast_only"):
        assert not any(r.startswith("event") for r in new_year.runs[name].reasons)
        assert scores["predictive"]["gpu_hours"] > scores[name]["gpu_hours"]  # type: ignore[operator]


def test_the_window_is_scored_alone(new_year: TraceResult) -> None:
    sc = new_year.scenario
    assert (sc.scored_end - sc.warmup_steps) * sc.step_s == 7 * 3600
    # Replayed from the fit window (21 days) before the window, on the trace's own clock.
    assert sc.warmup_steps * sc.step_s == pytest.approx(21 * 86400)
    assert sc.trace.start.isoformat() == "2014-12-10T23:00:00+00:00"
    entry = report.to_json([new_year])["traces"][0]
    assert entry["window"] == {"start": "2014-12-31T23:00:00+00:00", "end": "2015-01-01T06:00:00+00:00"}
    assert entry["scored_steps"] == 84


def test_forecast_only_is_listed_only_when_a_target_has_schedules() -> None:
    plain = DATA / "nyc_taxi.yaml"
    jobs = plan_jobs([(plain, load_config(plain))], [], None)
    assert default_policies(jobs) == ["reactive", "predictive", "oracle"]
    jobs = plan_jobs([(SCENARIO, load_config(SCENARIO))], [], None)
    assert default_policies(jobs) == ["reactive", "forecast_only", "predictive", "oracle"]


def test_lead_in_is_the_longer_of_warmup_and_fit_history(make_config: Callable[..., Config]) -> None:
    cfg = make_config(backtest={"warmup_s": 3600})
    assert lead_in_s(cfg, cfg.targets[0]) == 7 * 86400  # the default fit window
    cfg = make_config(backtest={"warmup_s": 9 * 86400})
    assert lead_in_s(cfg, cfg.targets[0]) == 9 * 86400


@pytest.mark.parametrize(("text", "message"), [
    ("2015-01-01T00:00", "expected START/END"),
    ("2015-01-01T06:00/2015-01-01T00:00", "END must be after START"),
    ("yesterday/today", "not an ISO-8601 time"),
])
def test_bad_windows(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_window(text)


def test_a_window_outside_the_trace_is_an_error() -> None:
    [job] = plan_jobs([(SCENARIO, load_config(SCENARIO))], [], None)
    with pytest.raises(ConfigError, match=r"is not inside nyc_taxi\.csv"):
        scenario_for(job, parse_window("2016-01-01T00:00/2016-01-02T00:00"))


def test_the_scenario_trace_resolves_next_to_the_file() -> None:
    [target] = load_config(SCENARIO).targets
    trace = target.backtest.trace
    assert trace is not None and Path(trace).resolve() == (DATA / "nyc_taxi.csv").resolve()
