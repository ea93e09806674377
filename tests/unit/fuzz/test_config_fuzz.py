"""Property: whatever a config file holds, ``load_config`` gives a ConfigError (short, one line per problem) or
a config with only finite numbers whose policies decide within bounds — never another exception, never a hang."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.fuzz.config import AFTER_LINE, AS_VALUE, BEFORE_VALUE, BOMB
from benchmarks.fuzz.invariants import config_problems, yaml_problems
from forecastscale.config import load_config
from forecastscale.errors import ConfigError
from tests.conftest import BASE_CONFIG, DATA, REPO
from tests.unit.fuzz.strategies import edited, spliced

SEEDS = [BASE_CONFIG, *(yaml.safe_load(p.read_text(encoding="utf-8"))
                        for p in sorted([*DATA.glob("*.yaml"), *(REPO / "examples").glob("*.yaml")]))]
SLOW = [HealthCheck.too_slow, HealthCheck.data_too_large]


@pytest.fixture(scope="module")
def file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield tmp_path_factory.mktemp("config") / "c.yaml"


def check(path: Path, text: str | bytes) -> None:
    """The property itself."""
    if isinstance(text, str):
        text = text.encode("utf-8", errors="surrogatepass")
    path.write_bytes(text)
    try:
        config = load_config(path)
    except ConfigError as exc:
        assert exc.problems and all(len(p) < 1000 for p in exc.problems), exc.problems[:3]
        return
    assert yaml_problems(text.decode("utf-8-sig")) + config_problems(config) == []


@settings(max_examples=400, suppress_health_check=SLOW)
@given(st.sampled_from(SEEDS).map(copy.deepcopy).flatmap(edited))
def test_valid_configs_with_hostile_values(file: Path, data: Any) -> None:
    check(file, yaml.safe_dump(data, sort_keys=False))


@st.composite
def constructs(draw: st.DrawFn) -> str:
    """A seed's YAML with one construct in one ``key: value`` line: an anchor, a tag, a bad scalar, a duplicate."""
    lines = yaml.safe_dump(draw(st.sampled_from(SEEDS)), sort_keys=False).split("\n")
    keyed = [i for i, line in enumerate(lines) if ": " in line]
    i = draw(st.sampled_from(keyed))
    key, _, value = lines[i].partition(": ")
    how = draw(st.integers(0, 4))
    if how == 0:
        lines[i] = f"{key}: {draw(st.sampled_from(BEFORE_VALUE))}{value}"
    elif how == 1:
        lines[i] = f"{key}: {draw(st.sampled_from(AS_VALUE))}"
    elif how == 2:
        lines[i] += draw(st.sampled_from(AFTER_LINE))
    elif how == 3:
        lines.insert(i, lines[i])
    else:
        lines.append(BOMB)
    return "\n".join(lines)


@settings(max_examples=200, suppress_health_check=SLOW)
@given(constructs())
def test_yaml_constructs_in_valid_configs(file: Path, text: str) -> None:
    check(file, text)


@settings(max_examples=200, suppress_health_check=SLOW)
@given(st.sampled_from(SEEDS).map(lambda d: yaml.safe_dump(d, sort_keys=False)).flatmap(spliced))
def test_blindly_edited_config_text(file: Path, text: str) -> None:
    check(file, text)


@settings(max_examples=100, suppress_health_check=SLOW)
@given(st.binary(max_size=300) | st.text(max_size=300))
def test_arbitrary_bytes_and_text(file: Path, raw: bytes | str) -> None:
    check(file, raw)
