"""Fixtures: a running :class:`~tests.integration.kube.apiserver.ScaleApiDouble` and a real ``kubernetes`` client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kubernetes import client

from tests.integration.kube.apiserver import ScaleApiDouble


@pytest.fixture
def kube() -> Iterator[ScaleApiDouble]:
    """A fresh API-server double on 127.0.0.1, stopped after the test."""
    double = ScaleApiDouble()
    double.start()
    try:
        yield double
    finally:
        double.stop()


@pytest.fixture
def api_client(kube: ScaleApiDouble) -> Iterator[client.ApiClient]:
    """The official client pointed at the double (no kubeconfig); closed after the test."""
    configuration = client.Configuration(host=kube.url)
    # No urllib3 retries: every request the client sends must show up once in the double's log.
    configuration.retries = False
    with client.ApiClient(configuration) as api:
        yield api


class FakeSleep:
    """Records the requested waits (seconds) instead of sleeping."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def sleep() -> FakeSleep:
    """A fresh :class:`FakeSleep` for an actuator's ``sleep`` (429 Retry-After waits)."""
    return FakeSleep()
