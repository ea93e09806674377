"""The command line end to end on real (bundled) data: outputs, errors, help."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from forecastscale.backtest.scores import SCORE_NAMES
from forecastscale.backtest.sweep import REACTIVE_UTILISATIONS
from forecastscale.cli import app
from forecastscale.config import load_config
from tests.conftest import REPO, small_elb_config, small_shared_config

runner = CliRunner()


@pytest.fixture(scope="module")
def small_setup(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A config whose trace is the first 3 days of the bundled ELB trace."""
    return small_elb_config(tmp_path_factory.mktemp("cli"))


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
    assert "GPU-h ↓" in result.stdout and "predictive" in result.stdout


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
    bad.write_text("targets:\n  - name: x\n    workload: {capacity_per_replica: -3}\n    scaling: {max_replicas: 4}\n"
                   "node_pools:\n  - name: p\n    gpus_per_node: 8\n    max_nodes: 0\n", encoding="utf-8")
    result = runner.invoke(app, ["backtest", "--config", str(bad)])
    assert result.exit_code == 2
    assert "targets[0].workload.capacity_per_replica: must be > 0, got -3" in result.output
    assert "node_pools[0].max_nodes: must be > 0, got 0" in result.output


def test_a_flat_config_of_before_says_where_each_key_moved(tmp_path: Path) -> None:
    old = tmp_path / "old.yaml"
    old.write_text("targets:\n  - name: x\n    capacity_per_replica: 2\n    max_replicas: 4\n"
                   "node_pools:\n  - name: p\n    gpus_per_node: 8\n    max_nodes: 2\n", encoding="utf-8")
    result = runner.invoke(app, ["backtest", "--config", str(old)], env={"COLUMNS": "250"})
    assert result.exit_code == 2 and "Traceback" not in result.output
    text = " ".join(result.output.split())
    assert ("targets[0].capacity_per_replica: moved to targets[0].workload.capacity_per_replica (config format 2; "
            'see README "Configuration")') in text
    assert "targets[0].max_replicas: moved to targets[0].scaling.max_replicas" in text


def test_help_explains_the_policies() -> None:
    result = runner.invoke(app, ["backtest", "--help"])
    assert result.exit_code == 0
    assert "oracle" in result.output and "--report" in result.output


