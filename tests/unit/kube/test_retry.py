"""with_retries: 409 retried at once, 429 after Retry-After (capped), others and the last failure propagate."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from forecastscale.kube.errors import Conflict, Forbidden, TooManyRequests
from forecastscale.kube.retry import RetryPolicy, with_retries

TARGET = "Deployment default/web"


def failing(*errors: Exception) -> tuple[list[int], Callable[[int], int]]:
    """A round that raises ``errors`` in turn, then returns its round number; and the rounds it saw."""
    seen: list[int] = []

    def round_(n: int) -> int:
        seen.append(n)
        if len(seen) <= len(errors):
            raise errors[len(seen) - 1]
        return n

    return seen, round_


def test_a_conflict_retries_at_once_and_a_429_waits_its_retry_after() -> None:
    slept: list[float] = []
    seen, round_ = failing(Conflict("409", target=TARGET, status=409),
                           TooManyRequests("429", target=TARGET, retry_after_s=7.0))
    assert with_retries(round_, policy=RetryPolicy(attempts=3), sleep=slept.append) == 3
    assert seen == [1, 2, 3] and slept == [7.0]


def test_the_last_failure_is_raised_with_a_note_and_no_sleep_before_giving_up() -> None:
    slept: list[float] = []
    _, round_ = failing(*(TooManyRequests("429", target=TARGET, retry_after_s=99.0) for _ in range(2)))
    with pytest.raises(TooManyRequests) as info:
        with_retries(round_, policy=RetryPolicy(attempts=2), sleep=slept.append)
    assert slept == [30.0]  # capped at max_retry_after_s, and only between the two rounds
    assert info.value.__notes__ == ["gave up after 2 attempts"]


def test_other_errors_propagate_at_once() -> None:
    seen, round_ = failing(Forbidden("403", target=TARGET, status=403))
    with pytest.raises(Forbidden):
        with_retries(round_, policy=RetryPolicy(), sleep=lambda _: None)
    assert seen == [1]
