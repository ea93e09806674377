"""The HPA replica calculator against hand-worked cases (capacity 1/s, target 50 %)."""

from __future__ import annotations

import pytest

from forecastscale.policy.hpa import HpaInput, recommend


def _inp(current: int, ready: int, unready: int, demand: float) -> HpaInput:
    return HpaInput(current, ready, unready, demand, capacity_per_replica=1.0,
                    target_utilisation=0.5, tolerance=0.1)


@pytest.mark.parametrize(("current", "ready", "unready", "demand", "expected"), [
    # ratio = demand / (ready × 1.0 × 0.5)
    (4, 4, 0, 2.1, 4),    # ratio 1.05: within tolerance, keep
    (4, 4, 0, 1.85, 4),   # ratio 0.925: within tolerance, keep
    (4, 4, 0, 3.0, 6),    # ratio 1.5: ceil(1.5 × 4) = 6
    (4, 4, 0, 2.3, 5),    # ratio 1.15: ceil(4.6) = 5
    (4, 4, 0, 1.0, 2),    # ratio 0.5: ceil(2) = 2
    (4, 4, 0, 0.0, 0),    # no demand: 0 (bounds raise it later)
    (6, 4, 2, 3.0, 6),    # scale-up, unready at 0 %: 3 / (6 × 0.5) = 1.0 → keep
    (6, 4, 2, 5.0, 10),   # scale-up, unready at 0 %: ratio 5/3 → ceil(5/3 × 6) = 10
    (6, 4, 2, 1.0, 2),    # scale-down ignores unready pods: ceil(0.5 × 4) = 2
    (3, 0, 3, 3.0, 6),    # nothing ready yet but demand: ceil(3 / 0.5) = 6
    (3, 0, 3, 0.0, 3),    # nothing ready, no demand: keep
], ids=["tolerance-up", "tolerance-down", "up", "up-partial", "down", "zero-demand",
        "unready-cover", "unready-short", "down-unready", "no-ready-demand", "no-ready-idle"])
def test_replica_calculator(current: int, ready: int, unready: int, demand: float, expected: int) -> None:
    replicas, message = recommend(_inp(current, ready, unready, demand))
    assert replicas == expected
    assert message


def test_integer_ratio_does_not_round_up_on_float_noise() -> None:
    # 0.7 × 3 is 2.0999999999999996 in floating point; 2.1 / 0.7 must still be 3 replicas.
    replicas, _ = recommend(HpaInput(1, 1, 0, 2.1, 1.0, 0.7, 0.1))
    assert replicas == 3
