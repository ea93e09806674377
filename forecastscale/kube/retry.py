"""The bounded retry of a read-then-write against the API server: 409 at once, 429 after ``Retry-After``.

Writes carry the ``resourceVersion`` they were based on, so the API server refuses (409) rather than
silently overwrite a change made in between; the caller's round re-reads and decides again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from forecastscale.kube.errors import Conflict, TooManyRequests

T = TypeVar("T")
Sleep = Callable[[float], None]


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds of :func:`with_retries`.

    ``attempts``: rounds in total (>= 1); a 409 or a 429 costs one round.
    ``default_retry_after_s``: seconds to wait after a 429 that carries no usable ``Retry-After``.
    ``max_retry_after_s``: cap on any single wait, so a misbehaving server cannot stall a tick.
    """

    attempts: int = 3
    default_retry_after_s: float = 1.0
    max_retry_after_s: float = 30.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts must be >= 1, got {self.attempts}")
        if not 0 <= self.default_retry_after_s <= self.max_retry_after_s:
            raise ValueError("need 0 <= default_retry_after_s <= max_retry_after_s")

    def wait_s(self, retry_after_s: float | None) -> float:
        """Seconds to sleep after a 429 whose ``Retry-After`` was ``retry_after_s``."""
        wait = self.default_retry_after_s if retry_after_s is None else retry_after_s
        return min(wait, self.max_retry_after_s)


def with_retries(round_: Callable[[int], T], *, policy: RetryPolicy, sleep: Sleep) -> T:
    """``round_(n)`` for n = 1, 2, … until one returns, at most ``policy.attempts`` rounds.

    A :class:`Conflict` (409) starts the next round at once (the conflict itself says a newer version
    is there to read); a :class:`TooManyRequests` (429) first sleeps ``policy.wait_s(Retry-After)``
    seconds. Other errors propagate at once. When the rounds run out, the last 409/429 is raised with
    a note saying how many rounds were made.
    """
    last: Conflict | TooManyRequests | None = None
    for n in range(1, policy.attempts + 1):
        try:
            return round_(n)
        except Conflict as exc:
            last = exc
        except TooManyRequests as exc:
            last = exc
            if n < policy.attempts:  # no point sleeping before giving up
                sleep(policy.wait_s(exc.retry_after_s))
    assert last is not None  # the loop ran at least once and every exit path above returned or set it
    last.add_note(f"gave up after {policy.attempts} attempts")
    raise last
