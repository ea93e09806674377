"""Lead times: how the live loop learns them (``targets[].workload.lead``) and how the backtest's simulator draws
them (``backtest.startup``).

``workload.pod_startup_s`` and ``node_pools[].node_startup_s`` are the priors. With ``lead.learn`` the policy
plans over the ``lead.quantile`` of the pod leads measured for the target (a scale-up's write → its ready count
reaching the new replicas) and of the node leads measured for its pool (a node request → the pool's Ready nodes
reaching it), once ``min_samples`` exist; at most ``ceiling`` × the prior (the forecast reaches that far).

``backtest.startup`` makes the simulator's start-up times vary: each pod's and node's drawn from a log-normal of
the given median (``p50``) and 90th percentile (``p90``), seeded, multiplied by a factor going linearly from 1 at
the trace's start to ``drift`` at its end. Unset: the constants, as before.
"""

from __future__ import annotations

import math

from pydantic import Field, model_validator

from forecastscale.config.base import _Model

Z90 = 1.2815515655446004  # the standard normal's 90th percentile: sigma = ln(p90 / p50) / Z90
MAX_LEAD_SAMPLES = 1000  # per target or pool: the rolling window's bound (also on a plan read back)


class LeadSettings(_Model):
    """Whether and how a target learns its pod and node lead times (seconds) from what it measures."""

    learn: bool = Field(default=False, description="plan over the measured lead times (quantile) instead of "
                        "workload.pod_startup_s and the pool's node_startup_s, which stay the prior")
    quantile: float = Field(default=0.9, gt=0, lt=1, description="the quantile of the measured leads planned over")
    min_samples: int = Field(default=5, ge=1, le=MAX_LEAD_SAMPLES, description="measurements before the prior "
                             "gives way")
    window: int = Field(default=50, ge=1, le=MAX_LEAD_SAMPLES, description="the most recent measurements kept")
    ceiling: float = Field(default=3.0, ge=1, le=20, description="a learned lead is at most this × the prior (the "
                           "forecast is fitted to reach that far)")

    @model_validator(mode="after")
    def _enough_kept(self) -> LeadSettings:
        if self.min_samples > self.window:
            raise ValueError(f"min_samples ({self.min_samples}) must be at most window ({self.window}): the prior "
                             "would never give way")
        return self


class Spread(_Model):
    """A log-normal start-up time given its median and 90th percentile (seconds)."""

    p50: float = Field(gt=0, le=86400, description="median start-up, seconds")
    p90: float = Field(gt=0, le=86400, description="90th percentile start-up, seconds (≥ p50)")

    @model_validator(mode="after")
    def _ordered(self) -> Spread:
        if self.p90 < self.p50:
            raise ValueError(f"p90 ({self.p90:g}) must be ≥ p50 ({self.p50:g})")
        return self

    @property
    def sigma(self) -> float:
        """The log-normal's shape: ``ln(p90 / p50) / z₀.₉``."""
        return math.log(self.p90 / self.p50) / Z90


class StartupDraws(_Model):
    """The simulator's start-up times drawn per pod and per node (unset side: its constant)."""

    pod: Spread | None = Field(default=None, description="every pod's start-up (bound → Ready)")
    node: Spread | None = Field(default=None, description="every node's start-up (requested → Ready)")
    drift: float = Field(default=1.0, gt=0, le=20, description="start-up times × this at the trace's end (linear "
                         "from 1 at its start)")
    seed: int = Field(default=0, ge=0, description="the draws' random seed (numpy default_rng)")
