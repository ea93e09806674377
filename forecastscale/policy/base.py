"""The policy interface: one decision per tick from what is knowable at that tick."""

from __future__ import annotations

from typing import Protocol

from forecastscale.types import Decision, Observation


class Policy(Protocol):
    """``decide(obs)`` for successive ticks; any memory is explicit history kept inside.

    A policy reads nothing but the observation (and, for ``oracle`` only, the future it is
    built with): no clock, no I/O, so the backtest and the live loop call the same code.
    """

    name: str

    def decide(self, obs: Observation) -> Decision:
        """Replicas and nodes wanted now, with the reason."""
        ...
