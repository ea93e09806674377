"""Frontier extraction, interpolation at a level, matched-SLO savings, sweeps and tune's split."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from forecastscale.backtest.runner import Scenario, build_scenario, with_slo
from forecastscale.backtest.scores import Scores
from forecastscale.backtest.sweep import Point, gpu_hours_at, grid, matched_slo, pareto, run_point, sweep, with_params
from forecastscale.backtest.tune import NoSettingMeetsSlo, parse_slo, split, tune, tuned_config
from forecastscale.config import load_config
from forecastscale.errors import ConfigError
from forecastscale.sources.csvtrace import Trace, load_trace
from tests.conftest import DATA

M = "underprovisioned_pct"


def _pt(policy: str, gpu: float, under: float, tag: float = 0.0) -> Point:
    return Point(policy, {"target_utilisation": tag}, Scores(gpu, gpu, under, 0.0, 0.0, 0.0, 0.5, 0, 0))


def test_frontier_keeps_only_non_dominated_points() -> None:
    points = [_pt("r", 100, 5.0, 1), _pt("r", 80, 5.0, 2), _pt("r", 120, 1.0, 3), _pt("r", 130, 2.0, 4),
              _pt("r", 60, 9.0, 5), _pt("r", 70, 10.0, 6)]
    # (130, 2 %) is worse on both than (120, 1 %); (100, 5 %) costs more than (80, 5 %);
    # (70, 10 %) costs more than (60, 9 %).
    assert [p.params["target_utilisation"] for p in pareto(points, M)] == [3, 2, 5]


@pytest.mark.parametrize(("level", "expected"), [
    (0.5, None),        # better than any point: not reachable
    (1.0, 120.0),       # exactly the first point
    (3.0, 100.0),       # halfway from (1 %, 120) to (5 %, 80)
    (7.0, 70.0),        # halfway from (5 %, 80) to (9 %, 60)
    (20.0, 60.0),       # beyond the cheapest point: it meets the level already
], ids=["unreachable", "on-point", "between-1", "between-2", "beyond"])
def test_gpu_hours_at_a_level_interpolate_on_the_frontier(level: float, expected: float | None) -> None:
    frontier = [_pt("r", 120, 1.0), _pt("r", 80, 5.0), _pt("r", 60, 9.0)]
    assert gpu_hours_at(frontier, M, level) == (pytest.approx(expected) if expected is not None else None)


def test_matched_slo_reports_the_saving() -> None:
    points = [_pt("reactive", 200, 1.0), _pt("reactive", 100, 3.0),
              _pt("predictive", 120, 0.5), _pt("predictive", 60, 2.0)]
    levels = matched_slo(points, M, [0.5, 2.0])["levels"]
    assert levels["0.5"]["reactive_gpu_hours"] is None and levels["0.5"]["saving"] is None
    row = levels["2"]  # reactive halfway from (1 %, 200) to (3 %, 100) = 150; predictive 60
    assert row["reactive_gpu_hours"] == pytest.approx(150.0)
    assert row["predictive_gpu_hours"] == pytest.approx(60.0)
    assert row["saving"] == pytest.approx(0.6)


def test_grids_and_params() -> None:
    assert len(grid("reactive")) == 12
    assert len(grid("predictive")) == 40
    with pytest.raises(ValueError, match="no sweep grid"):
        grid("oracle")
    cfg = load_config(DATA / "elb_request_count.yaml")
    t = with_params(cfg.targets[0], {"target_utilisation": 0.9, "quantile": 0.99}, "predictive")
    assert (t.forecast.target_utilisation, t.forecast.quantile) == (0.9, 0.99)
    # Each knob is set inside its section; the rest of the section is kept, and predictive's utilisation is its
    # own: the reactive HPA's scaling.target_utilisation does not move.
    assert t.scaling == cfg.targets[0].scaling
    assert t.forecast.model_copy(update={"quantile": 0.9, "target_utilisation": None}) == cfg.targets[0].forecast
    r = with_params(cfg.targets[0], {"target_utilisation": 0.2}, "reactive")
    assert (r.scaling.target_utilisation, r.forecast) == (0.2, cfg.targets[0].forecast)
    with pytest.raises(KeyError):
        with_params(cfg.targets[0], {"colour": 1.0})  # an unknown knob is an error, not a stray attribute


def _scenario(days: float) -> Scenario:
    cfg = load_config(DATA / "elb_request_count.yaml")
    trace = load_trace(DATA / "elb_request_count_8c0756.csv")
    n = int(days * 86400 / trace.step_s)
    short = Trace(trace.name, trace.start, trace.step_s, trace.values[:n].copy(), trace.report)
    return build_scenario(cfg, cfg.targets[0], short)


SMALL = {"reactive": [{"target_utilisation": 0.5}, {"target_utilisation": 0.9}],
         "predictive": [{"target_utilisation": 0.7, "quantile": 0.5}, {"target_utilisation": 0.7, "quantile": 0.95}]}


def test_parallel_sweep_equals_serial_sweep() -> None:
    sc = _scenario(2.5)
    serial = sweep(sc, ["reactive", "predictive"], jobs=1, grids=SMALL)
    parallel = sweep(sc, ["reactive", "predictive"], jobs=2, grids=SMALL)
    assert serial == parallel
    assert [p.params for p in serial] == [*SMALL["reactive"], *SMALL["predictive"]]
    # More headroom (lower utilisation, higher quantile) costs more GPU-hours.
    assert serial[0].scores.gpu_hours > serial[1].scores.gpu_hours
    assert serial[3].scores.gpu_hours > serial[2].scores.gpu_hours


def test_tune_never_sees_the_report_part() -> None:
    sc = _scenario(3.0)
    tune_sc, report_sc = split(sc, 0.5)
    cut = len(tune_sc.demand)
    assert report_sc.warmup_steps == cut and len(report_sc.demand) == len(sc.demand)
    altered = replace(sc, demand=np.concatenate([sc.demand[:cut], sc.demand[cut:] * 4]))
    slo = parse_slo("underprovisioned_pct<=50")
    a = tune(sc, "reactive", slo, 0.5, jobs=1, grid=SMALL["reactive"])
    b = tune(altered, "reactive", slo, 0.5, jobs=1, grid=SMALL["reactive"])
    assert a.params == b.params and a.tune_scores == b.tune_scores and a.points == b.points
    assert a.report_scores != b.report_scores  # the report part did change


def test_tune_picks_the_cheapest_setting_that_meets_the_slo() -> None:
    sc = _scenario(3.0)
    points = sweep(split(sc, 0.5)[0], ["reactive"], jobs=1, grids=SMALL)
    limit = max(p.scores.underprovisioned_pct for p in points)  # both meet it: the cheaper wins
    result = tune(sc, "reactive", parse_slo(f"underprovisioned_pct<={limit}"), 0.5, 1, grid=SMALL["reactive"])
    assert result.params == min(points, key=lambda p: p.scores.gpu_hours).params
    with pytest.raises(NoSettingMeetsSlo, match="best is underprovisioned_pct="):
        tune(sc, "reactive", parse_slo("underprovisioned_pct<=0"), 0.5, 1, grid=SMALL["reactive"])


@pytest.mark.parametrize("text", ["latency<=3", "underprovisioned_pct<3", "p99_wait_s<=fast", ""],
                         ids=["unknown-metric", "strict", "not-number", "empty"])
def test_bad_slo_is_a_clear_error(text: str) -> None:
    with pytest.raises(ConfigError, match="expected METRIC<=NUMBER"):
        parse_slo(text)


def test_split_rejects_fractions_outside_0_1() -> None:
    with pytest.raises(ConfigError, match=r"--split: invalid configuration\n  must be between 0 and 1, got 1.5"):
        split(_scenario(2.5), 1.5)


def test_tuned_config_writes_the_knobs_into_the_named_target() -> None:
    raw = {"targets": [{"name": "a", "scaling": {"target_utilisation": 0.7}},
                       {"name": "b", "scaling": {"max_replicas": 4}}], "node_pools": []}
    out = tuned_config(raw, "b", {"target_utilisation": 0.9, "quantile": 0.95}, "predictive")
    assert out["targets"][1] == {"name": "b", "scaling": {"max_replicas": 4},
                                 "forecast": {"quantile": 0.95, "target_utilisation": 0.9}}
    reactive = tuned_config(raw, "b", {"target_utilisation": 0.2}, "reactive")
    assert reactive["targets"][1] == {"name": "b", "scaling": {"max_replicas": 4, "target_utilisation": 0.2}}
    assert out["targets"][0] == raw["targets"][0]  # only the named target is tuned
    assert raw["targets"][1] == {"name": "b", "scaling": {"max_replicas": 4}}  # the input is not modified
    with pytest.raises(ConfigError, match="no target named 'c'"):
        tuned_config(raw, "c", {})


def test_tuning_predictive_never_moves_the_reactive_baseline() -> None:
    """Issue 16: a config written by ``tune --out`` for predictive replays reactive exactly as before."""
    sc = with_slo(_scenario(3.0), None)  # the knobs, as tune sweeps them (with an SLO the margin sizes)
    tuned = replace(sc, target=with_params(sc.target, {"target_utilisation": 0.3}, "predictive"))
    assert run_point(tuned, "reactive", {}).scores == run_point(sc, "reactive", {}).scores
    looser = run_point(tuned, "predictive", {}).scores.gpu_hours
    assert looser > run_point(sc, "predictive", {}).scores.gpu_hours  # 30 % utilisation: more GPUs than 70 %
