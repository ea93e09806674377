"""``predictive``: provision for the forecast demand over the lead time, reactive HPA as floor.

Replicas cover the upper-quantile forecast over ``[t, t + pod_startup_s]`` (pods requested
now are ready at the end of that span, and scale-down is immediate, so the count must hold
for the whole span). Nodes cover it over ``[t, t + node_startup_s + pod_startup_s]``.
The combination rule is ``max(reactive, forecast)`` and the winner is named in the reason.
"""

from __future__ import annotations

import math

import numpy as np

from forecastscale.config import ForecastSettings, NodePool, Target
from forecastscale.errors import NotEnoughHistory
from forecastscale.forecasters import Forecaster, make_forecaster
from forecastscale.policy import behavior, hpa
from forecastscale.policy.nodes import nodes_for
from forecastscale.policy.reactive import hpa_input
from forecastscale.types import Decision, FloatArray, Observation


class RollingForecast:
    """A forecaster refit on schedule over history averaged into buckets of the fit step.

    Bucket ``j`` is decision steps ``[j·b, (j+1)·b)``. A fit at history length ``i`` uses the
    complete buckets before ``i`` (at most ``window_s`` of them) and forecasts from bucket
    ``i // b`` on, far enough ahead to serve every decision until the next refit.
    """

    def __init__(self, settings: ForecastSettings, data_step_s: float, decision_step_s: float,
                 lookahead_s: float) -> None:
        fit_step = max(settings.step_s, data_step_s)
        self.b = max(1, round(fit_step / decision_step_s))
        self.dt = decision_step_s
        bucket_s = self.b * decision_step_s
        self.settings = settings
        self.forecaster: Forecaster = make_forecaster(
            settings.model, max(2, round(settings.season_s / bucket_s)), settings.damped_trend
        )
        self.window = max(1, round(settings.window_s / bucket_s))
        self.horizon = math.ceil((settings.refit_interval_s + lookahead_s) / bucket_s) + 2
        self._path: FloatArray | None = None
        self._fit_bucket = -1  # first forecast bucket of the current path
        self._fit_i = -1
        self.error: str | None = None

    def _due(self, i: int, last: int, interval_s: float) -> bool:
        return last < 0 or (i - last) * self.dt >= interval_s

    def _refit(self, history: FloatArray, i: int) -> None:
        end = i // self.b
        start = max(0, end - self.window)
        y = history[start * self.b: end * self.b].reshape(-1, self.b).mean(axis=1)
        try:
            self.forecaster.fit(y)
        except NotEnoughHistory as exc:
            self.error, self._path = str(exc), None
            return
        q = self.settings.quantile
        self._path = self.forecaster.predict(self.horizon, [q]).quantile(q)
        self._fit_bucket, self._fit_i, self.error = end, i, None

    def window_max(self, history: FloatArray, i: int, ahead_steps: int) -> float | None:
        """Highest forecast demand over decision steps ``[i, i + ahead_steps]``; None if unfit."""
        if self._path is None or self._due(i, self._fit_i, self.settings.refit_interval_s):
            self._refit(history, i)
        if self._path is None:
            return None
        lo = i // self.b - self._fit_bucket
        hi = min((i + ahead_steps) // self.b - self._fit_bucket, len(self._path) - 1)
        return float(np.max(self._path[lo: hi + 1]))


def replicas_for(demand: float, target: Target) -> int:
    """Replicas that serve ``demand`` at the target utilisation."""
    per_replica = target.capacity_per_replica * target.target_utilisation
    return max(0, math.ceil(demand / per_replica - 1e-9))


class PredictivePolicy:
    """Forecast need at an upper quantile, floored by the HPA, then behaviour and bounds."""

    name = "predictive"

    def __init__(self, target: Target, pool: NodePool, data_step_s: float, decision_step_s: float) -> None:
        self.target = target
        self.pool = pool
        self.pod_steps = math.ceil(target.pod_startup_s / decision_step_s)
        self.node_steps = math.ceil((pool.node_startup_s + target.pod_startup_s) / decision_step_s)
        self.forecast = RollingForecast(
            target.forecast, data_step_s, decision_step_s, pool.node_startup_s + target.pod_startup_s
        )
        self._behavior = behavior.BehaviorHistory()

    def decide(self, obs: Observation) -> Decision:
        """Replicas for the pod lead time and nodes for the node lead time."""
        t = self.target
        i = len(obs.demand_history)
        reactive, why = hpa.recommend(hpa_input(obs, t))
        pod_demand = self.forecast.window_max(obs.demand_history, i, self.pod_steps)
        if pod_demand is None:
            source, wanted, node_replicas = "reactive", reactive, reactive
            detail = f"forecast unavailable ({self.forecast.error}); reactive {reactive} ({why})"
        else:
            node_demand = self.forecast.window_max(obs.demand_history, i, self.node_steps) or 0.0
            forecast = replicas_for(pod_demand, t)
            source = "forecast" if forecast > reactive else "reactive"
            wanted = max(forecast, reactive)
            node_replicas = max(replicas_for(node_demand, t), wanted)
            q = t.forecast.quantile
            detail = (f"max(forecast {forecast} [q{q:g} demand {pod_demand:.3g} over "
                      f"{t.pod_startup_s:g} s], reactive {reactive}) = {wanted}")
        norm = behavior.normalize(
            wanted, obs.current_replicas, obs.t, self._behavior, t.behavior, t.min_replicas, t.max_replicas
        )
        self._behavior = norm.history
        nodes = max(nodes_for(norm.replicas, self.pool, t.gpus_per_pod),
                    nodes_for(node_replicas, self.pool, t.gpus_per_pod))
        return Decision(norm.replicas, nodes, norm.limit or source, f"{detail} → {norm.replicas}; nodes {nodes}")
