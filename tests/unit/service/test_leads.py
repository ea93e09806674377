"""Ready replicas and lead times in the live loop: the fallback when readiness is unknown, the writes recorded."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

import pytest
from prometheus_client import CollectorRegistry

from forecastscale.config import Config, parse_config
from forecastscale.policy.leadtimes import LeadBook
from forecastscale.service.leads import ReadyReader, export_leads, writes
from forecastscale.service.metrics import ServiceMetrics
from forecastscale.service.pools import PoolOutcome, TargetOutcome
from forecastscale.sources.prometheus import PrometheusQueryError, PrometheusSource
from forecastscale.types import Decision, Source

CHAT = {"kind": "Deployment", "namespace": "default", "workload": "chat"}


def _config(**service: Any) -> Config:
    return parse_config({
        "targets": [{"name": "chat", "workload": {"capacity_per_replica": 1, "lead": {"learn": True,
                                                                                     "min_samples": 2}},
                     "scaling": {"max_replicas": 10}, "scheduling": {"node_pool": "a100"}}],
        "node_pools": [{"name": "a100", "gpus_per_node": 8, "max_nodes": 4,
                        "machine_deployment": {"name": "md", "namespace": "capi"}},
                       {"name": "spare", "gpus_per_node": 8, "max_nodes": 4}],
        "service": {"queries": {"demand": "d"}, **service}})


class _Prometheus:
    def __init__(self, answer: list[tuple[dict[str, str], float]] | Exception) -> None:
        self.answer, self.asked = answer, 0

    def instant_series(self, query: str, at: datetime) -> list[tuple[dict[str, str], float]]:
        self.asked += 1
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def _reader(answer: Any, **service: Any) -> tuple[ReadyReader, _Prometheus, ServiceMetrics]:
    source, metrics = _Prometheus(answer), ServiceMetrics(CollectorRegistry())
    return ReadyReader(_config(**service), cast(PrometheusSource, source), metrics), source, metrics


@pytest.mark.parametrize(("answer", "service", "ready"), [
    ([(CHAT, 2.0)], {}, 2),
    ([({**CHAT, "workload": "other"}, 2.0)], {}, None),
    (PrometheusQueryError("bad"), {}, None),
    ([(CHAT, 2.0)], {"queries": {"demand": "d", "ready_replicas": None}}, None),
], ids=["read", "no-series", "query-failed", "not-asked"])
def test_a_target_falls_back_to_the_pods_that_exist_when_readiness_is_unknown(answer: Any, service: Any,
                                                                             ready: int | None) -> None:
    reader, source, metrics = _reader(answer, **service)
    reader.read(1_780_000_000.0)
    assert reader.of(_config().targets[0]) == ready
    assert source.asked == (0 if service else 1)
    missing = metrics.dropped.labels("chat", "ready_missing")._value.get()
    assert missing == (0 if ready is not None else 1)


def test_only_successful_writes_start_a_lead_measurement() -> None:
    d = Decision(replicas=5, source=Source.FORECAST)
    targets = [TargetOutcome("chat", "ok", "patched", current=3, decision=d),
               TargetOutcome("b", "ok", "dry-run", current=3, decision=d),
               TargetOutcome("c", "ok", "fenced", current=3, decision=d)]
    pools = [PoolOutcome("a100", 3, 2, "patched"), PoolOutcome("spare", 1, 0, "patched"),
             PoolOutcome("a100", 3, 2, "error")]
    assert writes(_config(), targets, pools) == ({"chat": (3, 5)}, {"a100": (2, 3)})


def test_the_lead_seconds_are_exported_with_the_lead_planned() -> None:
    metrics = ServiceMetrics(CollectorRegistry())
    book = LeadBook().with_samples("pod", "chat", (300.0, 300.0)).with_samples("node", "a100", (600.0,))
    export_leads(metrics, _config(), book)
    value = metrics.lead.labels
    assert value("chat", "", "planned")._value.get() == 300.0  # learned: 2 samples ≥ min_samples
    assert value("chat", "", "0.9")._value.get() == 300.0
    assert value("", "a100", "planned")._value.get() == 420.0  # one sample: still the prior
    assert metrics.lead_samples.labels("", "a100")._value.get() == 1
