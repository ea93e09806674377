"""What "a correct result" means for an accepted input, surface by surface (shared by the campaign and the
property-based tests in ``tests/unit/fuzz``). Each function returns the violated invariants, ``[]`` if none.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np
import yaml
from pydantic import BaseModel

from forecastscale.config import Config, Target
from forecastscale.edge import EARLIEST_S, LATEST_S
from forecastscale.forecasters import MODELS
from forecastscale.forecasters.store import LIBRARIES, MAX_SHIFT, Artifact, library_versions
from forecastscale.policy.base import Policy
from forecastscale.policy.fleet import FleetState, TargetInput, decide_fleet
from forecastscale.policy.placement import Placement
from forecastscale.policy.predictive import PredictivePolicy
from forecastscale.policy.reactive import ReactivePolicy
from forecastscale.sources import csvtrace
from forecastscale.sources.csvtrace import Trace
from forecastscale.types import Decision, Observation

WALL_S = 1_704_067_200.0  # 2024-01-01T00:00:00Z: the decision's wall clock (cron floors need one)


def numbers(value: Any, where: str = "") -> Iterator[tuple[str, Any]]:
    """Every number anywhere in a validated model (fields, tuples, dicts), with its path."""
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from numbers(getattr(value, name), f"{where}.{name}" if where else name)
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from numbers(item, f"{where}[{i}]")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from numbers(item, f"{where}.{key}")
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield where, value


def config_problems(config: Config) -> list[str]:
    """Only finite numbers anywhere, and one fleet decision per policy with every target's replicas and every
    pool's nodes within their bounds."""
    problems = [f"{where}: {value!r} is not finite" for where, value in numbers(config)
                if isinstance(value, float) and not math.isfinite(value)]
    makers: list[Callable[[Target], Policy]] = [
        ReactivePolicy, lambda t: PredictivePolicy(t, config.pool_for(t), 60.0, 60.0)]
    for make in makers:
        policies = {t.name: make(t) for t in config.targets}
        inputs = {t.name: TargetInput(_observation(t.scaling.min_replicas)) for t in config.targets}
        fleet, _ = decide_fleet(Placement(config), policies, inputs, {}, FleetState())
        problems += [p for t in config.targets for p in decision_problems(
            fleet.targets[t.name], t.name, (t.scaling.min_replicas, t.scaling.max_replicas))]
        problems += [f"pool {p.name}: planned {fleet.pools[p.name].nodes!r} nodes outside [{p.min_nodes}, "
                     f"{p.max_nodes}]" for p in config.node_pools
                     if not p.min_nodes <= fleet.pools[p.name].nodes <= p.max_nodes]
    return problems


def yaml_problems(text: str) -> list[str]:
    """Anchors, aliases or a duplicate key in a YAML text the loader accepted, found by PyYAML's own parser and
    composer (independent of the loader under test)."""
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            return [f"accepted an anchor or alias (line {event.start_mark.line + 1})"]
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    stack, problems = [root] if root is not None else [], []
    while stack:
        node = stack.pop()
        if isinstance(node, yaml.MappingNode):
            keys = [(k.tag, k.value) for k, _ in node.value if isinstance(k, yaml.ScalarNode)]
            problems += [f"accepted duplicate key {k[1]!r}" for k in set(keys) if keys.count(k) > 1]
            stack += [v for _, v in node.value]
        elif isinstance(node, yaml.SequenceNode):
            stack += node.value
    return problems


def _observation(replicas: int) -> Observation:
    """A steady target inside its bounds."""
    demand = np.linspace(5.0, 15.0, 30)  # half an hour of minutes: too short to fit, the policy falls back
    return Observation(t=30 * 60.0, step_s=60.0, demand_history=demand, current_replicas=replicas,
                       ready_replicas=replicas, wall_s=WALL_S)


def decision_problems(d: Decision, name: str, replicas: tuple[int, int]) -> list[str]:
    """A decision's replicas are a whole number within the target's bounds."""
    if isinstance(d.replicas, int) and replicas[0] <= d.replicas <= replicas[1]:
        return []
    return [f"target {name}: decided {d.replicas!r} replicas outside {list(replicas)}"]


def trace_problems(trace: Trace) -> list[str]:
    """Finite non-negative values, a positive finite step, at most MAX_SLOTS slots, a start within the horizon."""
    values = np.asarray(trace.values, dtype=np.float64)
    problems = []
    if not 1 <= values.size <= csvtrace.MAX_SLOTS:  # read now: a test may lower the bound to stay fast
        problems.append(f"{values.size} slots (1 to {csvtrace.MAX_SLOTS})")
    if not (np.isfinite(values).all() and (values >= 0).all()):
        problems.append("a value is negative, NaN or infinite")
    if not (math.isfinite(trace.step_s) and trace.step_s > 0):
        problems.append(f"step {trace.step_s!r} s")
    if not EARLIEST_S <= trace.start.timestamp() <= LATEST_S:
        problems.append(f"start {trace.start.isoformat()} outside the horizon")
    # The last slot ends a step after the last sample, which rounding to the grid moves by up to half a step.
    if not EARLIEST_S <= trace.start.timestamp() + trace.duration_s <= LATEST_S + 2 * trace.step_s:
        problems.append(f"end {trace.start.timestamp() + trace.duration_s:g} outside the horizon")
    return problems


def artifact_problems(a: Artifact, target: str, expected: Mapping[str, Any] | None) -> list[str]:
    """The requested target, a known model, a finite bounded shift, finite-or-NaN scores, matching settings
    (when ``expected``) and libraries of the installed major.minor versions."""
    problems = []
    if a.target != target:
        problems.append(f"target {a.target!r} loaded for {target!r}")
    if a.model not in MODELS:
        problems.append(f"model {a.model!r} unknown")
    if not (isinstance(a.shift, float) and math.isfinite(a.shift) and abs(a.shift) <= MAX_SHIFT):
        problems.append(f"shift {a.shift!r}")
    if not all(isinstance(v, float) for row in a.scores.values() for v in row.values()):
        problems.append("a score is not a float")
    if expected is not None:
        problems += [f"settings.{k}: {a.settings.get(k)!r} != {v!r}" for k, v in expected.items()
                     if a.settings.get(k) != v]
    installed = library_versions()
    problems += [f"libraries.{n}: {a.libraries.get(n)!r} vs {installed[n]}" for n in LIBRARIES
                 if str(a.libraries.get(n)).split(".")[:2] != installed[n].split(".")[:2]]
    return problems
