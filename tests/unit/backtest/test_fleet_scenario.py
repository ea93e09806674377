"""The fleet scenario (data/scenarios/fleet_faults.yaml): two targets on two pools with spill-over, headroom, a
health fault, a stockout and an announced event, replayed over its first four days; and the scenario options'
validation and clock."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from forecastscale.backtest import disruptions
from forecastscale.backtest.loop import FleetRun, FleetScenario, fleet_scenario, run_fleet
from forecastscale.backtest.runner import build_scenario, make_policy
from forecastscale.backtest.shared import aligned
from forecastscale.backtest.suite import plan_jobs
from forecastscale.backtest.window import build_window_scenario, cut_trace, parse_window
from forecastscale.config import Config, load_config, parse_config
from forecastscale.errors import ConfigError
from forecastscale.sources.csvtrace import Trace, load_trace
from tests.conftest import BASE_CONFIG, DATA

SCENARIO = DATA / "scenarios" / "fleet_faults.yaml"
DAYS = 4
STEP = 60  # the scenario's decision step: run seconds / 60 = step index
FAULT, STOCKOUT = (3600, 3960), (4560, 4800)  # steps: h100-8x two nodes lost; a100-4x stocked out


@pytest.fixture(scope="module")
def fleet() -> FleetScenario:
    config = load_config(SCENARIO)
    jobs = plan_jobs([(SCENARIO, config)], [], None)
    members = [build_scenario(config, j.target, cut_trace(load_trace(j.trace_path), 0, DAYS * 86400)) for j in jobs]
    return fleet_scenario(aligned(members))


@pytest.fixture(scope="module")
def runs(fleet: FleetScenario) -> dict[str, FleetRun]:
    return {p: run_fleet(fleet, {sc.target.name: make_policy(p, sc) for sc in fleet.members})
            for p in ("reactive", "predictive")}


def test_the_options_are_on_the_run_clock(fleet: FleetScenario) -> None:
    [fault], [outage] = fleet.faults, fleet.outages
    assert (fault.start_s / STEP, fault.end_s / STEP, fault.nodes) == (*FAULT, 2)
    assert (outage.pool, outage.start_s / STEP, outage.end_s / STEP) == ("a100-4x", *STOCKOUT)
    [event] = fleet.book.events  # an ISO time on the summariser's own trace clock, in UNIX seconds
    assert event.start_s == datetime(2015, 3, 1, 14, tzinfo=UTC).timestamp() and event.min_replicas == 12


@pytest.mark.parametrize("policy", ["reactive", "predictive"])
def test_chat_spills_onto_the_h100_pool_and_shares_its_nodes(runs: dict[str, FleetRun], policy: str) -> None:
    run = runs[policy]
    assert any("spilled" in r for r in run.targets["chat-llm"].reasons)
    assert not any("spilled" in r for r in run.targets["news-summariser"].reasons)  # its selector: h100 only
    attributed = sum(t.gpus for t in run.targets.values())
    np.testing.assert_allclose(attributed, sum(p.gpus for p in run.pools.values()))  # GPU-hours add up


@pytest.mark.parametrize("policy", ["reactive", "predictive"])
def test_headroom_keeps_a_spare_a100_node(runs: dict[str, FleetRun], policy: str) -> None:
    assert runs[policy].pools["a100-4x"].nodes.min() >= 2  # chat's 2 pods fit 1 node; + headroom_nodes 1


@pytest.mark.parametrize("policy", ["reactive", "predictive"])
def test_the_health_fault_is_seen_and_replaced(runs: dict[str, FleetRun], policy: str) -> None:
    h100 = runs[policy].pools["h100-8x"]
    start, end = FAULT
    assert h100.lost[start] == 16 and not h100.lost[:start].any() and not h100.lost[end:].any()
    assert h100.nodes[start] >= h100.nodes[start - 1] + 2  # two replacement nodes asked for at once


def test_the_stockout_holds_a100_nodes_until_it_ends(runs: dict[str, FleetRun]) -> None:
    a100 = runs["reactive"].pools["a100-4x"]
    start, end = STOCKOUT
    assert np.all(np.diff(a100.ready[start + 7:end]) <= 0)  # none arrives but those booting before it (420 s)
    assert np.any(a100.nodes[start:end] > a100.ready[start:end])  # though more were asked for
    assert a100.ready[end + 7: end + 30].max() > a100.ready[end - 1]  # they boot when it ends (420 s)


@pytest.mark.parametrize("policy", ["reactive", "predictive"])
def test_the_announced_event_floors_the_summariser(runs: dict[str, FleetRun], policy: str) -> None:
    news = runs[policy].targets["news-summariser"]
    assert news.reasons.get("event", 0) > 100  # 2 h + the 3-min pre-warm, bar steps another source won
    assert news.replicas[3857: 3977].min() >= 12


# --- validation and the clock ------------------------------------------------------------------------------
EVENT = {"target": "llm", "start": 3600, "duration_s": 600, "min_replicas": 3, "reason": "launch"}


@pytest.mark.parametrize(("backtest", "message"), [
    ({"events": [{**EVENT, "start": "2024-01-01T00:00"}]}, r"backtest\.events\[0\]\.start: needs a zone offset"),
    ({"events": [{**EVENT, "start": "soon"}]}, r"backtest\.events\[0\]\.start: not an ISO-8601 date-time"),
    ({"events": [{**EVENT, "start": -5}]}, r"backtest\.events\[0\]\.start: seconds after the trace's first row"),
    ({"events": [{**EVENT, "start": True}]}, r"backtest\.events\[0\]\.start: must be an ISO-8601 date-time"),
    ({"events": [{**EVENT, "multiplier": 2}]}, r"backtest\.events\[0\]: set exactly one of min_replicas or mult"),
    ({"events": [{**EVENT, "multiplier": 1e3, "min_replicas": None}]}, r"events\[0\]\.multiplier: must be <= 100"),
    ({"events": [{**EVENT, "target": "ghost"}]}, r"backtest\.events\[0\]\.target: unknown target 'ghost'"),
    ({"events": [{**EVENT, "reason": ""}]}, r"backtest\.events\[0\]\.reason"),
    ({"health_faults": [{"pool": "gpu", "start": 0, "duration_s": 60}]},
     r"backtest\.health_faults\[0\]: set exactly one of gpus or nodes, got neither"),
    ({"health_faults": [{"pool": "gpu", "start": 0, "duration_s": 0, "gpus": 1}]},
     r"backtest\.health_faults\[0\]\.duration_s: must be > 0"),
    ({"stockouts": [{"pool": "tpu", "start": 0, "duration_s": 60}]}, r"backtest\.stockouts\[0\]\.pool: unknown pool"),
    ({"stockouts": [{"pool": "gpu", "start": 0, "duration_s": 60, "nodes": 1}]},
     r"backtest\.stockouts\[0\]\.nodes: unknown field"),
], ids=["naive-time", "not-a-time", "negative-seconds", "bool", "two-floors", "huge-multiplier", "unknown-target",
        "no-reason", "no-size", "zero-duration", "unknown-pool", "unknown-field"])
def test_scenario_options_are_validated_naming_the_field(backtest: dict[str, Any], message: str) -> None:
    raw = copy.deepcopy(BASE_CONFIG)
    raw["backtest"] = backtest
    with pytest.raises(ConfigError, match=message):
        parse_config(raw)


def _scenario(backtest: dict[str, Any]) -> tuple[Config, Trace]:
    raw = copy.deepcopy(BASE_CONFIG)
    raw["backtest"] = {"warmup_s": 3600, **backtest}
    cfg = parse_config(raw)
    return cfg, load_trace(DATA / "elb_request_count_8c0756.csv")  # from 2014-04-10T00:04, 14 days


WINDOW = "2014-04-20T00:00/2014-04-20T06:00"  # replayed from 7 days (the fit window) before it


@pytest.mark.parametrize("start", [9.5 * 86400, "2014-04-19T12:04:00+00:00"], ids=["seconds", "iso"])
def test_seconds_and_iso_times_name_the_same_moment_in_a_window_too(start: object) -> None:
    cfg, trace = _scenario({"stockouts": [{"pool": "gpu", "start": start, "duration_s": 600}]})
    whole = build_scenario(cfg, cfg.targets[0], trace)
    cut = build_window_scenario(cfg, cfg.targets[0], trace, parse_window(WINDOW))
    assert cut.offset_s > 2 * 86400  # the cut starts on a trace row about 7 days before the window
    for sc in (whole, cut):  # one moment on the trace's clock, whatever the replay's first step
        [outage] = fleet_scenario([sc]).outages
        assert sc.trace.start.timestamp() + outage.start_s == datetime(2014, 4, 19, 12, 4, tzinfo=UTC).timestamp()


def test_an_item_outside_the_trace_is_an_error_unless_the_replay_is_a_window() -> None:
    cfg, trace = _scenario({"health_faults": [{"pool": "gpu", "start": "2016-01-01T00:00Z", "duration_s": 60,
                                               "nodes": 1}]})
    with pytest.raises(ConfigError, match=r"backtest\.health_faults\[0\]: 2016-01-01T00:00:00\+00:00 .* is outside"):
        fleet_scenario([build_scenario(cfg, cfg.targets[0], trace)])
    window = build_window_scenario(cfg, cfg.targets[0], trace, parse_window(WINDOW))
    assert fleet_scenario([window]).faults == ()
    assert disruptions.run_seconds(86400.0, window) == 86400.0 - window.offset_s
