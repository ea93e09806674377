"""Model artifacts: JSON round trip, and a clear error for every way a file can be unusable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from forecastscale.forecasters import MODELS
from forecastscale.forecasters.store import Artifact, ArtifactError, load, path_for, save


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
    back = load(path, known_models=MODELS)
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
        load(path, known_models=MODELS)
    assert str(path) in str(info.value)
