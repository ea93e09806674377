"""Burst detection: when demand outruns the forecast, scale on what is observed ("panic mode").

A forecast's upper quantile is what the predictive policy provisions for; demand far above it means
the forecast is wrong right now (a launch, an outage elsewhere, a retry storm). Like Knative's panic
window, this switches a target to reactive scaling for a while, judged against the forecast rather
than against current capacity:

* A sample is in **excess** when its effective demand is above ``upper × factor``. Effective demand is
  the observed demand plus, when a queue length and ``queue_drain_s`` are given, ``queue / queue_drain_s``
  (the extra rate that drains the backlog in that time; the target's ``workload.max_wait_s`` is the natural choice).
* **Entering**: panic starts at the first sample that ends an unbroken run of excess samples lasting at
  least ``window_s`` (first to last excess sample; ``window_s = 0``: the first excess sample). A sample
  that is not in excess breaks the run. Continuity is judged on the samples given: two excess samples
  with none between them count as continuous, however far apart.
* **Staying**: panic lasts until a sample not in excess arrives at least ``hold_s`` after the last
  excess sample. A new excess sample during panic restarts the hold.
* **Need**: during panic, the highest effective demand seen since the excess run that started it began
  (like Knative, panic never scales down); the caller provisions ``max(predictive plan, need)``.
  ``None`` when calm.
* **Surprise**: effective demand / upper of the latest sample (``inf`` if upper is 0 and demand is not),
  exported even when burst detection is disabled.

Samples are consumed once: those at or before ``state.last_sample_s`` are skipped, so a caller may pass
an overlapping window of recent samples every tick. Samples with a non-finite demand or upper (no
forecast yet, a gap) are skipped. Pure: no clock, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from forecastscale.config.events import BurstSettings


@dataclass(frozen=True)
class Sample:
    """One observation at ``t_s``: ``demand`` (rate), the forecast's ``upper`` quantile for that
    time, and optionally ``queue`` (requests waiting)."""

    t_s: float
    demand: float
    upper: float
    queue: float | None = None


@dataclass(frozen=True)
class BurstState:
    """What :func:`burst` carries between calls; ``BurstState()`` to start calm."""

    last_sample_s: float | None = None   # latest sample consumed
    excess_since_s: float | None = None  # first sample of the current unbroken excess run
    last_excess_s: float | None = None   # latest excess sample
    panic_since_s: float | None = None   # when panic began; None when calm
    run_peak: float = 0.0                # highest effective demand in the current excess run
    peak_need: float = 0.0               # highest effective demand since the run that started panic

    @property
    def panic(self) -> bool:
        return self.panic_since_s is not None


@dataclass(frozen=True)
class BurstResult:
    """The new state, whether the target is in panic, the demand to provision for during panic
    (None when calm), the latest sample's surprise ratio (None without a usable sample) and a message."""

    state: BurstState
    panic: bool
    need: float | None
    surprise: float | None
    message: str


def effective_demand(sample: Sample, queue_drain_s: float | None = None) -> float:
    """Demand plus the rate that drains the queue within ``queue_drain_s`` (if both are given)."""
    extra = 0.0
    if sample.queue is not None and queue_drain_s is not None and queue_drain_s > 0 and math.isfinite(sample.queue):
        extra = max(sample.queue, 0.0) / queue_drain_s
    return sample.demand + extra


def surprise(observed: float, upper: float) -> float:
    """``observed / upper``; ``inf`` when upper <= 0 and observed > 0, 0 when both are 0."""
    if upper > 0:
        return observed / upper
    return math.inf if observed > 0 else 0.0


def burst(samples: Iterable[Sample], settings: BurstSettings, state: BurstState,
          queue_drain_s: float | None = None) -> BurstResult:
    """Advance ``state`` over the new ``samples`` (any order; those already consumed are skipped)."""
    fresh = sorted((s for s in samples if state.last_sample_s is None or s.t_s > state.last_sample_s),
                   key=lambda s: s.t_s)
    last_ratio: float | None = None
    last_sample_s = state.last_sample_s
    since, last_excess, panic_since = state.excess_since_s, state.last_excess_s, state.panic_since_s
    run_peak, peak = state.run_peak, state.peak_need
    entered: str | None = None
    for s in fresh:
        last_sample_s = s.t_s
        if not (math.isfinite(s.demand) and math.isfinite(s.upper)):
            continue
        observed = effective_demand(s, queue_drain_s)
        last_ratio = surprise(observed, s.upper)
        if not settings.enabled:
            continue
        if observed > s.upper * settings.factor:
            if since is None:
                since, run_peak = s.t_s, 0.0
            last_excess, run_peak = s.t_s, max(run_peak, observed)
            if panic_since is None and s.t_s - since >= settings.window_s:
                panic_since, peak = s.t_s, run_peak
                entered = (f"panic: demand {observed:.4g} > {settings.factor:g} × upper {s.upper:.4g} "
                           f"for {s.t_s - since:g} s (window {settings.window_s:g} s)")
        else:
            since, run_peak = None, 0.0
            if panic_since is not None and last_excess is not None and s.t_s - last_excess >= settings.hold_s:
                panic_since, peak = None, 0.0
        if panic_since is not None:
            peak = max(peak, observed)
    if not settings.enabled:
        new = BurstState(last_sample_s=last_sample_s)
        return BurstResult(new, False, None, last_ratio, "burst detection disabled")
    new = BurstState(last_sample_s, since, last_excess, panic_since, run_peak,
                     peak if panic_since is not None else 0.0)
    if panic_since is None:
        message = "calm" if last_ratio is None else f"calm: surprise {last_ratio:.3g} (panic above {settings.factor:g})"
        return BurstResult(new, False, None, last_ratio, message)
    message = entered or (f"panic since t={panic_since:g}: need {peak:.4g}, last excess t={last_excess:g}, "
                          f"hold {settings.hold_s:g} s")
    return BurstResult(new, True, peak, last_ratio, message)
