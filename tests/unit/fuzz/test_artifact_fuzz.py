"""Property: whatever an artifact file holds, ``store.load`` for a target gives an ArtifactError naming the file,
or an artifact for that target with a finite bounded shift, float scores, the expected settings and the
installed libraries' versions — never another exception, never a hang."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.fuzz.artifacts import RAW
from benchmarks.fuzz.invariants import artifact_problems
from forecastscale.forecasters import MODELS
from forecastscale.forecasters.store import ArtifactError, library_versions, load
from tests.conftest import REPO
from tests.unit.fuzz.strategies import edited, spliced

SEEDS = [{**json.loads(p.read_text(encoding="utf-8")), "libraries": library_versions()}
         for p in sorted((REPO / "models").glob("*.json"))]
SLOW = [HealthCheck.too_slow, HealthCheck.data_too_large]


@pytest.fixture(scope="module")
def file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield tmp_path_factory.mktemp("artifact") / "a.json"


def check(path: Path, seed: dict[str, Any], text: str | bytes) -> None:
    """The property itself: the case is loaded as the seed's target, with the seed's settings expected."""
    path.write_bytes(text.encode("utf-8", errors="surrogatepass") if isinstance(text, str) else text)
    try:
        artifact = load(path, known_models=MODELS, target=seed["target"], expected=seed["settings"])
    except ArtifactError as exc:
        assert str(exc).startswith(str(path)) and len(str(exc)) < 4000, str(exc)[:300]
        return
    assert artifact_problems(artifact, seed["target"], seed["settings"]) == []


@settings(max_examples=400, suppress_health_check=SLOW)
@given(st.data())
def test_real_artifacts_with_hostile_values(file: Path, data: st.DataObject) -> None:
    seed = data.draw(st.sampled_from(SEEDS))
    check(file, seed, json.dumps(data.draw(edited(copy.deepcopy(seed))), default=str))


@settings(max_examples=200, suppress_health_check=SLOW)
@given(st.sampled_from(SEEDS), st.sampled_from(["shift", "scores", "data", "settings", "target", "format_version",
                                                "created", "libraries", "model"]), st.sampled_from(RAW))
def test_raw_json_no_encoder_would_write(file: Path, seed: dict[str, Any], key: str, raw: str) -> None:
    text = json.dumps({k: v for k, v in seed.items() if k != key}) [:-1] + f', "{key}": {raw}}}'
    check(file, seed, text)


@settings(max_examples=200, suppress_health_check=SLOW)
@given(st.data())
def test_blindly_edited_artifact_text(file: Path, data: st.DataObject) -> None:
    seed = data.draw(st.sampled_from(SEEDS))
    check(file, seed, data.draw(spliced(json.dumps(seed, indent=1))))


@settings(max_examples=100, suppress_health_check=SLOW)
@given(st.sampled_from(SEEDS), st.binary(max_size=300) | st.text(max_size=300))
def test_arbitrary_bytes_and_text(file: Path, seed: dict[str, Any], raw: bytes | str) -> None:
    check(file, seed, raw)
