"""Pluggable input surfaces for ``benchmarks/fuzz_campaign.py``: one module per surface, each exposing ``SURFACE``.

A surface is a :class:`Surface`: ``seeds()`` returns real inputs (cheap; called once per campaign),
``mutate(rng, seed)`` returns one hostile case derived from a seed (picklable: it is sent to a forked
worker), and ``run(case)`` feeds the case to the product and returns a :class:`Verdict` — ``clean``
for the surface's typed error, ``ok`` for an accepted input that satisfies the invariants
(:mod:`benchmarks.fuzz.invariants`), ``wrong`` for an accepted one that does not. ``run`` lets every
other exception out: the campaign counts it as "uncaught exception".
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["ok", "clean", "wrong"]


@dataclass(frozen=True)
class Verdict:
    """What one case did: ``kind`` and a short ``detail`` (the error or the violated invariant)."""

    kind: Kind
    detail: str = ""


@dataclass(frozen=True)
class Surface:
    """One input surface of the product under the campaign."""

    name: str
    seeds: Callable[[], list[Any]]
    mutate: Callable[[random.Random, Any], Any]
    run: Callable[[Any], Verdict]


def verdict(problems: list[str]) -> Verdict:
    """``ok`` if an accepted input broke no invariant, else ``wrong`` naming the first problems."""
    return Verdict("wrong", "; ".join(problems[:3])) if problems else Verdict("ok")
