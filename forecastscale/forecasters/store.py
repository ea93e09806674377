"""Model artifacts in ``models/``: what ``train`` chose and measured per target, as plain JSON.

Safe to load by construction: JSON only (no pickle, nothing executable), validated field by field
on load. An artifact carries the model kind and the settings it was chosen with (every forecast
setting and the lead time, :func:`selection_settings`), the selection scores, the data span it was
trained on and the library versions; the service reads it at start so ``auto`` need not re-run its
selection, and refits on fresh data as usual. A corrupted, hostile (NaN, 400-digit or deeply nested
numbers, another target's name) or mismatched file raises :class:`ArtifactError` (the caller logs it
and falls back to selecting/fitting). Mismatched means trained with other settings than the target's
current ones, or written with another major.minor version of a library in :data:`LIBRARIES` (patch
releases do not change what a model fits).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from forecastscale.config import ForecastSettings
from forecastscale.edge import epoch, finite, shown, strict_json
from forecastscale.errors import PermanentError
from forecastscale.forecasters.evaluate import Scores

FORMAT = "forecastscale-model"
FORMAT_VERSION = 1
LIBRARIES = ("forecastscale", "numpy", "statsmodels", "scikit-learn")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]")
MAX_ARTIFACT_BYTES = 2**20  # an artifact is ~3 KB
MAX_ENTRIES = 64  # scores per model, candidates, settings, libraries: a handful each
MAX_SHIFT = 1e12  # the calibration shift, in demand units: larger than any demand a config can scale
MAX_PROBLEMS = 8  # listed in one error message
_MISSING = object()


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


def selection_settings(forecast: ForecastSettings, lead_s: float) -> dict[str, Any]:
    """What a trained choice depends on: every forecast setting (JSON form) and the lead time in seconds
    (node + pod startup: the horizon selection scored at). ``train`` records it; ``load`` compares it. The
    predictive utilisation is not one: it sizes replicas, it does not change a fit or a choice."""
    return {**forecast.model_dump(mode="json", exclude={"target_utilisation"}), "lead_s": float(lead_s)}


def load(path: Path, *, known_models: tuple[str, ...], target: str,
         expected: Mapping[str, Any] | None = None) -> Artifact:
    """Read and check the artifact of ``target``; :class:`ArtifactError` says precisely why one is unusable.

    Refused: a file over :data:`MAX_ARTIFACT_BYTES`, anything but strict JSON (no NaN/Infinity, bounded
    nesting and numbers), a field of the wrong type or out of range, another target's artifact, one
    trained with other ``expected`` settings (see :func:`selection_settings`), and one written with another
    major.minor version of a library in :data:`LIBRARIES` (README: version-mismatched files are ignored).
    """
    body = _read(path)
    problems = check(body, known_models=known_models, target=target, expected=expected)
    if problems:
        raise ArtifactError(f"{path}: " + "; ".join(problems[:MAX_PROBLEMS]))
    return _artifact(body)


def _read(path: Path) -> dict[str, Any]:
    """The artifact's JSON object, its format checked."""
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_ARTIFACT_BYTES + 1)
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        raise ArtifactError(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from exc
    try:
        body = strict_json(raw, max_bytes=MAX_ARTIFACT_BYTES)
    except ValueError as exc:
        raise ArtifactError(f"{path}: not JSON ({exc}); delete it or run train again") from exc
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise ArtifactError(f"{path}: not a {FORMAT} file")
    version = body.get("format_version")
    if type(version) is not int or version != FORMAT_VERSION:  # type(): true == 1 in Python
        raise ArtifactError(f"{path}: format_version {shown(version)}, this build reads {FORMAT_VERSION}; "
                            f"run train again")
    return body


def _artifact(body: dict[str, Any]) -> Artifact:
    """The checked ``body`` as an :class:`Artifact` (null scores back to NaN, as :func:`save` wrote them)."""
    scores = {alias: {k: math.nan if v is None else float(v) for k, v in row.items()}
              for alias, row in body["scores"].items()}
    return Artifact(target=body["target"], model=body["model"], reason=body["reason"], scores=scores,
                    data=dict(body["data"]), settings=dict(body["settings"]), shift=float(body.get("shift", 0.0)),
                    libraries=dict(body["libraries"]), created=str(body.get("created") or ""))


def check(body: dict[str, Any], *, known_models: tuple[str, ...], target: str,
          expected: Mapping[str, Any] | None = None) -> list[str]:
    """Every problem of artifact ``body`` (a JSON object of the right format), one ``field: why`` each."""
    problems = _check_strings(body) + _check_objects(body)
    if problems:  # wrong types: the comparisons below would only add noise
        return problems
    if body["target"] != target:
        problems.append(f"target: the artifact is for {shown(body['target'])}, loaded for {shown(target)}")
    if body["model"] not in known_models:
        problems.append(f"model: unknown {shown(body['model'])}; have {', '.join(known_models)}")
    problems += _check_numbers(body) + _check_libraries(body["libraries"])
    if expected is not None:
        problems += _check_settings(body, expected)
    return problems


def _check_strings(body: dict[str, Any]) -> list[str]:
    """target, model, reason (and created, if set): printable strings of bounded length."""
    problems = []
    for name, limit in (("target", 253), ("model", 64), ("reason", 2000), ("created", 64)):
        value = body.get(name, "" if name == "created" else None)
        if not isinstance(value, str) or (name != "created" and not value):
            problems.append(f"{name}: missing" if value is None else f"{name}: must be a string, got {shown(value)}")
        elif len(value) > limit or not value.isprintable():  # logged: one line, no forged records
            problems.append(f"{name}: must be one printable line of at most {limit} characters, got {shown(value)}")
    created = body.get("created")
    if isinstance(created, str) and created and not problems:
        problems += _time_problem("created", created)
    return problems


def _time_problem(field: str, text: str) -> list[str]:
    """``[]`` if ``text`` is an ISO-8601 date-time within the horizon every stored time must be in."""
    try:
        stamp = datetime.fromisoformat(text)
        epoch(field, (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).timestamp())
    except (ValueError, OverflowError):
        return [f"{field}: must be an ISO-8601 date-time between 1990 and 2200, got {shown(text)}"]
    return []


def _check_objects(body: dict[str, Any]) -> list[str]:
    """scores, data, settings and libraries: objects of at most :data:`MAX_ENTRIES` entries."""
    problems = []
    for name in ("scores", "data", "settings", "libraries"):
        value = body.get(name)
        if not isinstance(value, dict):
            problems.append(f"{name}: missing" if value is None else f"{name}: must be an object, got {shown(value)}")
        elif len(value) > MAX_ENTRIES:
            problems.append(f"{name}: {len(value)} entries, at most {MAX_ENTRIES}")
    scores = body.get("scores")
    if isinstance(scores, dict) and not all(isinstance(row, dict) and len(row) <= MAX_ENTRIES
                                            for row in scores.values()):
        problems.append("scores: each entry must be an object of scores")
    return problems


def _check_numbers(body: dict[str, Any]) -> list[str]:
    """shift finite and bounded, every score a finite number or null, the data span's step and length sane."""
    problems = []
    try:
        finite("shift", body.get("shift", 0.0), lo=-MAX_SHIFT, hi=MAX_SHIFT)
    except ValueError as exc:
        problems.append(str(exc))
    for alias, row in body["scores"].items():
        bad = [k for k, v in row.items() if v is not None and not _is_finite(v)]
        problems += [f"scores.{shown(alias, 40)}.{shown(k, 40)}: must be a finite number or null, got "
                     f"{shown(row[k])}" for k in bad[:3]]
    data = body["data"]
    for key, ok in (("steps", lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0),
                    ("step_s", lambda v: _is_finite(v) and v > 0)):
        if key in data and not ok(data[key]):
            problems.append(f"data.{key}: must be a {'whole number >= 0' if key == 'steps' else 'number > 0'}, "
                            f"got {shown(data[key])}")
    return problems


def _is_finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _major_minor(version: Any) -> tuple[str, ...]:
    return tuple(str(version).split(".")[:2])


def _check_libraries(recorded: dict[str, Any]) -> list[str]:
    """A library of :data:`LIBRARIES` recorded with another major.minor version than the one installed."""
    installed = library_versions()
    return [f"libraries.{name}: trained with {shown(recorded.get(name), 40)}, this build has {installed[name]}; "
            "run train again" for name in LIBRARIES
            if _major_minor(recorded.get(name)) != _major_minor(installed[name])]


def _check_settings(body: dict[str, Any], expected: Mapping[str, Any]) -> list[str]:
    """A recorded setting that differs from the target's current one (naming it and both values)."""
    recorded: dict[str, Any] = body["settings"]
    problems = [f"settings.{key}: trained with {shown(recorded.get(key, '<not recorded>'), 60)}, configured "
                f"{shown(want, 60)}; run train again"
                for key, want in expected.items() if recorded.get(key, _MISSING) != want]
    candidates = expected.get("candidates")
    if expected.get("model") == "auto" and isinstance(candidates, list | tuple) and body["model"] not in candidates:
        problems.append(f"model: {shown(body['model'])} is not one of the configured candidates "
                        f"{', '.join(map(str, candidates))}")
    return problems
