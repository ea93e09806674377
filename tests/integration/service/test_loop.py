"""``forecastscale run`` as a process: APScheduler ticks, the HTTP endpoints, Lease, SIGTERM.

A Prometheus with data around *now* (backfilled up to an hour ahead), the API-server double
with a Deployment, and the real command line in a subprocess with one-second ticks. The data
follows the wall clock, as the process ticks on it; the assertions hold at any hour (a flat 40/s:
8 replicas whenever the test runs).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from forecastscale.devtools.prometheus import LocalPrometheus, Series, free_port, write_openmetrics
from tests.integration.conftest import METRIC, running
from tests.integration.kube.apiserver import ScaleApiDouble
from tests.integration.service.helpers import chat_target, service_config, write_config

WAIT_S = 60.0


@pytest.fixture
def live_prometheus(tmp_path: Path) -> Iterator[str]:
    """Prometheus holding 40/s for ``chat`` from two hours ago to an hour ahead, minute samples."""
    now = int(time.time()) // 60 * 60  # the wall clock: `forecastscale run` queries at its own now
    write_openmetrics(tmp_path / "h.om", METRIC, [Series({"target": "chat"}, now - 7200, 60, [40.0] * 181)])
    with running(LocalPrometheus(tmp_path, tmp_path / "h.om")) as server:  # 5-min look-back: any second finds a sample
        yield server.url


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def wait_for(check: str, probe: object) -> None:
    deadline = time.monotonic() + WAIT_S
    for _ in range(int(WAIT_S / 0.2)):  # bounded by count and time
        try:
            if probe():  # type: ignore[operator]
                return
        except (urllib.error.URLError, OSError):
            pass  # not listening yet
        if time.monotonic() > deadline:
            break
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {check}")


def test_the_loop_patches_serves_its_endpoints_and_releases_the_lease_on_sigterm(
        live_prometheus: str, kube: ScaleApiDouble, kubeconfig: Path, tmp_path: Path) -> None:
    kube.add("deployments", "default", "chat", replicas=1)
    election = {"enabled": True, "lease_duration_s": 3, "renew_deadline_s": 2, "retry_period_s": 1}
    data = service_config([chat_target(forecast={"window_s": 3600})], tick_s=1, policy="reactive",
                          leader_election=election, namespace="fs")
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "forecastscale", "run", "--config", str(write_config(tmp_path / "c.yaml", data)),
         "--prometheus", live_prometheus, "--kubeconfig", str(kubeconfig), "--port", str(port),
         "--identity", "pod-0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for("/healthz", lambda: get(f"{base}/healthz")[0] == 200)
        wait_for("/readyz 200", lambda: get(f"{base}/readyz")[0] == 200)
        # 40/s at 8 per replica and 70 %: 8 replicas (1 → 2 → 4 → 8 under the scale-up rate limit)
        wait_for("the Deployment at 8", lambda: kube.stored("deployments", "default", "chat")["spec"]["replicas"] == 8)
        status, metrics = get(f"{base}/metrics")
        assert status == 200
        assert 'forecastscale_desired_replicas{source="final",target="chat"} 8.0' in metrics
        assert "forecastscale_leader 1.0" in metrics and 'forecastscale_demand{target="chat"} 40.0' in metrics
        assert "forecastscale_tick_seconds_count" in metrics
        ready = json.loads(get(f"{base}/readyz")[1])
        assert ready == {"ready": True, "checks": {"config": True, "prometheus": True, "leadership": True,
                                                   "ticks": True, "decisions": True}}
        assert kube.stored("leases", "fs", "forecastscale")["spec"]["holderIdentity"] == "pod-0"
        assert "plan.json" in kube.stored("configmaps", "fs", "forecastscale-plan")["data"]
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            out, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    assert proc.returncode == 0, out[-3000:]
    assert not kube.stored("leases", "fs", "forecastscale")["spec"].get("holderIdentity")  # released
    decisions = [json.loads(line[line.index("{"):]) for line in out.splitlines() if "forecastscale.decisions" in line]
    assert decisions and {"target", "action", "reason", "candidates", "demand"} <= decisions[-1].keys()
