"""Model artifacts: JSON round trip, and a clear error for every way a file can be unusable."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from forecastscale.config import ForecastSettings, load_config
from forecastscale.forecasters import MODELS
from forecastscale.forecasters.store import (
    Artifact,
    ArtifactError,
    library_versions,
    load,
    path_for,
    save,
    selection_settings,
)
from tests.conftest import DATA, REPO


def artifact(**extra: object) -> Artifact:
    fields: dict[str, object] = {"target": "chat/llm", "model": "holt_winters", "reason": "lowest pinball",
                                 "scores": {"holt_winters": {"pinball": 1.5, "mase": float("nan")}},
                                 "data": {"steps": 10}, "settings": {"model": "auto"}}
    fields.update(extra)
    return Artifact(**fields)  # type: ignore[arg-type]


def test_round_trip_with_a_safe_file_name_and_nan_as_null(tmp_path: Path) -> None:
    path = save(artifact(), tmp_path)
    assert path == path_for(tmp_path, "chat/llm") and path.name == "chat_llm.json"
    body = json.loads(path.read_text())
    assert body["scores"]["holt_winters"]["mase"] is None and body["libraries"]["numpy"]
    back = load(path, known_models=MODELS, target="chat/llm")
    assert (back.target, back.model, back.scores["holt_winters"]["pinball"]) == ("chat/llm", "holt_winters", 1.5)


@pytest.mark.parametrize(("edit", "message"), [
    (lambda b: "{not json", "not JSON"),
    (lambda b: json.dumps({**b, "format": "pickle"}), "not a forecastscale-model file"),
    (lambda b: json.dumps({**b, "format_version": 99}), "format_version 99"),
    (lambda b: json.dumps({**b, "model": "prophet"}), "model: unknown 'prophet'"),
    (lambda b: json.dumps({k: v for k, v in b.items() if k != "reason"}), "reason: missing"),
    (lambda b: json.dumps({**b, "scores": [1, 2]}), "scores: must be an object"),
    (lambda b: json.dumps({**b, "shift": "big"}), "shift: must be a number"),
], ids=["corrupt", "foreign", "version", "unknown-model", "missing-field", "wrong-type", "bad-shift"])
def test_unusable_artifacts_raise_naming_the_file_and_the_problem(tmp_path: Path, edit: object, message: str) -> None:
    path = save(artifact(), tmp_path)
    path.write_text(edit(json.loads(path.read_text())), encoding="utf-8")  # type: ignore[operator]
    with pytest.raises(ArtifactError, match=message) as info:
        load(path, known_models=MODELS, target="chat/llm")
    assert str(path) in str(info.value)


# --- issue 14: hostile artifacts are refused with a reason, never used and never a traceback -------------

def _edit_text(b: dict[str, Any], key: str, raw: str) -> str:
    """The artifact's JSON with ``key``'s value replaced by the raw JSON text ``raw``."""
    return json.dumps({**b, key: "@@"}).replace('"@@"', raw)


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(("edit", "message"), [
    (lambda b: _edit_text(b, "shift", "NaN"), r"not JSON \(not valid JSON: 'NaN is not a JSON number"),
    (lambda b: _edit_text(b, "shift", "Infinity"), r"not JSON \(not valid JSON: 'Infinity is not a JSON number"),
    (lambda b: _edit_text(b, "shift", "1e999"), r"not JSON \(not valid JSON: '1e999 overflows a float"),
    (lambda b: _edit_text(b, "shift", "1" * 401), r"not JSON \(not valid JSON: 'a number of 401 characters"),
    (lambda b: _edit_text(b, "data", _nested(5000)), r"not JSON \(nested 5001 levels deep, at most 64\)"),
    (lambda b: json.dumps({**b, "shift": 1e300}), r"shift: must be within \[-1e\+12, 1e\+12\], got 1e\+300"),
    (lambda b: json.dumps({**b, "shift": True}), r"shift: must be a number, got True"),
    (lambda b: json.dumps({**b, "target": "other"}), r"target: the artifact is for 'other', loaded for 'chat/llm'"),
    (lambda b: json.dumps({**b, "format_version": True}), r"format_version True, this build reads 1"),
    (lambda b: json.dumps({**b, "scores": {"gbm": {"mae": "low"}}}), r"scores.'gbm'.'mae': must be a finite number"),
    (lambda b: json.dumps({**b, "scores": {"gbm": 3}}), r"scores: each entry must be an object of scores"),
    (lambda b: json.dumps({**b, "reason": "ok\nERROR forged"}), r"reason: must be one printable line"),
    (lambda b: json.dumps({**b, "created": "9999-01-01T00:00:00+00:00"}), r"created: must be an ISO-8601 date-time"),
    (lambda b: json.dumps({**b, "data": {"step_s": -300}}), r"data.step_s: must be a number > 0, got -300"),
    (lambda b: json.dumps({**b, "libraries": {**b["libraries"], "numpy": "1.26.4"}}),
     r"libraries.numpy: trained with '1.26.4', this build has \d+\.\d+"),
    (lambda b: json.dumps({**b, "libraries": {}}), r"libraries.statsmodels: trained with None"),
    (lambda b: " " * (2**20 + 1), r"not JSON \(1,048,577 bytes, at most 1,048,576\)"),
    (lambda b: "\udcff", r"not JSON \(not UTF-8"),
], ids=["nan-shift", "infinity-shift", "overflow-shift", "401-digits", "deep-nesting", "huge-shift", "bool-shift",
        "other-target", "bool-version", "text-score", "score-not-object", "reason-newline", "created-9999",
        "negative-step", "library-minor", "libraries-missing", "over-1MiB", "not-utf8"])
def test_hostile_artifacts_raise_naming_the_field(tmp_path: Path, edit: Any, message: str) -> None:
    path = save(artifact(), tmp_path)
    path.write_text(edit(json.loads(path.read_text())), encoding="utf-8", errors="surrogateescape")
    with pytest.raises(ArtifactError, match=message) as info:
        load(path, known_models=MODELS, target="chat/llm")
    assert str(path) in str(info.value) and len(str(info.value)) < 600


def test_a_patch_release_of_a_library_is_not_a_mismatch(tmp_path: Path) -> None:
    libraries = {**library_versions(), "numpy": ".".join([*library_versions()["numpy"].split(".")[:2], "999"])}
    path = save(artifact(libraries=libraries), tmp_path)
    assert load(path, known_models=MODELS, target="chat/llm").libraries["numpy"].endswith(".999")


LEAD_S = 600.0
TRAINED = ForecastSettings(model="auto", quantile=0.9)


@pytest.mark.parametrize(("configured", "lead_s", "message"), [
    (TRAINED.model_copy(update={"quantile": 0.95}), LEAD_S, "settings.quantile: trained with 0.9, configured 0.95"),
    (TRAINED, 900.0, "settings.lead_s: trained with 600.0, configured 900.0"),
    (TRAINED.model_copy(update={"step_s": 60.0}), LEAD_S, "settings.step_s: trained with 300.0, configured 60.0"),
    (TRAINED.model_copy(update={"season_s": 3600.0}), LEAD_S, "settings.season_s: trained with 86400.0, configured"),
    (TRAINED.model_copy(update={"candidates": ("holt_winters", "mstl")}), LEAD_S,
     "settings.candidates: trained with ['seasonal_naive', 'holt_winters', 'mstl', 'sarimax', 'gbm'], configured "
     "['holt_winters', 'mstl']"),
], ids=["quantile", "lead-time", "step", "season", "candidates"])
def test_an_artifact_trained_with_other_settings_is_refused(tmp_path: Path, configured: ForecastSettings,
                                                            lead_s: float, message: str) -> None:
    path = save(artifact(model="gbm", settings=selection_settings(TRAINED, LEAD_S)), tmp_path)
    with pytest.raises(ArtifactError) as info:
        load(path, known_models=MODELS, target="chat/llm", expected=selection_settings(configured, lead_s))
    assert message in str(info.value)
    assert load(path, known_models=MODELS, target="chat/llm", expected=selection_settings(TRAINED, LEAD_S))


def test_an_unrecorded_setting_or_a_model_outside_the_candidates_is_refused(tmp_path: Path) -> None:
    recorded = {k: v for k, v in selection_settings(TRAINED, LEAD_S).items() if k != "lead_s"}
    path = save(artifact(model="gbm", settings=recorded), tmp_path)
    with pytest.raises(ArtifactError, match=r"settings\.lead_s: trained with '<not recorded>', configured 600\.0"):
        load(path, known_models=MODELS, target="chat/llm", expected=selection_settings(TRAINED, LEAD_S))
    narrow = TRAINED.model_copy(update={"candidates": ("holt_winters",)})
    path = save(artifact(model="gbm", settings=selection_settings(narrow, LEAD_S)), tmp_path)
    with pytest.raises(ArtifactError, match="model: 'gbm' is not one of the configured candidates holt_winters"):
        load(path, known_models=MODELS, target="chat/llm", expected=selection_settings(narrow, LEAD_S))


@pytest.mark.parametrize("name", ["elb_request_count", "twitter_goog", "nyc_taxi"])
def test_bundled_artifacts_load_for_their_targets_trained_with_model_auto(name: str) -> None:
    config = load_config(DATA / f"{name}.yaml")
    for t in config.targets:
        settings = t.forecast.model_copy(update={"model": "auto"})
        expected = selection_settings(settings, config.pool_for(t).node_startup_s + t.workload.pod_startup_s)
        got = load(path_for(REPO / "models", t.name), known_models=MODELS, target=t.name, expected=expected)
        assert got.target == t.name and math.isfinite(got.shift)