def test_python_dash_m_runs_the_same_app() -> None:
    done = subprocess.run([sys.executable, "-m", "forecastscale", "--version"], cwd=REPO,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0
    assert done.stdout.startswith("forecastscale ")


def test_sweep_adds_frontiers_and_matched_slo(small_setup: Path) -> None:
    out = small_setup / "sweep.json"
    result = runner.invoke(app, ["backtest", "--config", str(small_setup / "small.yaml"), "--sweep", "--jobs", "2",
                                 "--levels", "5,50", "--json", str(out), "--plot", str(small_setup / "f.png"),
                                 "--quiet"])
    assert result.exit_code == 0, result.output
    [trace] = json.loads(out.read_text())["traces"]
    assert set(trace) >= {"policies", "frontier", "points", "matched_slo", "oracle"}
    assert len(trace["points"]["reactive"]) == 12 and len(trace["points"]["predictive"]) == 40
    front = trace["frontier"]["predictive"]
    assert all(a["underprovisioned_pct"] <= b["underprovisioned_pct"] and a["gpu_hours"] > b["gpu_hours"]
               for a, b in itertools.pairwise(front))
    assert set(front[0]) == {"params", "gpu_hours", "underprovisioned_pct", "unserved_pct", "p99_wait_s",
                             "queued_pct"}
    assert trace["matched_slo"]["metric"] == "underprovisioned_pct"
    assert set(trace["matched_slo"]["levels"]) == {"5", "50"}
    assert trace["oracle"]["gpu_hours"] == trace["policies"]["oracle"]["gpu_hours"]
    assert (small_setup / "f.png").stat().st_size > 10_000
    assert "GPU-hours at matched" in result.stdout


def test_bad_slo_metric_is_rejected(small_setup: Path) -> None:
    result = runner.invoke(app, ["backtest", "--config", str(small_setup / "small.yaml"), "--sweep",
                                 "--slo-metric", "latency"])
    assert result.exit_code == 2
    assert "unknown metric 'latency'" in result.output


def test_tune_writes_a_config_that_loads(small_setup: Path, tmp_path: Path) -> None:
    out = tmp_path / "sub" / "tuned.yaml"
    result = runner.invoke(app, ["tune", "--config", str(small_setup / "small.yaml"), "--trace",
                                 str(small_setup / "elb3d.csv"), "--policy", "reactive",
                                 "--slo", "underprovisioned_pct<=60", "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "tuning part" in result.stdout and "report part" in result.stdout
    tuned = load_config(out)  # the trace path was rewritten relative to the new folder
    trace = tuned.targets[0].backtest.trace
    assert trace is not None and trace.resolve() == (small_setup / "elb3d.csv").resolve()
    assert tuned.targets[0].scaling.target_utilisation in REACTIVE_UTILISATIONS
    assert "states an slo" not in result.stderr  # reactive's knobs are its own: the slo does not override them


@pytest.mark.parametrize(("args", "code", "message"), [
    (["--slo", "underprovisioned_pct<=0", "--policy", "reactive"], 1, "no reactive setting meets"),
    (["--slo", "speed>=1"], 2, "expected METRIC<=NUMBER"),
    (["--slo", "unserved_pct<=1", "--prometheus", "http://127.0.0.1:9"], 2, "exactly one of --trace"),
], ids=["unreachable-slo", "bad-slo", "two-sources"])
def test_tune_failures(small_setup: Path, args: list[str], code: int, message: str) -> None:
    result = runner.invoke(app, ["tune", "--config", str(small_setup / "small.yaml"), "--trace",
                                 str(small_setup / "elb3d.csv"), "--quiet", *args])
    assert result.exit_code == code, result.output
    assert message in result.output


@pytest.fixture(scope="module")
def shared_setup(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shared-pool scenario on the first 3 days of both of its traces."""
    return small_shared_config(tmp_path_factory.mktemp("shared"), 3)


def test_shared_pool_prints_caps_and_writes_json(shared_setup: Path) -> None:
    out = shared_setup / "shared.json"
    result = runner.invoke(app, ["backtest", "--shared-pool", "--config", str(shared_setup / "shared.yaml"),
                                 "--policy", "reactive", "--json", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "shared pool shared-8x" in result.output and "capped by" in result.output
    [pool] = json.loads(out.read_text())["shared_pools"]
    targets = pool["policies"]["reactive"]["targets"]
    assert set(targets) == {"chat-llm", "news-summariser"}
    assert {"capped_steps", "capped_pct", "capped_gpu_pct", "top_caps", "gpu_hours"} <= set(targets["chat-llm"])


@pytest.mark.parametrize(("args", "message"), [
    (["--window", "2014-04-12T00:00"], "expected START/END"),
    (["--shared-pool", "--sweep"], "cannot be combined"),
    (["--window", "2030-01-01T00:00/2030-01-02T00:00"], "is not inside"),
])
def test_window_and_shared_pool_errors(small_setup: Path, args: list[str], message: str) -> None:
    result = runner.invoke(app, ["backtest", "--config", str(small_setup / "small.yaml"), "--quiet", *args])
    assert result.exit_code == 2
    assert message in result.output


def test_window_adds_underprovisioned_minutes(small_setup: Path) -> None:
    out = small_setup / "window.json"
    result = runner.invoke(app, ["backtest", "--config", str(small_setup / "small.yaml"), "--policy", "reactive",
                                 "--window", "2014-04-12T12:00/2014-04-12T18:00", "--json", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    [trace] = json.loads(out.read_text())["traces"]
    assert trace["scored_steps"] == 360 and trace["window"]["start"] == "2014-04-12T12:00:00+00:00"
    assert "underprovisioned_min" in trace["policies"]["reactive"]
