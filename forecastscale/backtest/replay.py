"""``forecastscale replay``: the backtest on each target's real demand history from Prometheus.

The span is ``[until − since, until)``, both ends on whole decision steps (``until`` rounded
down). The target's demand query is evaluated at ``start, start + step, …, until − step``; each
value holds for the step after it, as a CSV row does, so a CSV holding the same values at those
times replays to the same scores. The warm-up is the backtest's: ``backtest.warmup_s``, default
the first 2 days or 20 % of a shorter span; only the rest is scored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from forecastscale.backtest.runner import DEFAULT_WARMUP_S
from forecastscale.backtest.suite import Job
from forecastscale.config import Config, Target
from forecastscale.errors import ConfigError
from forecastscale.sources.prometheus import parse_duration


@dataclass(frozen=True)
class ReplaySpan:
    """History ``[start, end)`` in decision steps of ``step_s`` seconds (aware datetimes)."""

    start: datetime
    end: datetime
    step_s: float

    @property
    def last(self) -> datetime:
        """The last evaluation time (``end − step``): Prometheus' range end, inclusive."""
        return self.end - timedelta(seconds=self.step_s)

    @property
    def steps(self) -> int:
        """Decision steps in the span."""
        return round((self.end - self.start).total_seconds() / self.step_s)

    def label(self) -> str:
        """``START/END`` in ISO-8601 (UTC)."""
        return f"{self.start.isoformat()}/{self.end.isoformat()}"


def parse_until(text: str | None, now: datetime) -> datetime:
    """``--until``: ``now`` (or empty), a duration before ``now`` (``3h``) or an ISO-8601 time (no zone = UTC)."""
    if text is None or text.strip() in ("", "now"):
        return now
    try:
        return now - timedelta(seconds=parse_duration(text))
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError("--until", [f"expected 'now', a duration before now (e.g. 3h) or an ISO-8601 time, "
                                      f"got {text!r}"]) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def replay_span(since: str, until: datetime, step_s: float) -> ReplaySpan:
    """``since`` (a duration, e.g. ``7d``) of whole steps ending at ``until`` rounded down to a step."""
    try:
        seconds = parse_duration(since)
    except ValueError as exc:
        raise ConfigError("--since", [str(exc)]) from None
    steps = math.floor(seconds / step_s + 1e-9)
    if steps < 2:
        raise ConfigError("--since", [f"{since!r} is shorter than two decision steps ({step_s:g} s each)"])
    end_s = math.floor(until.timestamp() / step_s) * step_s
    end = datetime.fromtimestamp(end_s, tz=UTC)
    return ReplaySpan(end - timedelta(seconds=steps * step_s), end, step_s)


def scored_hours(config: Config, span: ReplaySpan) -> float:
    """Hours scored of ``span``: all of it but the warm-up (as :func:`runner.build_scenario` works it out)."""
    total = span.steps * span.step_s
    warmup = config.backtest.warmup_s
    if warmup is None:
        warmup = min(DEFAULT_WARMUP_S, 0.2 * total)
    return max(0.0, total - math.ceil(warmup / span.step_s) * span.step_s) / 3600.0


def replay_job(config_path: Path, config: Config, target: Target) -> Job:
    """The job a replayed target reports under (its "trace" is ``prometheus:TARGET``)."""
    return Job(config_path, config, target, Path(f"prometheus:{target.name}"))


def replay_json(url: str, span: ReplaySpan, query: str, run: str | None) -> dict[str, Any]:
    """What the JSON report adds to a replayed trace's entry: where the history came from."""
    return {"replay": {"prometheus": url, "query": query, "start": span.start.isoformat(),
                       "end": span.end.isoformat(), **({"run": run} if run else {})}}
