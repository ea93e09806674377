"""``forecastscale tune --prometheus``: history pulled from a real Prometheus, tuned, written out."""

from __future__ import annotations

from pathlib import Path

import yaml
from typer.testing import CliRunner

from forecastscale.cli import app
from forecastscale.config import load_config
from tests.integration.conftest import METRIC, PrometheusServer


def test_tune_from_prometheus_history(prometheus: PrometheusServer, tmp_path: Path,
                                      wall_clock_at_history_end: None) -> None:  # the history is pinned
    config = tmp_path / "live.yaml"
    config.write_text(yaml.safe_dump({
        "targets": [{"name": "chat", "workload": {"capacity_per_replica": 2.0}, "scaling": {"max_replicas": 64},
                     "queries": {"demand": f'{METRIC}{{target="chat"}}'}}],
        "node_pools": [{"name": "gpu", "gpus_per_node": 8, "max_nodes": 16}],
    }), encoding="utf-8")
    out = tmp_path / "tuned.yaml"
    result = CliRunner().invoke(app, ["tune", "--config", str(config), "--prometheus", prometheus.url,
                                      "--since", "9d", "--policy", "reactive", "--jobs", "1",
                                      "--slo", "underprovisioned_pct<=100", "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "report part" in result.stdout
    # Everything meets a 100 % SLO, so the cheapest setting wins: the highest utilisation.
    assert load_config(out).targets[0].scaling.target_utilisation == 0.95


def test_tune_needs_a_demand_query(prometheus: PrometheusServer, tmp_path: Path) -> None:
    config = tmp_path / "noquery.yaml"
    config.write_text(yaml.safe_dump({
        "targets": [{"name": "chat", "workload": {"capacity_per_replica": 2.0}, "scaling": {"max_replicas": 64}}],
        "node_pools": [{"name": "gpu", "gpus_per_node": 8, "max_nodes": 16}],
    }), encoding="utf-8")
    result = CliRunner().invoke(app, ["tune", "--config", str(config), "--prometheus", prometheus.url,
                                      "--slo", "underprovisioned_pct<=1"])
    assert result.exit_code == 2
    assert "queries.demand: required with --prometheus" in result.output
