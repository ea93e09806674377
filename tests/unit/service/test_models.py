"""The service starts ``auto`` targets from trained artifacts; a bad artifact is counted, never fatal."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry

from forecastscale.actuators.dryrun import DryRun
from forecastscale.config import parse_config
from forecastscale.forecasters.store import Artifact, path_for, save
from forecastscale.policy.predictive import PredictivePolicy
from forecastscale.service.metrics import ServiceMetrics
from forecastscale.service.models import seed_models
from forecastscale.service.target import TargetRunner
from forecastscale.sources.prometheus import PrometheusSource


def runners(models: dict[str, str]) -> tuple[list[TargetRunner], ServiceMetrics]:
    config = parse_config({
        "service": {"queries": {"demand": "x"}},
        "node_pools": [{"name": "gpu", "gpus_per_node": 8, "max_nodes": 4}],
        "targets": [{"name": n, "capacity_per_replica": 1, "max_replicas": 4, "forecast": {"model": m}}
                    for n, m in models.items()],
    })
    metrics = ServiceMetrics(CollectorRegistry())
    source = PrometheusSource("http://127.0.0.1:1")  # never called here
    return [TargetRunner(config, t, source, DryRun(t.name), metrics) for t in config.targets], metrics


def chooser_choice(r: TargetRunner) -> str | None:
    assert isinstance(r.policy, PredictivePolicy)
    chooser = r.policy.forecast.tape.chooser
    return chooser.selection.choice if chooser and chooser.selection else None


def test_auto_targets_start_from_their_artifact_and_bad_files_are_counted(tmp_path: Path) -> None:
    rs, metrics = runners({"a": "auto", "b": "auto", "c": "holt_winters", "d": "auto"})
    for name in ("a", "c"):
        save(Artifact(name, "gbm", "trained", {}, {}, {}, shift=2.5), tmp_path)
    path_for(tmp_path, "b").write_text("{broken", encoding="utf-8")
    assert seed_models(rs, tmp_path, metrics) == 1
    assert [chooser_choice(r) for r in rs[:2]] == ["gbm", None]
    assert isinstance(rs[0].policy, PredictivePolicy) and rs[0].policy.forecast.tape.chooser is not None
    assert rs[0].policy.forecast.tape.chooser.selection is not None
    assert rs[0].policy.forecast.tape.chooser.selection.shift == 2.5
    assert metrics.registry.get_sample_value("forecastscale_errors_total", {"kind": "model_artifact"}) == 1
