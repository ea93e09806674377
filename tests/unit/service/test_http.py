"""The WSGI app behind /metrics /healthz /readyz, called as a WSGI server would."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from forecastscale.service.http import make_app
from forecastscale.service.metrics import ServiceMetrics


def call(path: str, checks: Mapping[str, bool]) -> tuple[str, bytes]:
    registry = CollectorRegistry()
    metrics = ServiceMetrics(registry)
    metrics.leader.set(1)
    status: list[str] = []

    def start_response(s: str, headers: list[tuple[str, str]], *_: Any) -> None:
        status.append(s)

    body = b"".join(make_app(registry, lambda: checks)({"PATH_INFO": path, "REQUEST_METHOD": "GET",
                                                        "QUERY_STRING": ""}, start_response))
    return status[0], body


@pytest.mark.parametrize(("checks", "code"), [
    ({"config": True, "prometheus": True, "leadership": True}, "200"),
    ({"config": True, "prometheus": False, "leadership": True}, "503"),
], ids=["ready", "prometheus-down"])
def test_readyz_reflects_every_check(checks: Mapping[str, bool], code: str) -> None:
    status, body = call("/readyz", checks)
    assert status.startswith(code)
    assert json.loads(body)["checks"] == checks


def test_healthz_is_alive_even_when_not_ready() -> None:
    status, _ = call("/healthz", {"prometheus": False})
    assert status.startswith("200")


def test_metrics_serves_the_registry() -> None:
    status, body = call("/metrics", {})
    assert status.startswith("200") and b"forecastscale_leader 1.0" in body


def test_unknown_path_is_404_naming_the_paths() -> None:
    status, body = call("/nope", {})
    assert status.startswith("404") and b"/readyz" in body
