"""The command line end to end on real (bundled) data: outputs, errors, help."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from forecastscale.backtest.scores import SCORE_NAMES
from forecastscale.cli import app
from tests.conftest import DATA, REPO

runner = CliRunner()


@pytest.fixture(scope="module")
def small_setup(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A config whose trace is the first 3 days of the bundled ELB trace."""
    folder = tmp_path_factory.mktemp("cli")
    lines = (DATA / "elb_request_count_8c0756.csv").read_text(encoding="utf-8").splitlines()
    (folder / "elb3d.csv").write_text("\n".join(lines[: 1 + 3 * 288]) + "\n", encoding="utf-8")
    config = (DATA / "elb_request_count.yaml").read_text(encoding="utf-8")
    config = config.replace("trace: elb_request_count_8c0756.csv", "trace: elb3d.csv")
    (folder / "small.yaml").write_text(config, encoding="utf-8")
    return folder


def test_backtest_writes_json_with_exactly_the_score_names(small_setup: Path) -> None:
    out = small_setup / "out.json"
    result = runner.invoke(app, ["backtest", "--config", str(small_setup / "small.yaml"),
                                 "--json", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    [trace] = report["traces"]
    assert trace["trace"].endswith("elb3d.csv")
    assert list(trace["policies"]) == ["reactive", "predictive", "oracle"]
    for name, scores in trace["policies"].items():
        assert set(scores) == {*SCORE_NAMES, "gpu_hours_vs_oracle"}, name
    assert trace["policies"]["oracle"]["gpu_hours_vs_oracle"] == 1.0
    assert trace["policies"]["oracle"]["underprovisioned_pct"] == 0.0
    assert "gpu_hours" in result.stdout and "predictive" in result.stdout


def test_report_dir_and_explicit_trace(small_setup: Path) -> None:
    folder = small_setup / "report"
    result = runner.invoke(app, ["backtest", "--config", str(small_setup / "small.yaml"),
                                 "--trace", str(small_setup / "elb3d.csv"), "--policy", "reactive,oracle",
                                 "--report", str(folder), "--quiet"])
    assert result.exit_code == 0, result.output
    assert (folder / "backtest.png").stat().st_size > 10_000
    assert "| elb3d.csv | reactive |" in (folder / "results.md").read_text()
    report = json.loads((folder / "results.json").read_text())
    assert list(report["traces"][0]["policies"]) == ["reactive", "oracle"]


@pytest.mark.parametrize(("args", "message"), [
    (["--policy", "magic"], "unknown policy 'magic'"),
    (["--target", "nobody"], "no target named 'nobody'"),
    (["--trace", "/nonexistent.csv"], "/nonexistent.csv: cannot read"),
], ids=["bad-policy", "bad-target", "missing-trace"])
def test_bad_input_is_one_clear_error_and_exit_2(small_setup: Path, args: list[str], message: str) -> None:
    result = runner.invoke(app, ["backtest", "--config", str(small_setup / "small.yaml"), *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_bad_config_lists_each_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("targets:\n  - name: x\n    capacity_per_replica: -3\n    max_replicas: 4\n"
                   "node_pools:\n  - name: p\n    gpus_per_node: 8\n    max_nodes: 0\n", encoding="utf-8")
    result = runner.invoke(app, ["backtest", "--config", str(bad)])
    assert result.exit_code == 2
    assert "targets[0].capacity_per_replica: must be > 0, got -3" in result.output
    assert "node_pools[0].max_nodes: must be > 0, got 0" in result.output


def test_help_explains_the_policies() -> None:
    result = runner.invoke(app, ["backtest", "--help"])
    assert result.exit_code == 0
    assert "oracle" in result.output and "--report" in result.output


def test_python_dash_m_runs_the_same_app() -> None:
    done = subprocess.run([sys.executable, "-m", "forecastscale", "--version"], cwd=REPO,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0
    assert done.stdout.startswith("forecastscale ")
