"""The SLO margin calibrated online: the share of misses converges to what the SLO allows, and again after a shift."""

from __future__ import annotations

import random

import numpy as np
import pytest

from forecastscale.config import SloSettings
from forecastscale.policy.calibration import Calibration, level, update

Z90 = 1.2815515655446004  # the band: median → q0.9 of a unit Gaussian


def _run(slo: SloSettings, shift_at: int, steps: int, seed: int = 7) -> tuple[list[float], list[float]]:
    """A forecast that believes N(0, 1) (median 0, band to q0.9); demand ~ N(0, 1), then N(3, 1) from ``shift_at``
    (a level shift the forecast never learns). Misses and margins per step."""
    rng, cal = random.Random(seed), Calibration()
    errs, margins = [], []
    for k in range(steps):
        demand = rng.gauss(3.0 if k >= shift_at else 0.0, 1.0)
        err = 1.0 if demand > cal.margin * Z90 else 0.0  # capacity = median + margin × band
        errs.append(err)
        cal = update(cal, err, slo, 60.0)
        margins.append(cal.margin)
    return errs, margins


@pytest.mark.parametrize("target", [1.0, 5.0, 20.0], ids=["1pct", "5pct", "20pct"])
def test_the_miss_share_converges_to_the_target_on_a_stationary_series(target: float) -> None:
    slo = SloSettings(metric="underprovisioned_pct", target=target, gain=0.05)
    errs, margins = _run(slo, shift_at=10**9, steps=40_000)
    share = float(np.mean(errs[10_000:]))
    assert share == pytest.approx(target / 100, rel=0.2)
    # and the margin settles where a Gaussian says it should: P(N(0,1) > m × z0.9) = α
    expected = -np.quantile(np.random.default_rng(0).standard_normal(400_000), target / 100) / Z90
    assert float(np.mean(margins[10_000:])) == pytest.approx(expected, abs=0.12)


def test_after_a_level_shift_the_margin_grows_and_the_miss_share_returns_to_the_target() -> None:
    slo = SloSettings(metric="underprovisioned_pct", target=5.0, gain=0.05)
    errs, margins = _run(slo, shift_at=20_000, steps=60_000)
    assert float(np.mean(errs[20_000:20_040])) > 0.5  # the shift: misses at first
    assert float(np.mean(errs[30_000:])) == pytest.approx(0.05, rel=0.2)  # re-converged
    assert float(np.mean(margins[30_000:])) > float(np.mean(margins[10_000:20_000])) + 2.0  # 3 σ more, in bands


def test_the_margin_is_bounded_and_the_measured_share_follows_the_window() -> None:
    slo = SloSettings(metric="underprovisioned_pct", target=1.0, gain=0.5, max_margin=2.0, window_s=600)
    cal = Calibration()
    for _ in range(100):
        cal = update(cal, 1.0, slo, 60.0)
    assert cal.margin == 2.0 and cal.measured == pytest.approx(1.0)
    for _ in range(30):  # 30 hits: the 10-minute average forgets the misses
        cal = update(cal, 0.0, slo, 60.0)
    assert cal.measured is not None and cal.measured < 0.05


@pytest.mark.parametrize(("margin", "expected"), [(1.0, 0.9), (0.0, 0.5), (-1.0, 0.1), (2.0, 0.9948)],
                         ids=["configured", "median", "below", "wider"])
def test_a_margin_reads_as_a_quantile_level(margin: float, expected: float) -> None:
    assert level(margin, 0.9) == pytest.approx(expected, abs=1e-4)
