"""Start ``auto`` targets from the artifacts ``forecastscale train`` wrote (``service.models_dir``).

A missing artifact is normal (the target selects on live history); an unusable one — corrupt, hostile,
another target's, trained with other settings or library versions (:func:`forecasters.store.load`) —
is logged and counted (``forecastscale_errors_total{kind="model_artifact"}``) and the target selects as
if there were none. A bad file never stops the service: nothing one file holds escapes :func:`seed_models`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from forecastscale.edge import escaped
from forecastscale.forecasters import MODELS
from forecastscale.forecasters.select import Selection
from forecastscale.forecasters.store import ArtifactError, load, path_for, selection_settings
from forecastscale.service.metrics import ServiceMetrics
from forecastscale.service.target import TargetRunner

log = logging.getLogger("forecastscale.service")


def seed_models(runners: Sequence[TargetRunner], directory: Path, metrics: ServiceMetrics) -> int:
    """Seed every ``auto`` target that has a usable artifact; returns how many were seeded."""
    seeded = 0
    for r in runners:
        try:
            seeded += _seed_one(r, directory)
        except ArtifactError as exc:
            metrics.errors.labels("model_artifact").inc()
            log.error("target %s: %s; selecting on live history instead", escaped(r.target.name), escaped(str(exc)))
        except Exception as exc:  # a bug or an unforeseen file must not stop the service: count and go on
            metrics.errors.labels("model_artifact").inc()
            log.exception("target %s: artifact unusable (%s: %s); selecting on live history instead",
                          escaped(r.target.name), type(exc).__name__, escaped(str(exc)))
    return seeded


def _seed_one(r: TargetRunner, directory: Path) -> int:
    """1 if ``r`` was started from its artifact, 0 if it has none or does not select; ArtifactError if unusable."""
    name = escaped(r.target.name)
    path = path_for(directory, r.target.name)
    if r.target.forecast.model != "auto":
        if path.exists():
            log.info("target %s: artifact %s ignored: forecast.model is not auto", name, path)
        return 0
    if not path.exists():
        log.info("target %s: no artifact at %s; selecting on live history", name, path)
        return 0
    expected = selection_settings(r.target.forecast, r.lead.total_s)
    artifact = load(path, known_models=MODELS, target=r.target.name, expected=expected)
    if not r.seed_model(Selection(artifact.model, {}, f"trained {artifact.created}: {artifact.reason}",
                                  artifact.shift)):
        log.info("target %s: artifact %s ignored: the policy does not forecast", name, path)
        return 0
    log.info("target %s: starting with trained %s (%s)", name, artifact.model, path)
    return 1
