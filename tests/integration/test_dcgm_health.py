"""Unhealthy GPUs from DCGM XID error counters, read from a real Prometheus backfilled by promtool."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from forecastscale.devtools.prometheus import LocalPrometheus, Series, write_openmetrics
from forecastscale.sources.dcgm import unhealthy_gpus
from forecastscale.sources.prometheus import PrometheusSource
from tests.integration.conftest import HISTORY_END, running

STEP_S = 60
XID_QUERY = "DCGM_FI_DEV_XID_ERRORS > 0"  # the query the config docs suggest (service.queries.gpu_health)
STEPS = 30


@pytest.fixture(scope="module")
def dcgm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, float]]:
    """Prometheus holding ``DCGM_FI_DEV_XID_ERRORS`` as the DCGM exporter labels it; yields (url, last sample s)."""
    root: Path = tmp_path_factory.mktemp("dcgm")
    end_s = int(HISTORY_END.timestamp()) // STEP_S * STEP_S  # pinned, as all backfilled history
    start_s = end_s - (STEPS - 1) * STEP_S
    zeros = [0.0] * STEPS
    series = [Series({"Hostname": "gpu-node-1", "gpu": str(g)}, start_s, STEP_S, zeros) for g in range(8)]
    series += [Series({"Hostname": "gpu-node-2", "gpu": str(g)}, start_s, STEP_S, zeros) for g in (0, 1, 2, 4)]
    series += [Series({"Hostname": "gpu-node-2", "gpu": str(g)}, start_s, STEP_S, [0.0] * 20 + [79.0] * 10)
               for g in (3, 5)]  # XID 79 (GPU fell off the bus) on two GPUs, the last ten minutes
    series += [Series({"node": "gpu-node-3", "gpu": "0"}, start_s, STEP_S, [48.0] * STEPS)]  # relabelled exporter
    write_openmetrics(root / "dcgm.om", "DCGM_FI_DEV_XID_ERRORS", series, "Last XID error code.")
    with running(LocalPrometheus(root, root / "dcgm.om", lookback_delta="2m")) as server:
        yield server.url, float(end_s)


def test_gpus_with_xid_errors_are_named_per_node(dcgm: tuple[str, float]) -> None:
    url, end_s = dcgm
    got = unhealthy_gpus(PrometheusSource(url), XID_QUERY, end_s)
    assert got == {"gpu-node-2": frozenset({3, 5}), "gpu-node-3": frozenset({0})}


def test_before_the_errors_only_the_always_failing_gpu_is_named(dcgm: tuple[str, float]) -> None:
    url, end_s = dcgm
    got = unhealthy_gpus(PrometheusSource(url), XID_QUERY, end_s - 15 * STEP_S)
    assert got == {"gpu-node-3": frozenset({0})}
