"""``forecastscale run --once``: real Prometheus in, the official client against the double out."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from forecastscale.cli import app
from forecastscale.types import Decision
from tests.conftest import REPO
from tests.integration.conftest import PrometheusServer
from tests.integration.kube.apiserver import ScaleApiDouble
from tests.integration.service.helpers import backtest_decision, chat_target, load, service_config, write_config


def _morning_ramp(prom: PrometheusServer) -> datetime:
    """The last 11:30 UTC in the history: demand climbs towards the mid-afternoon peak."""
    at = prom.end.replace(hour=11, minute=30, second=0, microsecond=0)
    return at if at <= prom.end else at - timedelta(days=1)


def _run(config: Path, prom: PrometheusServer, kubeconfig: Path, at: datetime, *extra: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["run", "--once", "--config", str(config), "--prometheus", prom.url,
                                      "--kubeconfig", str(kubeconfig), "--at", at.strftime("%Y-%m-%dT%H:%M:%S%z"),
                                      *extra])
    return result.exit_code, result.output


@pytest.fixture
def ramp(prometheus: PrometheusServer, kube: ScaleApiDouble, tmp_path: Path) -> tuple[Path, datetime, Decision]:
    """Deployment ``chat`` at 2 replicas, its config, the morning ramp, and the backtest's decision there."""
    kube.add("deployments", "default", "chat", replicas=2)
    data = service_config([chat_target()])
    at = _morning_ramp(prometheus)
    expected = backtest_decision(prometheus, load(data), at, current=2)
    assert expected.replicas != 2  # otherwise the tests could not tell a patch from none
    return write_config(tmp_path / "c.yaml", data), at, expected


def test_once_patches_the_deployment_to_the_backtest_decision(
        prometheus: PrometheusServer, kube: ScaleApiDouble, kubeconfig: Path,
        ramp: tuple[Path, datetime, Decision]) -> None:
    config, at, expected = ramp
    code, out = _run(config, prometheus, kubeconfig, at)
    assert code == 0, out
    assert kube.stored("deployments", "default", "chat")["spec"]["replicas"] == expected.replicas
    assert "patched" in out and expected.reason.split("/")[0] in out


def test_dry_run_patches_nothing_but_prints_the_same_decision(
        prometheus: PrometheusServer, kube: ScaleApiDouble, kubeconfig: Path,
        ramp: tuple[Path, datetime, Decision]) -> None:
    config, at, expected = ramp
    code, out = _run(config, prometheus, kubeconfig, at, "--dry-run")
    assert code == 0, out
    assert kube.count("PUT") == 0
    assert kube.stored("deployments", "default", "chat")["spec"]["replicas"] == 2
    row = next(line for line in out.splitlines() if line.lstrip("│ ").startswith("chat"))
    assert f" {expected.replicas} " in row and "dry-run" in row


def test_missing_workload_is_reported_and_exits_1(
        prometheus: PrometheusServer, kube: ScaleApiDouble, kubeconfig: Path, tmp_path: Path) -> None:
    data = service_config([chat_target()])  # no Deployment "chat" in the double: 404
    code, out = _run(write_config(tmp_path / "c.yaml", data), prometheus, kubeconfig, _morning_ramp(prometheus))
    assert code == 1
    assert "404" in out and "Deployment default/chat" in out


def test_the_shipped_example_runs_dry_without_a_cluster(prometheus: PrometheusServer, tmp_path: Path) -> None:
    # The README's first `run` command, against the test Prometheus (same metric and target names).
    result = CliRunner().invoke(
        app, ["run", "--once", "--dry-run", "--config", str(REPO / "examples" / "service.yaml"),
              "--prometheus", prometheus.url, "--at", _morning_ramp(prometheus).strftime("%Y-%m-%dT%H:%M:%S%z")],
        env={"KUBECONFIG": str(tmp_path / "none"), "COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "no Kubernetes credentials found: dry-run without a cluster" in result.output
    rows = [line for line in result.output.splitlines() if line.startswith("│")]
    assert [r.split("│")[1].strip() for r in rows] == ["chat", "batch", "pool a100"]
    assert all("dry-run" in r or "unchanged" in r for r in rows[:2])
