"""Every table explains itself: units and better direction in the headers, one line of verdict computed from the
numbers (honest when predictive loses), and a replay that ran predictive as reactive says so and why."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import yaml
from rich.console import Console
from typer.testing import CliRunner

from forecastscale.backtest import explain, frontier_report, report
from forecastscale.backtest.frontier_report import SweepResult
from forecastscale.backtest.replay import replay_job
from forecastscale.backtest.runner import RunResult, Scenario, build_scenario
from forecastscale.backtest.scores import Scores
from forecastscale.backtest.suite import Job, TraceResult, run_job
from forecastscale.backtest.sweep import Point
from forecastscale.backtest.tune import Slo, TuneResult
from forecastscale.cli import app
from forecastscale.config import Config, parse_config
from forecastscale.sources.csvtrace import Trace, TraceReport
from tests.conftest import BASE_CONFIG

M = "underprovisioned_pct"
DAY = 86400


def _trace(days: float, step_s: float = 300.0) -> Trace:
    """A daily cycle between 4 and 16 requests/s, ``days`` long."""
    t = np.arange(int(days * DAY / step_s)) * step_s
    values = 10.0 + 6.0 * np.sin(2 * np.pi * t / DAY)
    return Trace("daily", datetime(2024, 1, 1, tzinfo=UTC), step_s, values, TraceReport(0, 0, 0, 0, 0, 0, 0))


def _scores(gpu_hours: float, under: float) -> Scores:
    return Scores(gpu_hours, 2 * gpu_hours, under, under / 2, under, 30.0, 0.6, 100, 20)


def _run(policy: str, gpu_hours: float, under: float, n: int) -> RunResult:
    forecasts = {0.9: np.ones(n)} if policy == "predictive" else {}  # a forecast at every step
    return RunResult(policy, _scores(gpu_hours, under), np.ones(n), np.ones(n), np.ones(n), {}, forecasts)


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    config = parse_config(BASE_CONFIG)
    return build_scenario(config, config.targets[0], _trace(3))


def _result(sc: Scenario, predictive: tuple[float, float], reactive: tuple[float, float]) -> TraceResult:
    n = len(sc.demand)
    runs = {"reactive": _run("reactive", *reactive, n), "predictive": _run("predictive", *predictive, n),
            "oracle": _run("oracle", 500.0, 0.0, n)}
    job = Job(Path("c.yaml"), Config(targets=[sc.target], node_pools=[sc.pool]), sc.target, Path("t.csv"))
    return TraceResult(job, sc, runs)


@pytest.mark.parametrize(("predictive", "reactive", "expected"), [
    ((690.0, 34.8), (1000.0, 33.7), "predictive wins: 31 % fewer GPU-hours than reactive at the same SLO "
                                    "(under-provisioned 34.8 vs 33.7 % of minutes)"),
    ((900.0, 1.0), (1000.0, 5.0), "predictive wins: 10 % fewer GPU-hours than reactive for a better SLO "
                                  "(under-provisioned 1 vs 5 % of minutes)"),
    ((1200.0, 2.0), (1000.0, 2.05), "predictive loses: 20 % more GPU-hours than reactive at the same SLO"),
    ((1365.0, 2.03), (1000.0, 33.7), "predictive buys SLO with GPU-hours: 36 % more GPU-hours than reactive for "
                                     "a better SLO (under-provisioned 2.03 vs 33.7 % of minutes)"),
    ((700.0, 41.1), (1000.0, 34.5), "predictive trades SLO for GPU-hours: 30 % fewer GPU-hours than reactive for "
                                    "a worse SLO (under-provisioned 41.1 vs 34.5 % of minutes)"),
    ((1100.0, 9.0), (1000.0, 5.0), "predictive loses: 10 % more GPU-hours than reactive for a worse SLO"),
    ((1004.0, 3.0), (1000.0, 3.1), "predictive ties: GPU-hours within 1 % of reactive's at the same SLO"),
], ids=["win-same-slo", "win-both", "loss-same-slo", "buys-slo", "trades-slo", "loss-both", "tie"])
def test_the_table_verdict_is_computed_and_honest(scenario: Scenario, predictive: tuple[float, float],
                                                  reactive: tuple[float, float], expected: str) -> None:
    result = _result(scenario, predictive, reactive)
    line = report.verdict(result)
    assert line.startswith(expected)
    assert "\n" not in line
    assert line.endswith("oracle (perfect foresight) needs 500.0 GPU-h at under-provisioned 0 % of minutes, "
                         "the lower bound")
    assert ("--sweep compares them at the same SLO" in line) == ("same SLO (" not in line)
    md = report.markdown([result])  # the Markdown table carries the same verdict, on one line under it
    assert md.splitlines()[-1].endswith(line) and md.splitlines()[0].startswith("| trace | policy | GPU-h ↓ |")


def test_the_terminal_table_names_units_and_direction(scenario: Scenario) -> None:
    console = Console(width=200, record=True)
    console.print(report.rich_table(_result(scenario, (900.0, 1.0), (1000.0, 5.0))))
    text = console.export_text()
    for label in ("GPU-h ↓", "under-provisioned, % of minutes ↓", "p99 wait, s ↓", "utilisation of ready "
                  "capacity, 0–1 ↑", explain.LEGEND):
        assert label in text
    assert "no forecast" not in text  # the note row shows only when a forecast was missing


def test_without_a_pair_the_verdict_lists_what_ran(scenario: Scenario) -> None:
    result = _result(scenario, (900.0, 1.0), (1000.0, 5.0))
    del result.runs["predictive"]
    assert report.verdict(result) == ("reactive: 1,000.0 GPU-h, under-provisioned 5 % of minutes (no predictive and "
                                      "reactive pair to compare); oracle (perfect foresight) needs 500.0 GPU-h at "
                                      "under-provisioned 0 % of minutes, the lower bound")


def _swept(levels: dict[str, tuple[float | None, float | None]]) -> SweepResult:
    """A sweep whose frontiers give exactly these (reactive, predictive) GPU-hours at each level: one point each
    at the level, so no interpolation."""
    points = []
    for level, pair in levels.items():
        for policy, gpu in zip(("reactive", "predictive"), pair, strict=True):
            if gpu is not None:
                points.append(Point(policy, {"target_utilisation": 0.5}, _scores(gpu, float(level))))
    return SweepResult("t.csv", points, 100.0, M, tuple(float(x) for x in levels))


@pytest.mark.parametrize(("levels", "expected"), [
    ({"1": (300.0, 200.0), "2": (250.0, 200.0)}, "predictive wins: 20–33 % fewer GPU-hours than reactive at the "
                                                 "same under-provisioned % of minutes (≤ 1, ≤ 2)"),
    ({"1": (200.0, 300.0), "2": (150.0, 250.0)}, "predictive loses: 50–67 % more GPU-hours than reactive at the "
                                                 "same under-provisioned % of minutes (≤ 1, ≤ 2)"),
    ({"1": (200.0, 200.5)}, "predictive ties: GPU-hours within 1 % of reactive's at the same under-provisioned"),
    ({"1": (300.0, 240.0), "2": (200.0, 220.0)}, "predictive's saving against reactive varies with the level: "
                                                 "+20.0 % at ≤ 1, -10.0 % at ≤ 2"),
    ({"0.5": (None, 400.0), "1": (300.0, 240.0)}, "predictive wins: 20 % fewer GPU-hours than reactive at the "
                                                  "same under-provisioned % of minutes (≤ 1); only predictive "
                                                  "reaches under-provisioned ≤ 0.5"),
    ({"0.5": (400.0, None), "1": (None, None)}, "only reactive reaches under-provisioned ≤ 0.5"),
], ids=["win", "loss", "tie", "mixed", "only-predictive-reaches", "only-reactive-reaches"])
def test_the_matched_table_verdict(levels: dict[str, tuple[float | None, float | None]], expected: str) -> None:
    line = frontier_report.matched_verdict(_swept(levels))
    assert line.startswith(expected)
    assert line.endswith("oracle (perfect foresight) needs 100.0 GPU-h, the lower bound")


def test_the_frontier_verdict_counts_settings_beaten_on_both_axes() -> None:
    pred = [(0.5, 300.0), (2.0, 150.0)]
    reac = [(1.0, 400.0), (3.0, 140.0)]  # (1 %, 400) is beaten by (0.5 %, 300); (3 %, 140) by nothing
    assert explain.frontier(M, pred, reac) == (
        "predictive beats 1 of 2 reactive frontier settings on both GPU-h and under-provisioned % of minutes "
        "(reactive beats 0 of 2 predictive ones); lowest under-provisioned reached: predictive 0.5, reactive 1 "
        "% of minutes")


@pytest.mark.parametrize(("report_under", "expected"), [
    (0.8, "and it holds on the later report part (0.8) with 90.0 GPU-h there"),
    (1.7, "but NOT on the later report part (1.7 > 1): it fits the past only"),
], ids=["holds", "fails-later"])
def test_the_tune_verdict_checks_the_later_part(report_under: float, expected: str) -> None:
    result = TuneResult("predictive", {"target_utilisation": 0.9, "quantile": 0.99}, _scores(100.0, 0.9),
                        _scores(90.0, report_under), 10, [])
    line = frontier_report.tune_verdict(result, Slo(M, 1.0))
    assert line.startswith("predictive at target_utilisation=0.9, quantile=0.99 is the cheapest setting meeting "
                           "underprovisioned_pct<=1 on the tuning part (0.9), ")
    assert expected in line


# A replay of 1.5 days with a daily season: a fit needs two seasons (48 h), so predictive never has a forecast.
SHORT_DAYS = 1.5


@pytest.fixture(scope="module")
def short_replay() -> TraceResult:
    config = parse_config(BASE_CONFIG)
    sc = build_scenario(config, config.targets[0], _trace(SHORT_DAYS))
    return run_job(replay_job(Path("live.yaml"), config, config.targets[0]), sc, ["reactive", "predictive"])


FALLBACK = ("llm: predictive had no forecast on 100 % of scored steps and scaled as reactive there: its whole "
            "history (36 h) is shorter than the two forecast seasons (2 × forecast.season_s = 48 h) a fit needs")


def test_a_history_shorter_than_two_seasons_is_named_with_its_reason(short_replay: TraceResult) -> None:
    assert report.fallback_note(short_replay) == FALLBACK
    assert report.verdict(short_replay).startswith(
        "no forecasting verdict: predictive had no forecast on 100 % of scored steps and ran as reactive")
    console = Console(width=200, record=True)
    console.print(report.rich_table(short_replay))
    assert "no forecast, % of scored steps ↓" in console.export_text()
    assert report.to_json([short_replay])["traces"][0]["fallback"] == FALLBACK


def test_replay_says_it_on_stderr_and_in_the_table(short_replay: TraceResult, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The replay command itself (its Prometheus fetch stubbed with the short history above)."""
    config = tmp_path / "live.yaml"
    config.write_text(yaml.safe_dump(BASE_CONFIG), encoding="utf-8")
    monkeypatch.setattr("forecastscale.cli.replay._fetch", lambda *_: [short_replay.scenario])
    result = CliRunner().invoke(app, ["replay", "--config", str(config), "--prometheus", "http://127.0.0.1:9",
                                      "--since", "36h", "--policy", "reactive,predictive", "--quiet"])
    assert result.exit_code == 0, result.output
    assert f"warning: {FALLBACK}\n" in result.stderr  # one line, not wrapped
    assert "no forecast, % of scored steps" in result.stdout
    assert "verdict: no forecasting verdict: predictive had no forecast on 100 % of scored steps" in result.stdout
