"""The live loop on real LLM traffic: the queue rule and panic mode on an hour of a production code-completion
service (Azure LLM inference trace, 8,819 requests, 2023-11-16 18:17–19:14 UTC; data/PROVENANCE.md).

A real Prometheus holds the hour as a vLLM deployment would export it (:mod:`tests.integration.service.llm_history`:
token counters, a modelled ``vllm:num_requests_waiting``, constant KV-cache and DCGM series), at the trace's own
timestamps. The service is ``examples/vllm.yaml`` — its queries, rules, behaviour and panic mode — built with the
real wiring against the API-server double, changed only where one hour demands it: 10-s ticks (the data's step),
a forecast fitted on 10 minutes with a nominal 2-minute season (an hour has no real one), refit every minute, no
node-health checks (the double has no nodes), and no KV-cache rule (the trace has no KV-cache telemetry: made-up
readings must decide nothing). A simulated clock ticks every 10 s from the first whole minute to the trace's end.

What it shows (339 ticks; requests wait at 32 % of them, at most 391): when requests start waiting and the queue
rule asks for more replicas than run, they rise at that very tick — 2 → 6 at minute 3.5 (78 waiting; +4 pods is the
scale-up rate limit), 11 → 13 at 33.2 (97), 6 → 8 at 57.2 (62), each decision ``rule``; panic mode switches on at
minute 14.8, when after 2.5 minutes without a request tokens/s jump to 20,900 (21× the forecast's q0.9, above 1.5×
for the 30 s before), and holds the 46 replicas until 28.7 (five minutes after the last excess), 47 of its
decisions being ``burst``. The replicas do fall twice while requests still wait (46 → 23 at 28.8 with 27 waiting,
23 → 11 at 29.8 with 21): the HPA's queue rule asks for 27 / 8 → 4 replicas there, and the modelled queue does not
drain with the replicas (:func:`~tests.integration.service.llm_history.waiting`). What holds at every tick is
asserted: never down in panic, nor while the waiting requests alone ask for as many replicas as run.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import yaml
from kubernetes import client
from prometheus_client import CollectorRegistry

from forecastscale.config import parse_config
from forecastscale.devtools.prometheus import LocalPrometheus, write_families
from forecastscale.service.core import Service
from forecastscale.service.wiring import build_service
from forecastscale.sources.requestlog import load_request_log
from tests.conftest import DATA, REPO
from tests.integration.conftest import running
from tests.integration.kube.apiserver import ScaleApiDouble
from tests.integration.service.llm_history import (
    GPU_PERCENT,
    KV_PERCENT,
    NAMESPACE,
    STEP_S,
    WORKLOAD,
    History,
    families,
    waiting,
)

PER_REPLICA = 8  # examples/vllm.yaml's queue rule: 8 waiting requests per replica
WARMUP_STEPS = 6  # the first tick is at the end of step 5: rate(…[1m]) has a whole minute behind it


@dataclass
class Clock:
    """Simulated seconds since the epoch, moved by the test."""

    now: float

    def __call__(self) -> float:
        return self.now


@dataclass(frozen=True)
class Tick:
    """What one tick read and decided: requests waiting (as the service read them), tokens/s and its ratio to the
    forecast's q0.9 (``surprise``), replicas before and after."""

    queue: float
    demand: float
    surprise: float | None
    current: int
    replicas: int
    reason: str
    panic: bool

    @property
    def asks(self) -> int:
        """Replicas the queue rule alone asks for."""
        return math.ceil(self.queue / PER_REPLICA)


@pytest.fixture(scope="module")
def llm_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, History]]:
    series = load_request_log(DATA / "AzureLLMInferenceTrace_code.csv", STEP_S)
    history = History(series, waiting(series))
    root = tmp_path_factory.mktemp("llm-prometheus")
    write_families(root / "h.om", families(history))
    # A 30-s look-back (three samples): a tick at a step's end reads that step's sample, never an older one's.
    with running(LocalPrometheus(root, root / "h.om", lookback_delta="30s")) as server:
        yield server.url, history


def vllm_config() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((REPO / "examples" / "vllm.yaml").read_text(encoding="utf-8"))
    data["service"].update(tick_s=STEP_S, http_port=0)
    data["node_pools"][0]["health"] = {"enabled": False}
    target = data["targets"][0]
    target["scaling"]["metrics"] = [m for m in target["scaling"]["metrics"] if m["type"] != "kv_cache"]
    target["forecast"].update(step_s=30, season_s=120, window_s=600, refit_interval_s=60)
    return data


