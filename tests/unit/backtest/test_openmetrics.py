"""``--openmetrics``: the per-step series as text that the real ``promtool`` turns into TSDB blocks."""

from __future__ import annotations

import math
import re
import subprocess
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from forecastscale.backtest import openmetrics
from forecastscale.backtest.runner import build_scenario
from forecastscale.backtest.suite import Job, TraceResult, run_job
from forecastscale.config import load_config
from forecastscale.devtools.prometheus import tool
from forecastscale.errors import ConfigError
from forecastscale.sources.csvtrace import load_trace
from tests.conftest import DATA

CONFIG = DATA / "elb_request_count.yaml"
NAMES = ("forecastscale_replay_demand", "forecastscale_replay_forecast", "forecastscale_replay_desired_replicas",
         "forecastscale_replay_ready_capacity", "forecastscale_replay_underprovisioned")
SAMPLE = re.compile(r'^(\w+)\{((?:\w+="(?:[^"\\]|\\.)*",?)*)\} (\S+) (\d+)$')


def _result(days: float, quantiles: tuple[float, ...], start: datetime | None = None) -> TraceResult:
    """The first ``days`` of the ELB trace through reactive, predictive and oracle (moved to ``start``)."""
    cfg = load_config(CONFIG)
    trace = load_trace(DATA / "elb_request_count_8c0756.csv")
    trace = replace(trace, values=trace.values[: round(days * 288)], start=start or trace.start)
    target = cfg.targets[0]
    job = Job(CONFIG, cfg, target, Path("elb.csv"))
    return run_job(job, build_scenario(cfg, target, trace), ["reactive", "predictive", "oracle"], None, quantiles)


@pytest.fixture(scope="module")
def result() -> TraceResult:
    # Any fixed time on the 5-min grid: Prometheus measures retention from its newest block, not from now,
    # so old blocks are queried as well, and the test reads the same whenever it runs.
    return _result(3.0, (0.5,), datetime(2026, 5, 21, tzinfo=UTC))


def test_the_median_is_kept_without_changing_any_decision(result: TraceResult) -> None:
    plain = _result(3.0, ())
    for name, run in plain.runs.items():
        assert run.scores == result.runs[name].scores, name
        np.testing.assert_array_equal(run.replicas, result.runs[name].replicas)
    assert set(plain.runs["predictive"].forecasts) == {0.9}
    paths = result.runs["predictive"].forecasts
    assert set(paths) == {0.5, 0.9} and not result.runs["reactive"].forecasts
    fitted = ~np.isnan(paths[0.9])
    assert not fitted[0] and fitted[-1]  # no fit before two days of history, one after
    assert np.all(paths[0.5][fitted] <= paths[0.9][fitted] + 1e-9)


def test_text_has_one_gauge_block_per_family_in_time_order(result: TraceResult) -> None:
    lines = "".join(openmetrics.render([result], 'what "if" \\ 1')).splitlines()
    assert lines[-1] == "# EOF" and lines.count("# EOF") == 1
    types = [line.split()[2:] for line in lines if line.startswith("# TYPE")]
    assert types == [[name, "gauge"] for name in NAMES]
    sc = result.scenario
    first = sc.trace.start.timestamp() + sc.warmup_steps * sc.step_s
    seen: dict[str, list[float]] = {}
    family = ""
    for line in lines[:-1]:
        if line.startswith("# TYPE"):
            family = line.split()[2]
            continue
        if line.startswith("#"):
            continue
        match = SAMPLE.match(line)
        assert match, line
        assert match[1] == family  # samples stay inside their family's block
        assert r'run="what \"if\" \\ 1"' in match[2]
        seen.setdefault(match[1] + match[2], []).append(int(match[4]))
        assert math.isfinite(float(match[3]))
    assert len(seen) == 1 + 2 + 3 * 3  # demand; forecast at 0.9 and 0.5; three metrics × three policies
    for key, times in seen.items():
        assert times == sorted(times) and len(set(times)) == len(times), key
        assert times[0] >= first and times[-1] < first + (sc.scored_end - sc.warmup_steps) * sc.step_s


def test_underprovisioned_flags_add_up_to_the_score(result: TraceResult) -> None:
    fam = openmetrics.families([result], "r")
    steps = result.scenario.scored_end - result.scenario.warmup_steps
    for s in fam[openmetrics.UNDER]:
        pct = result.runs[s.labels["policy"]].scores.underprovisioned_pct
        assert s.values.sum() == pytest.approx(pct / 100 * steps)
    [demand] = fam[openmetrics.DEMAND]
    np.testing.assert_array_equal(demand.values, result.scenario.demand[result.scenario.warmup_steps:])
    assert {s.labels["quantile"] for s in fam[openmetrics.FORECAST]} == {"0.5", "0.9"}


@pytest.mark.prometheus
def test_promtool_accepts_the_file(result: TraceResult, tmp_path: Path) -> None:
    path = tmp_path / "run.om"
    samples = openmetrics.write([result], path, "unit")
    done = subprocess.run([tool("promtool"), "tsdb", "create-blocks-from", "openmetrics", str(path),
                           str(tmp_path / "blocks")], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    # promtool prints one row per block written: ULID, min and max time, duration, samples, …
    rows = [line.split() for line in done.stdout.splitlines() if re.match(r"^[0-9A-Z]{26}\s", line)]
    assert rows and sum(int(row[4]) for row in rows) == samples
    assert len(list((tmp_path / "blocks").iterdir())) == len(rows)


def test_a_target_replayed_twice_is_refused(result: TraceResult, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="replayed more than once"):
        openmetrics.write([result, result], tmp_path / "x.om", "r")


def test_default_run_name() -> None:
    moment = datetime(2026, 11, 29, 7, 57, 21, tzinfo=UTC).timestamp()
    assert openmetrics.run_name(Path("conf/my config.yaml"), moment) == "my_config-20261129T0757Z"
    assert openmetrics.run_name(Path("elb.yaml"), moment + timedelta(hours=1).total_seconds()) == "elb-20261129T0857Z"
