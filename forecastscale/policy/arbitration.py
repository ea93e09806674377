"""Share-ratio arbitration of a pool's GPUs when its ``max_nodes`` binds.

Each target claims GPUs (whole pods); capacity is granted in two steps:

1. Guaranteed minima (``min_gpus``, i.e. ``min_replicas × gpus_per_pod``) first.
2. The rest by weighted max-min fairness (water-filling): the remaining GPUs go to targets
   in proportion to ``share × unmet demand``, a target that is satisfied hands its surplus
   on to the others; never above ``wanted_gpus``.

If even the minima exceed capacity, the minima themselves are water-filled with weight
``share`` (each capped at its minimum): the capacity is split in proportion to share, a target
whose minimum is below its proportional part keeps its whole minimum and the surplus goes
on. ``Arbitration.minima_held`` is then False and the message says so. GPUs that rounding
leaves and no minimum's pod fits go to demand above the minima (step 2) rather than idle.

Grants are whole pods: the continuous fair allocation is rounded down, and the GPUs rounding
left over go one pod at a time to the targets that lost the most GPUs to rounding (largest
remainder, ties by target name), repeated while a pod still fits. The sum never exceeds
capacity. Exact arithmetic (fractions), so the result does not depend on float noise.
Units: GPUs. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True)
class Claim:
    """What one target asks of a pool: wanted and guaranteed GPUs (multiples of ``gpus_per_pod``), its share."""

    target: str
    wanted_gpus: int
    min_gpus: int
    share: float
    gpus_per_pod: int

    def __post_init__(self) -> None:
        if self.gpus_per_pod <= 0 or self.share <= 0 or self.wanted_gpus < 0 or self.min_gpus < 0:
            raise ValueError(f"claim {self.target}: need gpus_per_pod > 0, share > 0, wanted and min >= 0")
        if self.wanted_gpus % self.gpus_per_pod or self.min_gpus % self.gpus_per_pod:
            raise ValueError(f"claim {self.target}: wanted ({self.wanted_gpus}) and min ({self.min_gpus}) GPUs "
                             f"must be whole pods of {self.gpus_per_pod}")


@dataclass(frozen=True)
class Arbitration:
    """Per target: ``granted`` GPUs (whole pods), ``capped_by`` = wanted − granted,
    ``below_min`` = guaranteed − granted (non-zero only when the minima did not fit)."""

    capacity_gpus: int
    granted: dict[str, int]
    capped_by: dict[str, int]
    below_min: dict[str, int]
    minima_held: bool

    def message(self) -> str:
        """Who was capped and by how much, with the capacity; says so when even the minima did not fit."""
        used = sum(self.granted.values())
        head = f"{used} of {self.capacity_gpus} GPUs granted"
        if not self.minima_held:
            short = ", ".join(f"{t} {n} GPUs below its minimum" for t, n in self.below_min.items() if n)
            head += f"; guaranteed minima exceed capacity, scaled by share: {short}"
        capped = [f"{t} capped by {n} (granted {self.granted[t]})" for t, n in self.capped_by.items() if n]
        return f"{head}; " + (", ".join(capped) if capped else "every claim granted in full")


def _water_fill(demand: Sequence[Fraction], weight: Sequence[Fraction], capacity: Fraction) -> list[Fraction]:
    """Weighted max-min fair split of ``capacity``: each gets ``min(demand, level × weight)``, one common level."""
    alloc = [Fraction(0)] * len(demand)
    # A target saturates when the level reaches demand / weight; raise the level through those points in order.
    order = sorted((i for i in range(len(demand)) if demand[i] > 0), key=lambda i: demand[i] / weight[i])
    active_weight = sum((weight[i] for i in order), Fraction(0))
    level, left = Fraction(0), capacity
    for i in order:
        step = (demand[i] / weight[i] - level) * active_weight
        if step > left:
            level += left / active_weight
            break
        left -= step
        level = demand[i] / weight[i]
        active_weight -= weight[i]
    for i in order:
        alloc[i] = min(demand[i], level * weight[i])
    return alloc


def _whole_pods(alloc: Sequence[Fraction], cap_pods: Sequence[int], pod: Sequence[int], names: Sequence[str],
                capacity: int) -> list[int]:
    """Round a fair GPU split to pods: floors, then leftover pods by largest remainder (ties by name)."""
    pods = [min(int(a // g), c) for a, g, c in zip(alloc, pod, cap_pods, strict=True)]
    left = capacity - sum(p * g for p, g in zip(pods, pod, strict=True))
    order = sorted(range(len(alloc)), key=lambda i: (-(alloc[i] - pods[i] * pod[i]), names[i]))
    granted_one = True
    while granted_one:  # repeat passes: a GPU idle while a pod of someone's unmet demand fits is waste
        granted_one = False
        for i in order:
            if pods[i] < cap_pods[i] and pod[i] <= left:
                pods[i] += 1
                left -= pod[i]
                granted_one = True
    return pods


def arbitrate(claims: Sequence[Claim], capacity_gpus: int) -> Arbitration:
    """Split ``capacity_gpus`` among ``claims``: minima first, the rest by share × unmet demand, whole pods."""
    if capacity_gpus < 0:
        raise ValueError(f"capacity_gpus must be >= 0, got {capacity_gpus}")
    names = [c.target for c in claims]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate targets in claims: {sorted(names)}")
    pod = [c.gpus_per_pod for c in claims]
    want = [c.wanted_gpus // c.gpus_per_pod for c in claims]
    # A guarantee never forces more on a target than it asked for.
    floor = [min(c.min_gpus // c.gpus_per_pod, w) for c, w in zip(claims, want, strict=True)]
    share = [Fraction(c.share) for c in claims]
    minima = sum(f * g for f, g in zip(floor, pod, strict=True))
    pods = floor
    if minima > capacity_gpus:
        alloc = _water_fill([Fraction(f * g) for f, g in zip(floor, pod, strict=True)], share,
                            Fraction(capacity_gpus))
        pods = _whole_pods(alloc, floor, pod, names, capacity_gpus)
    # The rest by share × unmet demand. After scaled-down minima this is only what rounding left
    # that no minimum's pod fits: better another target's demand than idle.
    left = capacity_gpus - sum(p * g for p, g in zip(pods, pod, strict=True))
    unmet = [Fraction((w - p) * g) for w, p, g in zip(want, pods, pod, strict=True)]
    extra = _water_fill(unmet, [s * u for s, u in zip(share, unmet, strict=True)], Fraction(left))
    more = _whole_pods(extra, [w - p for w, p in zip(want, pods, strict=True)], pod, names, left)
    pods = [p + m for p, m in zip(pods, more, strict=True)]
    granted = {c.target: p * c.gpus_per_pod for c, p in zip(claims, pods, strict=True)}
    return Arbitration(
        capacity_gpus=capacity_gpus,
        granted=granted,
        capped_by={c.target: c.wanted_gpus - granted[c.target] for c in claims},
        below_min={c.target: max(0, f * g - granted[c.target]) for c, f, g in zip(claims, floor, pod, strict=True)},
        minima_held=minima <= capacity_gpus,
    )
