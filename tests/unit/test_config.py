from __future__ import annotations

import copy
import math
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from forecastscale.config import Config, load_config, parse_config
from forecastscale.errors import ConfigError
from tests.conftest import BASE_CONFIG, DATA


def _with(path: str, value: Any) -> dict[str, Any]:
    """The base config with ``value`` at the dotted ``path`` (``targets.0.scaling.min_replicas``); a section the
    base config leaves out is added."""
    raw = copy.deepcopy(BASE_CONFIG)
    node: Any = raw
    keys = [int(k) if k.isdigit() else k for k in path.split(".")]
    for k in keys[:-1]:
        node = node[k] if isinstance(k, int) else node.setdefault(k, {})
    node[keys[-1]] = value
    return raw


@pytest.mark.parametrize(("path", "value", "expected"), [
    ("targets.0.workload.capacity_per_replica", -3, "targets[0].workload.capacity_per_replica: must be > 0, got -3"),
    ("targets.0.scaling.target_utilisation", 1.5, "targets[0].scaling.target_utilisation: must be <= 1, got 1.5"),
    ("targets.0.scaling.min_replicas", -1, "targets[0].scaling.min_replicas: must be >= 0, got -1"),
    ("targets.0.scaling.max_replicas", "many", "targets[0].scaling.max_replicas: must be a whole number, got 'many'"),
    ("targets.0.workload.pod_startup_s", -1, "targets[0].workload.pod_startup_s: must be >= 0, got -1"),
    ("targets.0.colour", "red", "targets[0].colour: unknown field, got 'red'"),
    ("targets.0.scaling.colour", "red", "targets[0].scaling.colour: unknown field, got 'red'"),
    ("node_pools.0.gpus_per_node", 0, "node_pools[0].gpus_per_node: must be > 0, got 0"),
    ("node_pools.0.gpu_hour_cost", -2.5, "node_pools[0].gpu_hour_cost: must be >= 0, got -2.5"),
    ("targets.0.scaling.min_replicas", 65, "targets[0].scaling: min_replicas (65) > max_replicas (64)"),
    ("targets.0.scheduling.node_pool", "tpu", "targets[0].scheduling.node_pool: unknown pool 'tpu'; have ['gpu']"),
    ("targets.0.workload.gpus_per_pod", 8, "targets[0].workload.gpus_per_pod: 8 exceeds gpus_per_node 4 of pool 'gpu'"),
], ids=["negative-capacity", "utilisation>1", "min<0", "not-int", "negative-startup", "unknown-field",
        "unknown-field-in-section", "zero-gpus", "negative-cost", "min>max", "unknown-pool", "pod>node"])