def run_hour(url: str, history: History, kube: ScaleApiDouble, api: client.ApiClient) -> tuple[list[Tick], Service]:
    kube.add("deployments", NAMESPACE, WORKLOAD, replicas=2)
    clock = Clock(history.end_s(WARMUP_STEPS - 1))
    service = build_service(parse_config(vllm_config()), prometheus_url=url, api=api, dry_run=False,
                            registry=CollectorRegistry(), identity="solo", clock=clock, monotonic=clock)
    ticks = []
    for _ in range(len(history.waiting) - WARMUP_STEPS + 1):  # one tick per step end, to the last
        (outcome,) = service.tick().targets
        d = outcome.decision
        assert d is not None and outcome.current is not None and outcome.demand is not None, outcome
        queue = service.metrics.registry.get_sample_value("forecastscale_queue", {"target": "llm"})
        ticks.append(Tick(queue or 0.0, outcome.demand, d.surprise, outcome.current, d.replicas, d.reason, d.panic))
        spec = int(kube.stored("deployments", NAMESPACE, WORKLOAD)["spec"]["replicas"])
        kube.add("deployments", NAMESPACE, WORKLOAD, replicas=spec)  # pods Ready at once: the double runs no controller
        clock.now += STEP_S
    return ticks, service


def test_queue_rule_and_panic_mode_on_an_hour_of_real_llm_traffic(
        llm_prometheus: tuple[str, History], kube: ScaleApiDouble, api_client: client.ApiClient) -> None:
    url, history = llm_prometheus
    ticks, service = run_hour(url, history, kube, api_client)
    assert len(ticks) == len(history.waiting) - WARMUP_STEPS + 1
    # The service read the modelled queue at every tick, as written (whole requests: exact).
    assert [t.queue for t in ticks] == history.waiting[WARMUP_STEPS - 1:].tolist()
    # Each time requests start waiting and the queue rule asks for more than runs, replicas rise at that tick.
    builds = [(i, t) for i, t in enumerate(ticks) if t.queue > 0 and ticks[i - 1].queue == 0 and i > 0]
    asked = [t for _, t in builds if t.asks > t.current * 1.1]
    assert asked and all(t.replicas > t.current for t in asked), asked
    assert any(t.reason.startswith("rule") for t in asked), asked
    # Panic mode switches on at a real burst — tokens/s above 1.5 × the forecast's q0.9 at every tick of the
    # 30 s before (window_s) — and some decisions are its own.
    onset = next((i for i, t in enumerate(ticks) if t.panic), None)
    assert onset is not None and onset >= 3
    assert all((t.surprise or 0.0) > 1.5 for t in ticks[onset - 3: onset + 1]), ticks[onset - 3: onset + 1]
    panicked = [t for t in ticks if t.panic]
    assert any(t.reason.startswith("burst") for t in panicked)
    # Never down in panic, nor while the waiting requests alone ask for what runs.
    assert all(t.replicas >= t.current for t in panicked)
    assert all(t.replicas >= t.current for t in ticks if t.asks >= t.current)
    # The example's KV-cache query read each pod once, in percent; GPU utilisation averaged over the pods' GPUs.
    read = service.metrics.registry.get_sample_value
    assert read("forecastscale_kv_cache", {"target": "llm"}) == pytest.approx(KV_PERCENT)
    assert read("forecastscale_gpu_utilisation", {"target": "llm"}) == pytest.approx(sum(GPU_PERCENT.values()) / 2)
    service.close()


def test_a_kv_cache_reading_above_100_is_dropped_counted_and_blocks_a_scale_down(
        llm_prometheus: tuple[str, History], kube: ScaleApiDouble, api_client: client.ApiClient) -> None:
    url, history = llm_prometheus
    data = vllm_config()
    target = data["targets"][0]
    target["scaling"]["metrics"].append({"type": "kv_cache", "target": {"type": "Utilization",
                                                                        "average_utilization": 80}})
    # A percentage scaled twice (DCGM's 0–100 × 100): 7,000 "%" is no reading.
    target["queries"] = {"kv_cache": f'100 * avg(DCGM_FI_DEV_GPU_UTIL{{namespace="{NAMESPACE}"}})'}
    kube.add("deployments", NAMESPACE, WORKLOAD, replicas=5)
    quiet = history.end_s(14)  # 2.5 minutes in: no request in the minute before, none waiting
    service = build_service(parse_config(data), prometheus_url=url, api=api_client, dry_run=False,
                            registry=CollectorRegistry(), identity="solo", clock=Clock(quiet), monotonic=Clock(quiet))
    (outcome,) = service.tick().targets
    read = service.metrics.registry.get_sample_value
    assert outcome.demand == 0.0 and outcome.decision is not None and outcome.decision.replicas == 5
    assert "a metric is missing: no scale-down" in outcome.decision.message
    assert read("forecastscale_samples_dropped_total", {"target": "llm", "reason": "kv_cache_out_of_range"}) == 1
    assert read("forecastscale_kv_cache", {"target": "llm"}) is None
    service.close()
