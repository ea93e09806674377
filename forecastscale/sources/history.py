"""A target's demand history for the offline commands (``tune``, ``train``, ``replay``): a
``timestamp,value`` CSV, or the target's demand query evaluated by a Prometheus at every decision step."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from forecastscale.config import Config, Target
from forecastscale.errors import ConfigError
from forecastscale.sources.csvtrace import Trace, load_trace
from forecastscale.sources.prometheus import PrometheusSource, parse_duration


def load_history(cfg: Config, target: Target, *, trace: Path | None, prometheus: str | None, since: str,
                 now_s: float, context: str) -> Trace:
    """``target``'s history: the CSV ``trace``, or the ``since`` (a duration, e.g. ``14d``) before ``now_s``
    (UNIX seconds) from the Prometheus at URL ``prometheus``; exactly one of the two. ``context`` names the
    caller (``tune``) in a :class:`ConfigError`."""
    if (trace is None) == (prometheus is None):
        raise ConfigError(context, ["give exactly one of --trace CSV or --prometheus URL"])
    if trace is not None:
        return load_trace(trace)
    assert prometheus is not None
    step = cfg.backtest.decision_interval_s
    # Evaluate on whole multiples of the step, as dashboards do: evaluation times then line up
    # with evenly scraped samples and repeat from run to run.
    end = datetime.fromtimestamp(now_s // step * step, tz=UTC)
    start = end - timedelta(seconds=parse_duration(since))
    return prometheus_history(cfg, target, prometheus, start, end, context)


def prometheus_history(cfg: Config, target: Target, prometheus: str, start: datetime, end: datetime,
                       context: str) -> Trace:
    """``target``'s demand query evaluated at ``start, start + step, …, ≤ end`` (the decision step) by the
    Prometheus at URL ``prometheus``; ``context`` names the caller in a :class:`ConfigError`."""
    query = cfg.query(target, "demand")
    if not query:
        raise ConfigError(context, [f"targets[{target.name}].queries.demand: required with --prometheus"])
    return PrometheusSource(prometheus).fetch(query, start, end, cfg.backtest.decision_interval_s)
