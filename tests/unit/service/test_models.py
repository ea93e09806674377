"""The service starts ``auto`` targets from trained artifacts; a bad artifact is counted, never fatal."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from forecastscale.actuators.dryrun import DryRun
from forecastscale.config import parse_config
from forecastscale.forecasters.store import Artifact, path_for, save, selection_settings
from forecastscale.policy.predictive import PredictivePolicy
from forecastscale.service.metrics import ServiceMetrics
from forecastscale.service.models import seed_models
from forecastscale.service.target import TargetRunner
from forecastscale.sources.prometheus import PrometheusSource


def runners(models: dict[str, str]) -> tuple[list[TargetRunner], ServiceMetrics]:
    config = parse_config({
        "service": {"queries": {"demand": "x"}},
        "node_pools": [{"name": "gpu", "gpus_per_node": 8, "max_nodes": 4}],
        "targets": [{"name": n, "workload": {"capacity_per_replica": 1}, "scaling": {"max_replicas": 4},
                     "forecast": {"model": m}} for n, m in models.items()],
    })
    metrics = ServiceMetrics(CollectorRegistry())
    source = PrometheusSource("http://127.0.0.1:1")  # never called here
    return [TargetRunner(config, t, source, DryRun(t.name), metrics) for t in config.targets], metrics


def trained(r: TargetRunner, model: str = "gbm", **extra: Any) -> Artifact:
    """The artifact ``train`` would write for ``r``'s target: its settings and lead time recorded."""
    settings = selection_settings(r.target.forecast, r.pool.node_startup_s + r.target.workload.pod_startup_s)
    fields: dict[str, Any] = {"target": r.target.name, "model": model, "reason": "trained", "scores": {},
                              "data": {}, "settings": settings, **extra}
    return Artifact(**fields)


def chooser_choice(r: TargetRunner) -> str | None:
    assert isinstance(r.policy, PredictivePolicy)
    chooser = r.policy.forecast.tape.chooser
    return chooser.selection.choice if chooser and chooser.selection else None


def test_auto_targets_start_from_their_artifact_and_bad_files_are_counted(tmp_path: Path) -> None:
    rs, metrics = runners({"a": "auto", "b": "auto", "c": "holt_winters", "d": "auto"})
    for r in (rs[0], rs[2]):
        save(trained(r, shift=2.5), tmp_path)
    path_for(tmp_path, "b").write_text("{broken", encoding="utf-8")
    assert seed_models(rs, tmp_path, metrics) == 1
    assert [chooser_choice(r) for r in rs[:2]] == ["gbm", None]
    assert isinstance(rs[0].policy, PredictivePolicy) and rs[0].policy.forecast.tape.chooser is not None
    assert rs[0].policy.forecast.tape.chooser.selection is not None
    assert rs[0].policy.forecast.tape.chooser.selection.shift == 2.5
    assert metrics.registry.get_sample_value("forecastscale_errors_total", {"kind": "model_artifact"}) == 1


# --- issue 14: no artifact, however bad, stops the service from starting --------------------------------

def _write(path: Path, r: TargetRunner, edit: Callable[[dict[str, Any]], str]) -> None:
    save(trained(r), path.parent)
    path.write_text(edit(json.loads(path.read_text(encoding="utf-8"))), encoding="utf-8")


@pytest.mark.parametrize("edit", [
    lambda b: json.dumps({**b, "shift": "@"}).replace('"@"', "NaN"),
    lambda b: json.dumps({**b, "shift": "@"}).replace('"@"', "Infinity"),
    lambda b: json.dumps({**b, "shift": "@"}).replace('"@"', "9" * 401),
    lambda b: json.dumps({**b, "data": "@"}).replace('"@"', "[" * 100_000 + "]" * 100_000),
    lambda b: json.dumps({**b, "target": "someone-else"}),
    lambda b: json.dumps({**b, "settings": {**b["settings"], "quantile": 0.5}}),
    lambda b: json.dumps({**b, "settings": {**b["settings"], "lead_s": 60.0}}),
    lambda b: json.dumps({**b, "libraries": {**b["libraries"], "statsmodels": "0.1.0"}}),
    lambda b: "\x00\x01garbage",
], ids=["nan-shift", "infinity-shift", "401-digits", "deep-nesting", "other-target", "other-quantile",
        "other-lead-time", "other-library", "binary"])
def test_a_bad_artifact_is_counted_and_the_target_selects_live(tmp_path: Path, edit: Any) -> None:
    rs, metrics = runners({"a": "auto"})
    _write(path_for(tmp_path, "a"), rs[0], edit)
    assert seed_models(rs, tmp_path, metrics) == 0
    assert chooser_choice(rs[0]) is None
    assert metrics.registry.get_sample_value("forecastscale_errors_total", {"kind": "model_artifact"}) == 1


def test_an_unforeseen_failure_is_counted_not_raised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rs, metrics = runners({"a": "auto", "b": "auto"})
    for r in rs:
        save(trained(r), tmp_path)

    def explode(path: Path, **_: Any) -> Artifact:
        raise RecursionError("a parser bug")

    monkeypatch.setattr("forecastscale.service.models.load", explode)
    assert seed_models(rs, tmp_path, metrics) == 0
    assert metrics.registry.get_sample_value("forecastscale_errors_total", {"kind": "model_artifact"}) == 2


def test_a_directory_in_place_of_an_artifact_is_counted(tmp_path: Path) -> None:
    rs, metrics = runners({"a": "auto"})
    path_for(tmp_path, "a").mkdir()
    assert seed_models(rs, tmp_path, metrics) == 0
    assert metrics.registry.get_sample_value("forecastscale_errors_total", {"kind": "model_artifact"}) == 1
