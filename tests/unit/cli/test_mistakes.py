"""A mistake on the command line exits 2 with one line naming the option (or config key) and the value."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from forecastscale.cli import app
from forecastscale.cli.app import http_url

runner = CliRunner()

BAD_URLS = [
    pytest.param("not-a-url", id="no-scheme"),
    pytest.param("http://", id="no-host"),
    pytest.param("ftp://x", id="ftp"),
    pytest.param("http://prometheus:99999", id="port-out-of-range"),
    pytest.param("http://prometheus:web", id="port-not-a-number"),
    pytest.param("http://prom etheus:9090", id="space"),
    pytest.param("", id="empty"),
]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({
        "service": {"queries": {"demand": "x"}},
        "node_pools": [{"name": "gpu", "gpus_per_node": 8, "max_nodes": 4}],
        "targets": [{"name": "chat", "workload": {"capacity_per_replica": 2}, "scaling": {"max_replicas": 10}}],
    }), encoding="utf-8")
    return path


def one_line(output: str) -> str:
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    return lines[0]


@pytest.mark.parametrize("url", BAD_URLS)
@pytest.mark.parametrize("command", [
    ["run", "--once", "--dry-run"],
    ["tune", "--slo", "underprovisioned_pct<=1"],
    ["replay"],
    ["train"],
], ids=["run", "tune", "replay", "train"])
def test_a_malformed_prometheus_url_exits_2_naming_it(config: Path, command: list[str], url: str) -> None:
    result = runner.invoke(app, [*command, "--config", str(config), "--prometheus", url])
    assert result.exit_code == 2, result.output
    line = one_line(result.output)
    assert line.startswith("error: --prometheus:") and repr(url) in line


@pytest.mark.parametrize("url", BAD_URLS)
def test_a_malformed_configured_url_exits_2_naming_the_key(tmp_path: Path, config: Path, url: str) -> None:
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["service"]["prometheus_url"] = url or " "  # an empty one is "required", tested in test_cli_run.py
    config.write_text(yaml.safe_dump(data), encoding="utf-8")
    result = runner.invoke(app, ["run", "--config", str(config), "--once", "--dry-run"])
    assert result.exit_code == 2, result.output
    assert "service.prometheus_url: expected an http:// or https:// URL" in result.output


@pytest.mark.parametrize("url", [
    "http://prometheus:9090", "https://prom.example.com/prometheus", "http://[::1]:9090", "http://127.0.0.1:1",
], ids=["host-port", "https-path", "ipv6", "ip"])
def test_a_well_formed_url_passes(url: str) -> None:
    assert http_url("--prometheus", url) == url


@pytest.mark.parametrize(("args", "named"), [
    (["--once", "--at", "yesterday"], "--at: expected an ISO 8601 time such as 2024-01-01T00:00Z"),
    (["--once", "--at", "2024-13-01T00:00"], "--at: expected an ISO 8601 time"),
    (["--log-level", "loud"], "--log-level: expected one of debug, info, warning, error, got 'loud'"),
], ids=["at-words", "at-month-13", "log-level"])
def test_run_values_exit_2_with_one_line(config: Path, args: list[str], named: str) -> None:
    result = runner.invoke(app, ["run", "--config", str(config), *args])
    assert result.exit_code == 2, result.output
    assert named in one_line(result.output)
