"""Share-ratio arbitration: hand-worked splits, and invariants over a seeded random table."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from forecastscale.policy.arbitration import Claim, arbitrate


def _claim(target: str, wanted: int, minimum: int, share: float = 1.0, gpp: int = 1) -> Claim:
    return Claim(target, wanted, minimum, share, gpp)


@pytest.mark.parametrize(("claims", "capacity", "granted"), [
    # remainder 16 split 32:8 (share × unmet: 2×16, 1×8) = 12.8 : 3.2 → 12 + 3, the leftover GPU to a (0.8 > 0.2)
    ([_claim("a", 20, 4, 2.0), _claim("b", 12, 4, 1.0)], 24, {"a": 17, "b": 7}),
    # a saturates at level 1/4 (6 unmet GPUs for 10.5 of the 16); b takes the remaining 10
    ([_claim("a", 8, 2, 4.0), _claim("b", 20, 2, 1.0)], 20, {"a": 8, "b": 12}),
    # whole pods: 6.67 : 3.33 GPUs → 1 pod of 4 + 1 pod of 2, the 4 left go to a (lost 2.67 GPUs to rounding)
    ([_claim("a", 16, 0, 1.0, 4), _claim("b", 8, 0, 1.0, 2)], 10, {"a": 8, "b": 2}),
    # capacity covers everyone: all in full
    ([_claim("a", 8, 2), _claim("b", 4, 4, 0.1)], 100, {"a": 8, "b": 4}),
    # equal claims, an odd GPU: tie broken by name
    ([_claim("b", 4, 0), _claim("a", 4, 0)], 3, {"b": 1, "a": 2}),
    # a minimum above what is wanted grants only what is wanted
    ([_claim("a", 2, 6), _claim("b", 10, 0)], 8, {"a": 2, "b": 6}),
], ids=["proportional", "saturation", "whole-pods", "no-contention", "tie-by-name", "min-above-wanted"])
def test_hand_worked_splits(claims: list[Claim], capacity: int, granted: dict[str, int]) -> None:
    out = arbitrate(claims, capacity)
    assert out.granted == granted and out.minima_held
    assert out.capped_by == {c.target: c.wanted_gpus - granted[c.target] for c in claims}


def test_minima_above_capacity_are_scaled_by_share_and_said_so() -> None:
    out = arbitrate([_claim("a", 8, 4, 1.0), _claim("b", 4, 4, 3.0)], 4)
    assert out.granted == {"a": 1, "b": 3} and not out.minima_held
    assert out.below_min == {"a": 3, "b": 1}
    assert "minima exceed capacity" in out.message() and "a 3 GPUs below its minimum" in out.message()
    # b's minimum (2) is below its 3/4 part of 8: b keeps its minimum, a gets the rest.
    assert arbitrate([_claim("a", 8, 8, 1.0), _claim("b", 2, 2, 3.0)], 8).granted == {"a": 6, "b": 2}


def test_message_names_who_was_capped_and_by_how_much() -> None:
    message = arbitrate([_claim("a", 20, 4, 2.0), _claim("b", 12, 4, 1.0)], 24).message()
    assert message == "24 of 24 GPUs granted; a capped by 3 (granted 17), b capped by 5 (granted 7)"
    assert arbitrate([_claim("a", 2, 0)], 8).message().endswith("every claim granted in full")


def _random_case(rng: random.Random) -> tuple[list[Claim], int]:
    claims = []
    for i in range(rng.randint(1, 6)):
        gpp = rng.choice((1, 1, 2, 4, 8))
        wanted = rng.randint(0, 12)
        claims.append(Claim(f"t{i}", wanted * gpp, rng.randint(0, 4) * gpp, rng.choice((0.25, 1.0, 1.5, 3.0)), gpp))
    return claims, rng.randint(0, 80)


CASES = [_random_case(random.Random(seed)) for seed in range(200)]


@pytest.mark.parametrize(("claims", "capacity"), CASES, ids=[f"seed{i}" for i in range(len(CASES))])
def test_invariants(claims: list[Claim], capacity: int) -> None:
    out = arbitrate(claims, capacity)
    used = sum(out.granted.values())
    assert used <= capacity
    for c in claims:
        got = out.granted[c.target]
        assert 0 <= got <= c.wanted_gpus and got % c.gpus_per_pod == 0  # never above wanted, whole pods
        if out.minima_held:
            assert got >= min(c.min_gpus, c.wanted_gpus)  # minima held
        # work-conserving: no GPU left idle that a pod of unmet demand could use
        assert got == c.wanted_gpus or capacity - used < c.gpus_per_pod
    assert out.minima_held == (sum(min(c.min_gpus, c.wanted_gpus) for c in claims) <= capacity)
    shuffled = claims[:]
    random.Random(capacity).shuffle(shuffled)
    assert arbitrate(shuffled, capacity).granted == out.granted  # order of claims does not matter


@pytest.mark.parametrize(("claim", "capacity"), [
    (lambda: [_claim("a", 3, 0, 1.0, 2)], 4),
    (lambda: [_claim("a", 4, 0, 0.0)], 4),
    (lambda: [_claim("a", 4, 0), _claim("a", 2, 0)], 4),
    (lambda: [_claim("a", 4, 0)], -1),
], ids=["partial-pod", "zero-share", "duplicate", "negative-capacity"])
def test_rejects_bad_input(claim: Callable[[], list[Claim]], capacity: int) -> None:
    with pytest.raises(ValueError):
        arbitrate(claim(), capacity)
