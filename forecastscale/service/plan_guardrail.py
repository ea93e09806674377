"""A target's forecast-guardrail state in the plan (pure, JSON-able, validated at the edge).

Stored as::

    {"active": "persistence", "since": 1700000000.0, "good_since": null,
     "scores": {"model": [pinball, coverage, n], "persistence": [...], "seasonal_naive": [...]},
     "pending": [[step, {"model": upper, "persistence": upper, ...}], ...]}

It stays small whatever the uptime: three exponential averages and the forecasts awaiting their step (one per
step of the pod lead, at most :data:`MAX_PENDING`). Read back, every part is checked: ``active`` one of the
guardrail's modes, times sane and not ahead of the clock by more than the skew allowed, pinball losses finite
and ≥ 0, coverages within 0–1, counts and steps whole; a bad entry raises ``ValueError`` naming the field,
and the caller drops the target's entry alone (:func:`forecastscale.service.plan_codec.decode`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from forecastscale.edge import epoch, finite, shown, whole
from forecastscale.policy.guardrail import FORECASTERS, MAX_COUNT, MODES, GuardState, Pending, Score

MAX_PENDING = 1024  # forecasts awaiting their step: one per step of the pod lead (1 h of 5-s ticks is 720)
MAX_STEP = 2**53  # absolute steps on the tick grid: whole numbers a float still holds exactly
MAX_DEMAND = 1e12  # demand units/s: beyond any real forecast (the config's own bound on magnitudes)


def guardrail_entry(state: GuardState) -> dict[str, Any]:
    """``state`` as the plan stores it."""
    return {"active": state.active, "since": state.since_s, "good_since": state.good_since_s,
            "scores": {n: [s.pinball, s.coverage, s.n] for n, s in state.scores.items()},
            "pending": [[p.step, dict(p.upper)] for p in state.pending]}


def guardrail_state(where: str, raw: Any, now_s: float, skew_s: float) -> GuardState:
    """A stored guardrail state, checked (``where`` names it in errors; times at most ``skew_s`` after ``now_s``)."""
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where}: must be an object, got {shown(raw)}")
    active = raw.get("active")
    if active not in MODES:
        raise ValueError(f"{where}.active: must be one of {', '.join(MODES)}, got {shown(active)}")
    since, good = (None if raw.get(k) is None else epoch(f"{where}.{k}", raw.get(k), now_s=now_s, max_ahead_s=skew_s)
                   for k in ("since", "good_since"))
    return GuardState(str(active), since, good, _scores(f"{where}.scores", raw.get("scores", {})),
                      _pending(f"{where}.pending", raw.get("pending", [])))


def _scores(where: str, raw: Any) -> dict[str, Score]:
    """``{forecaster: [pinball ≥ 0, coverage 0–1, n ≥ 0]}``."""
    if not isinstance(raw, Mapping) or not set(raw) <= set(FORECASTERS):
        raise ValueError(f"{where}: must map {', '.join(FORECASTERS)} to [pinball, coverage, n], got {shown(raw)}")
    out = {}
    for name, value in raw.items():
        if not isinstance(value, list) or len(value) != 3:
            raise ValueError(f"{where}.{name}: must be [pinball, coverage, n], got {shown(value)}")
        out[name] = Score(finite(f"{where}.{name}[0]", value[0], lo=0, hi=MAX_DEMAND),
                          finite(f"{where}.{name}[1]", value[1], lo=0, hi=1),
                          whole(f"{where}.{name}[2]", value[2], lo=0, hi=MAX_COUNT))
    return out


def _pending(where: str, raw: Any) -> tuple[Pending, ...]:
    """``[[step, {forecaster: upper ≥ 0}], …]``, at most :data:`MAX_PENDING`."""
    if not isinstance(raw, list) or len(raw) > MAX_PENDING:
        raise ValueError(f"{where}: must be a list of at most {MAX_PENDING} [step, forecasts], got {shown(raw)}")
    out = []
    for i, item in enumerate(raw):
        if not isinstance(item, list) or len(item) != 2 or not isinstance(item[1], Mapping) \
                or not set(item[1]) <= set(FORECASTERS):
            raise ValueError(f"{where}[{i}]: must be [step, {{forecaster: upper}}], got {shown(item)}")
        upper = {n: finite(f"{where}[{i}].{n}", v, lo=0, hi=MAX_DEMAND) for n, v in item[1].items()}
        out.append(Pending(whole(f"{where}[{i}][0]", item[0], lo=0, hi=MAX_STEP), upper))
    return tuple(out)
