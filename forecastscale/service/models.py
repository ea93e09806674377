"""Start ``auto`` targets from the artifacts ``forecastscale train`` wrote (``service.models_dir``).

A missing artifact is normal (the target selects on live history); an unusable one is logged and
counted (``forecastscale_errors_total{kind="model_artifact"}``) and the target selects as if there
were none — a bad file never stops the service.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from forecastscale.forecasters import MODELS
from forecastscale.forecasters.select import Selection
from forecastscale.forecasters.store import ArtifactError, load, path_for
from forecastscale.service.metrics import ServiceMetrics
from forecastscale.service.target import TargetRunner

log = logging.getLogger("forecastscale.service")


def seed_models(runners: Sequence[TargetRunner], directory: Path, metrics: ServiceMetrics) -> int:
    """Seed every ``auto`` target that has a usable artifact; returns how many were seeded."""
    seeded = 0
    for r in runners:
        path = path_for(directory, r.target.name)
        if not path.exists():
            log.info("target %s: no artifact at %s; selecting on live history", r.target.name, path)
            continue
        try:
            artifact = load(path, known_models=MODELS)
        except ArtifactError as exc:
            metrics.errors.labels("model_artifact").inc()
            log.error("target %s: %s; selecting on live history instead", r.target.name, exc)
            continue
        if r.seed_model(Selection(artifact.model, {}, f"trained {artifact.created}: {artifact.reason}",
                                  artifact.shift)):
            seeded += 1
            log.info("target %s: starting with trained %s (%s)", r.target.name, artifact.model, path)
        else:
            log.info("target %s: artifact %s ignored: forecast.model is not auto", r.target.name, path)
    return seeded
