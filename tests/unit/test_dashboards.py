"""The committed Grafana dashboards are the generator's output, and every panel queries exported metrics."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from forecastscale.dashboards import FILES, PROVISIONING, dashboards, panel_queries, render
from forecastscale.dashboards.__main__ import main
from forecastscale.service.metrics import ServiceMetrics

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "deploy" / "grafana"
REPLAY = {"forecastscale_replay_demand", "forecastscale_replay_forecast", "forecastscale_replay_desired_replicas",
          "forecastscale_replay_ready_capacity", "forecastscale_replay_underprovisioned"}
SUFFIXES = ("", "_total", "_bucket", "_sum", "_count")


def committed(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((GRAFANA / name).read_text(encoding="utf-8"))
    return data


def metric_names(expr: str) -> set[str]:
    return set(re.findall(r"\bforecastscale_[a-z0-9_]+", expr))


def test_committed_files_equal_what_the_generator_produces_now() -> None:
    for rel, text in render().items():
        path = GRAFANA / rel
        assert path.exists(), f"{rel} missing: run python -m forecastscale.dashboards deploy/grafana"
        assert path.read_text(encoding="utf-8") == text, f"{rel} differs from the generator (hand-edited?)"
    assert main([str(GRAFANA), "--check"]) == 0


def test_check_reports_a_hand_edit(tmp_path: Path) -> None:
    assert main([str(tmp_path)]) == 0
    live = tmp_path / "forecastscale-live.json"
    live.write_text(live.read_text(encoding="utf-8").replace("forecastscale_demand", "edited"), encoding="utf-8")
    assert main([str(tmp_path), "--check"]) == 1


@pytest.mark.parametrize("name", sorted(FILES))
def test_every_panel_has_a_query_on_the_datasource_variable(name: str) -> None:
    data = committed(name)
    assert data["uid"] == FILES[name]
    panels = [p for p in data["panels"] if p["type"] != "row"]
    assert len(panels) >= 5
    for panel in panels:
        targets = panel.get("targets") or []
        assert targets, f"panel {panel['title']!r} has no query"
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        for t in targets:
            assert t["expr"].strip() and t["datasource"]["uid"] == "${datasource}", panel["title"]
    assert len({p["id"] for p in data["panels"]}) == len(data["panels"])
    variables = {v["name"]: v for v in data["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    for v in variables.values():
        if v["type"] == "query":
            assert v["query"].startswith("label_values(")


def test_the_live_dashboard_queries_only_metrics_the_service_exports() -> None:
    exported = {m.name for m in ServiceMetrics(CollectorRegistry()).registry.collect()}
    allowed = {base + s for base in exported for s in SUFFIXES}
    data = committed("forecastscale-live.json")
    variables = {v["name"] for v in data["templating"]["list"]}
    assert {"datasource", "target", "pool"} <= variables
    used: set[str] = set()
    for title, expr in panel_queries(data):
        names = metric_names(expr)
        assert names, f"{title}: {expr} names no forecastscale metric"
        assert names <= allowed, f"{title}: {sorted(names - allowed)} not exported by the service"
        used |= names
    # the panels the issue asks for rest on these
    assert {"forecastscale_demand", "forecastscale_forecast", "forecastscale_ready_capacity",
            "forecastscale_desired_replicas", "forecastscale_current_replicas", "forecastscale_forecast_abs_pct_error",
            "forecastscale_model_info", "forecastscale_events_active", "forecastscale_desired_nodes",
            "forecastscale_current_nodes", "forecastscale_gpus_used", "forecastscale_gpus_allocatable",
            "forecastscale_gpu_seconds_total", "forecastscale_underprovisioned_seconds_total"} <= used


def test_the_whatif_dashboard_reads_the_replay_series_by_run() -> None:
    data = committed("forecastscale-whatif.json")
    assert {"datasource", "run", "target", "policy"} <= {v["name"] for v in data["templating"]["list"]}
    used: set[str] = set()
    for title, expr in panel_queries(data):
        names = metric_names(expr)
        assert names and names <= REPLAY, f"{title}: {expr}"
        assert 'run=~"$run"' in expr, title
        used |= names
    assert used == REPLAY


def test_dashboards_are_deterministic_and_provisioning_points_at_them() -> None:
    assert dashboards() == dashboards()
    assert set(PROVISIONING) == {"provisioning/dashboards/forecastscale.yaml",
                                 "provisioning/datasources/prometheus.yaml"}
    assert "type: file" in PROVISIONING["provisioning/dashboards/forecastscale.yaml"]
    assert "type: prometheus" in PROVISIONING["provisioning/datasources/prometheus.yaml"]


def test_the_service_never_imports_the_dashboards_or_the_sdk() -> None:
    for path in (ROOT / "forecastscale").rglob("*.py"):
        if "dashboards" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(n.startswith(("forecastscale.dashboards", "grafana_foundation_sdk")) for n in names), path
