"""Ready replicas per workload from one grouped query: labels and values checked, bad series left out with why."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any, cast

import pytest

from forecastscale.sources.prometheus import PrometheusSource
from forecastscale.sources.ready import ready_replicas

AT = datetime(2026, 5, 28, tzinfo=UTC)
CHAT = {"kind": "Deployment", "namespace": "llm", "workload": "chat"}


class _Answer:
    """A source whose instant query answers ``series``."""

    def __init__(self, series: list[tuple[dict[str, str], float]]) -> None:
        self.series = series

    def instant_series(self, query: str, at: datetime) -> list[tuple[dict[str, str], float]]:
        return self.series


def _read(series: list[tuple[dict[str, str], float]]) -> tuple[dict[Any, int], list[str]]:
    return ready_replicas(cast(PrometheusSource, _Answer(series)), "q", AT)


@pytest.mark.parametrize(("series", "ready", "problem"), [
    ([(CHAT, 3.0)], 3, None),
    ([(CHAT, 3.7)], 3, None),  # pods are whole: a fraction (an average over exporters) rounds down
    ([(CHAT, 2.0), (CHAT, 4.0)], 4, None),  # two exporters: the most
    ([(CHAT, math.nan)], None, "ready replicas of Deployment/llm/chat"),
    ([(CHAT, -1.0)], None, "ready replicas of Deployment/llm/chat"),
    ([(CHAT, math.inf)], None, "ready replicas of Deployment/llm/chat"),
    ([(CHAT, 1e12)], None, "ready replicas of Deployment/llm/chat"),
    ([({"namespace": "llm", "workload": "chat"}, 3.0)], None, "ready replicas: a series without"),
    ([], None, None),
], ids=["count", "fraction", "duplicates", "nan", "negative", "inf", "huge", "no-kind", "none"])
def test_each_series_is_checked(series: list[tuple[dict[str, str], float]], ready: int | None,
                                problem: str | None) -> None:
    got, problems = _read(series)
    assert got.get(("Deployment", "llm", "chat")) == ready
    assert (problems[0].startswith(problem) if problem else problems == []), problems
