"""Shared builders for the service integration tests: configs and the expected (backtest) decision."""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from forecastscale.config import Config, parse_config
from forecastscale.policy.base import PolicyHistory
from forecastscale.policy.predictive import PredictivePolicy
from forecastscale.service.history import DemandHistory
from forecastscale.types import Decision, Observation
from tests.conftest import merged
from tests.integration.conftest import METRIC, PrometheusServer

TICK_S = 60


def service_config(targets: list[dict[str, Any]], **service: Any) -> dict[str, Any]:
    """A config mapping: one pool, ``targets``, minute ticks, demand from the backfilled metric."""
    return {
        "service": {"tick_s": TICK_S, "queries": {"demand": f'{METRIC}{{target="$target"}}'}, "http_port": 0,
                    **service},
        "node_pools": [{"name": "gpu", "gpus_per_node": 8, "max_nodes": 20}],
        "targets": targets,
    }


def chat_target(**extra: Any) -> dict[str, Any]:
    """The ``chat`` series as a target; a 6-day fit window fits in the 8 days backfilled at any hour. ``extra``
    is merged in section by section: ``chat_target(scaling={"min_replicas": 2})`` keeps ``max_replicas``."""
    return merged({"name": "chat", "workload": {"kind": "Deployment", "name": "chat", "namespace": "default",
                                                "capacity_per_replica": 8},
                   "scaling": {"max_replicas": 30}, "forecast": {"window_s": 6 * 86400}}, extra)


def write_config(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def backtest_decision(prom: PrometheusServer, config: Config, at: datetime, current: int) -> Decision:
    """What the backtest's predictive policy decides at ``at`` on the very series Prometheus holds."""
    target = config.targets[0]
    window = DemandHistory(math.ceil((target.forecast.window_s + target.forecast.step_s) / TICK_S)).window
    newest = math.floor(at.timestamp() / TICK_S) - 1  # the last completed step
    first = newest - window + 1
    start_s = int(prom.start.timestamp())
    # step k is the sample at (k+1)·tick, which the fixture wrote at index ((k+1)·tick − start) / step
    idx = [((k + 1) * TICK_S - start_s) // prom.step_s for k in range(first, newest + 1)]
    values = np.array([prom.written[target.name][i] for i in idx])
    policy = PredictivePolicy(target, config.pool_for(target), TICK_S, TICK_S)
    obs = Observation(t=at.timestamp(), step_s=TICK_S, demand_history=values, current_replicas=current,
                      ready_replicas=current, history_offset=first)
    return policy.decide(obs, PolicyHistory())[0]


def load(data: dict[str, Any]) -> Config:
    return parse_config(data)