def test_bad_field_gives_one_line_naming_it(path: str, value: Any, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(_with(path, value))
    assert info.value.problems == [expected]


def test_every_bad_field_is_reported_at_once() -> None:
    raw = _with("targets.0.workload.capacity_per_replica", 0)
    raw["node_pools"][0]["max_nodes"] = -1
    with pytest.raises(ConfigError) as info:
        parse_config(raw)
    assert len(info.value.problems) == 2


def test_defaults_follow_kubernetes() -> None:
    cfg = parse_config(BASE_CONFIG)
    t = cfg.targets[0]
    assert t.scaling.tolerance == 0.1
    assert t.scaling.behavior.scale_down.stabilization_window_seconds == 300
    assert [(p.type, p.value, p.period_seconds) for p in t.scaling.behavior.scale_up.policies] == [
        ("Pods", 4, 15), ("Percent", 100, 15)]
    assert t.forecast.quantile == 0.9
    assert cfg.pool_for(t).name == "gpu"


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("targets:\n  - name: x\n    workload:\n      capacity_per_replica: [1\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.problems[0].startswith("line 5: not valid YAML")


def test_missing_file_and_wrong_top_level(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read file"):
        load_config(tmp_path / "absent.yaml")
    path = tmp_path / "list.yaml"
    path.write_text("- 1\n- 2\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="top level must be a mapping, got list"):
        load_config(path)


@pytest.mark.parametrize("name", ["elb_request_count.yaml", "nyc_taxi.yaml", "twitter_goog.yaml"])
def test_bundled_configs_load_and_resolve_their_traces(name: str) -> None:
    cfg = load_config(DATA / name)
    trace = cfg.targets[0].backtest.trace
    assert trace is not None and trace.is_file()


# --- issue 14: hostile input never escapes as a traceback, a hang or a silently wrong config -------------

BASE_YAML = yaml.safe_dump(BASE_CONFIG, sort_keys=False)
BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True))


def _load_text(tmp_path: Path, text: str | bytes) -> Config:
    path = tmp_path / "c.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return load_config(path)


@pytest.mark.parametrize(("text", "expected"), [
    (BASE_YAML.replace("capacity_per_replica: 1.0", "capacity_per_replica: !!int 1.5"),
     r"^line 4: not valid YAML: cannot read '1.5' as int"),
    (BASE_YAML.replace("name: llm", "name: !!timestamp 2024-02-30"),
     r"^line 2: not valid YAML: cannot read '2024-02-30' as timestamp \(day is out of range"),
    (BASE_YAML + "x: " + "[" * 5000 + "]" * 5000 + "\n", r"^line \d+: nested more than 32 levels deep$"),
    (BASE_YAML + "x: " + "{a: " * 5000 + "1" + "}" * 5000 + "\n", r"^line \d+: nested more than 32 levels deep$"),
    (BOMB, r"^line 1: YAML anchors/aliases are not supported$"),
    (BASE_YAML.replace("targets:", "targets: &t"), r"^line 1: YAML anchors/aliases are not supported$"),
    (BASE_YAML + "backtest: {<<: {decision_interval_s: 60}}\n", r"merge keys \(<<\) are not supported"),
    (BASE_YAML.replace("    max_replicas: 64\n", "    max_replicas: 64\n    max_replicas: 8\n"),
     r"^line 11: duplicate key 'max_replicas' \(first on line 10\)$"),
    (BASE_YAML + "backtest: {decision_interval_s: 60, decision_interval_s: 1}\n",
     r"^line 16: duplicate key 'decision_interval_s' \(first on line 16\)$"),
    (BASE_YAML.replace("max_replicas: 64", "max_replicas: " + "9" * 5000),
     r"^line 10: not valid YAML: cannot read '9999.*\(5002 chars\) as int \(Exceeds the limit"),
    (BASE_YAML.replace("name: llm", "name: !!python/object/apply:os.system [echo]"),
     r"^line 2: not valid YAML: could not determine a constructor"),
    (BASE_YAML.replace("name: llm", "name: a\x00b"), r"^not valid YAML: unacceptable character #x0000"),
    (BASE_YAML + "---\nb: 1\n", r"^line \d+: not valid YAML: but found another document"),
    (BASE_YAML.encode() + b"x: \xff\n", r"^not UTF-8 text \(invalid start byte at byte \d+\)$"),
    ("# " + "x" * (4 * 2**20) + "\n", r"^file is larger than 4,194,304 bytes; not a config$"),
], ids=["int-tag-float", "impossible-date", "deep-flow", "deep-mapping", "alias-bomb", "anchor", "merge-key",
        "duplicate-key", "duplicate-key-one-line", "5000-digit-int", "python-tag", "nul-char", "two-documents",
        "not-utf8", "over-4MiB"])
def test_hostile_yaml_is_one_short_config_error(tmp_path: Path, text: str | bytes, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        _load_text(tmp_path, text)
    assert len(info.value.problems) == 1 and re.search(expected, info.value.problems[0]), info.value.problems
    assert len(str(info.value)) < 400  # never the expanded input


def test_dates_stay_strings_and_a_bom_is_accepted(tmp_path: Path) -> None:
    config = _load_text(tmp_path, "\ufeff" + BASE_YAML.replace("name: llm", "name: 2024-02-30"))
    assert config.targets[0].name == "2024-02-30"


FLOAT_FIELDS = ["targets.0.workload.capacity_per_replica", "targets.0.scaling.target_utilisation",
                "targets.0.scaling.tolerance", "targets.0.workload.pod_startup_s", "targets.0.workload.max_wait_s",
                "targets.0.scheduling.share", "targets.0.workload.cpu", "targets.0.workload.memory_gib",
                "targets.0.workload.demand_scale", "node_pools.0.node_startup_s",
                "node_pools.0.gpu_hour_cost", "node_pools.0.scale_down_unneeded_s", "node_pools.0.cpu_per_node",
                "node_pools.0.memory_gib_per_node", "backtest.decision_interval_s"]


@pytest.mark.parametrize("path", FLOAT_FIELDS, ids=FLOAT_FIELDS)
@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan], ids=["inf", "-inf", "nan"])
def test_no_float_field_accepts_inf_or_nan(path: str, value: float) -> None:
    raw = _with(path, value) if not path.startswith("backtest") else {**BASE_CONFIG, "backtest": {
        "decision_interval_s": value}}
    with pytest.raises(ConfigError) as info:
        parse_config(raw)
    where = path.replace(".0.", "[0].")
    assert info.value.problems == [f"{where}: Input should be a finite number, got {value!r}"]


@pytest.mark.parametrize(("path", "value", "expected"), [
    ("targets.0.workload.capacity_per_replica", 5e-324, "must be 0 or of magnitude 1e-09 to 1e+12, got 5e-324"),
    ("targets.0.workload.capacity_per_replica", 1e308, "must be 0 or of magnitude 1e-09 to 1e+12, got 1e+308"),
    ("targets.0.scaling.max_replicas", 2**40, "must be within ±2147483647 (int32), got 1099511627776"),
    ("targets.0.forecast.window_s", 1e12, "must be at most 63244800 s (two years), got 1000000000000.0"),
    ("targets.0.workload.pod_startup_s", 10**400,
     "Input should be a valid number, got 1000000000000000000000000000"),
], ids=["denormal-capacity", "1e308-capacity", "2**40-replicas", "1e12-window", "400-digit-int"])
def test_numbers_beyond_any_sane_config_are_refused(path: str, value: Any, expected: str) -> None:
    raw = _with(path, value)
    with pytest.raises(ConfigError) as info:
        parse_config(raw)
    [problem] = info.value.problems
    assert problem.startswith(f"{path.replace('.0.', '[0].')}: {expected}") and len(problem) < 200


def test_infinite_capacity_is_an_error_not_one_replica(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        _load_text(tmp_path, BASE_YAML.replace("capacity_per_replica: 1.0", "capacity_per_replica: .inf"))
    assert info.value.problems == [
        "targets[0].workload.capacity_per_replica: Input should be a finite number, got inf"]


def test_a_huge_bad_value_is_shown_short() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(_with("targets.0.scaling.max_replicas", "x" * 1_000_000))
    assert info.value.problems[0].endswith("… (1000002 chars)") and len(str(info.value)) < 300
