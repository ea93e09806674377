"""``forecastscale run``: bad input is exit 2 with one line naming the field and the value."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from forecastscale.cli import app


def config(tmp_path: Path, **service: object) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({
        "service": service,
        "node_pools": [{"name": "gpu", "gpus_per_node": 8, "max_nodes": 4}],
        "targets": [{"name": "chat", "workload": {"capacity_per_replica": 2}, "scaling": {"max_replicas": 10}}],
    }), encoding="utf-8")
    return path


@pytest.mark.parametrize(("service", "args", "message"), [
    ({"queries": {"demand": "x"}}, [], "service.prometheus_url: required"),
    ({"queries": {"demand": "x"}, "prometheus_url": "http://127.0.0.1:1"}, ["--at", "2024-01-01T00:00:00"],
     "--at"),
    ({"prometheus_url": "http://127.0.0.1:1"}, ["--dry-run", "--once"], "targets[0].queries.demand: required by run"),
    ({"queries": {"demand": 'rate(x{model="$model"}[1m])'}, "prometheus_url": "http://127.0.0.1:1"}, [],
     "service.queries.demand: unknown variable $model"),
    ({"tick_s": 0, "queries": {"demand": "x"}}, [], "service.tick_s: must be >= 1, got 0"),
    ({"leader_election": {"lease_duration_s": 5, "renew_deadline_s": 10}}, [],
     "need lease_duration_s > renew_deadline_s > retry_period_s"),
], ids=["no-prometheus-url", "at-without-once", "no-demand-query", "unknown-template-variable", "tick-zero",
        "lease-timing"])
def test_bad_input_exits_2_naming_the_field(tmp_path: Path, service: dict[str, object], args: list[str],
                                            message: str) -> None:
    result = CliRunner().invoke(app, ["run", "--config", str(config(tmp_path, **service)), *args])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())


def test_missing_kubeconfig_is_named(tmp_path: Path) -> None:
    cfg = config(tmp_path, queries={"demand": "x"}, prometheus_url="http://127.0.0.1:1")
    result = CliRunner().invoke(app, ["run", "--config", str(cfg), "--kubeconfig", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert "kubeconfig" in result.output and "nope" in result.output


def test_help_explains_dry_run_and_once() -> None:
    result = CliRunner().invoke(app, ["run", "--help"], env={"COLUMNS": "250"})
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "--dry-run" in text and "--once" in text and "patch nothing" in text


def test_train_writes_an_artifact_that_names_its_choice(tmp_path: Path) -> None:
    from tests.conftest import DATA

    result = CliRunner().invoke(app, ["train", "--config", str(DATA / "elb_request_count.yaml"),
                                      "--out", str(tmp_path / "models")])
    assert result.exit_code == 0, result.output
    artifact = yaml.safe_load((tmp_path / "models" / "chat-llm.json").read_text())
    assert artifact["model"] == "holt_winters" and artifact["format"] == "forecastscale-model"
    # 6 origins × a 2-bucket lead would give 12 errors; select() takes 12 origins for its 24
    assert artifact["scores"]["holt_winters"]["origins"] == 12
    assert artifact["data"]["steps"] > 4000 and "holt_winters" in result.output


def test_forecast_prints_quantiles_and_writes_the_plot(tmp_path: Path) -> None:
    from tests.conftest import DATA

    result = CliRunner().invoke(app, ["forecast", "--trace", str(DATA / "elb_request_count_8c0756.csv"),
                                      "--model", "holt_winters", "--horizon", "1h", "--plot", str(tmp_path / "f.png")],
                                env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "q0.99" in result.output and (tmp_path / "f.png").stat().st_size > 10_000


@pytest.mark.parametrize(("args", "code", "message"), [
    (["--model", "prophet"], 2, "--model"),
    (["--quantiles", "0.5,1.5"], 2, "--quantiles"),
    (["--model", "holt_winters", "--window", "1h"], 1, "cannot forecast"),
], ids=["unknown-model", "bad-quantile", "too-little-history"])
def test_forecast_bad_input(args: list[str], code: int, message: str) -> None:
    from tests.conftest import DATA

    result = CliRunner().invoke(app, ["forecast", "--trace", str(DATA / "elb_request_count_8c0756.csv"), *args])
    assert result.exit_code == code, result.output
    assert message in result.output
