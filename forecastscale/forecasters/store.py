"""Model artifacts in ``models/``: what ``train`` chose and measured per target, as plain JSON.

Safe to load by construction: JSON only (no pickle, nothing executable), validated field by field
on load. An artifact carries the model kind and its settings, the selection scores, the data
span it was trained on and the library versions; the service reads it at start so ``auto`` need
not re-run its selection, and refits on fresh data as usual. A corrupted or version-mismatched
file raises :class:`ArtifactError` (the caller logs it and falls back to selecting/fitting).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from forecastscale.errors import PermanentError
from forecastscale.forecasters.evaluate import Scores

FORMAT = "forecastscale-model"
FORMAT_VERSION = 1
LIBRARIES = ("forecastscale", "numpy", "statsmodels", "scikit-learn")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]")


class ArtifactError(PermanentError):
    """A model artifact cannot be used; the message names the file and what is wrong."""


@dataclass(frozen=True)
class Artifact:
    """One target's trained model: ``model`` (an alias), how it was chosen, on what data."""

    target: str
    model: str
    reason: str
    scores: dict[str, dict[str, float]]
    data: dict[str, Any]
    settings: dict[str, Any]
    shift: float = 0.0  # the conformal shift of the model's quantile band (demand units)
    libraries: dict[str, str] = field(default_factory=lambda: library_versions())
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))


def library_versions() -> dict[str, str]:
    """Installed versions of the libraries a fit depends on."""
    out = {}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "missing"
    return out


def scores_dict(scores: dict[str, Scores]) -> dict[str, dict[str, float]]:
    """Selection scores as JSON-safe numbers (NaN → None is done by :func:`save`)."""
    return {alias: {k: float(v) for k, v in asdict(s).items()} for alias, s in scores.items()}


def path_for(directory: Path, target: str) -> Path:
    """``directory/<target>.json``, the name made filesystem-safe."""
    return directory / f"{_SAFE_NAME.sub('_', target)}.json"


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN; "not measured" reads as null
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def save(artifact: Artifact, directory: Path) -> Path:
    """Write the artifact atomically (temp file, then rename); returns its path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = path_for(directory, artifact.target)
    body = {"format": FORMAT, "format_version": FORMAT_VERSION, **_clean(asdict(artifact))}
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(body, indent=1, sort_keys=True, allow_nan=False) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def load(path: Path, *, known_models: tuple[str, ...]) -> Artifact:
    """Read and check one artifact; :class:`ArtifactError` says precisely why one is unusable."""
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ArtifactError(f"{path}: cannot read: {exc.strerror}") from exc
    except ValueError as exc:
        raise ArtifactError(f"{path}: not JSON ({exc}); delete it or run train again") from exc
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise ArtifactError(f"{path}: not a {FORMAT} file")
    if body.get("format_version") != FORMAT_VERSION:
        raise ArtifactError(f"{path}: format_version {body.get('format_version')!r}, this build reads "
                            f"{FORMAT_VERSION}; run train again")
    fields = {f: body.get(f) for f in Artifact.__dataclass_fields__}
    problems = [f"{f}: missing" for f in ("target", "model", "reason") if not isinstance(fields[f], str)]
    problems += [f"{f}: must be an object" for f in ("scores", "data", "settings", "libraries")
                 if not isinstance(fields[f], dict)]
    if not problems and fields["model"] not in known_models:
        problems.append(f"model: unknown {fields['model']!r}; have {', '.join(known_models)}")
    shift = body.get("shift", 0.0)
    if not isinstance(shift, int | float) or isinstance(shift, bool):
        problems.append(f"shift: must be a number, got {shift!r}")
    if problems:
        raise ArtifactError(f"{path}: " + "; ".join(problems))
    return Artifact(target=str(fields["target"]), model=str(fields["model"]), reason=str(fields["reason"]),
                    scores=dict(body["scores"]), data=dict(body["data"]), settings=dict(body["settings"]),
                    shift=float(shift), libraries=dict(body["libraries"]), created=str(body.get("created") or ""))
