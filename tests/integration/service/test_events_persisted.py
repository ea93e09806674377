"""Nothing acknowledged is lost: ``/v1/events`` answers 2xx only once the change is in the plan ConfigMap.

The real events WSGI app on a real service (real Prometheus; the official client against the API-server double),
with the double refusing or racing the plan writes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kubernetes import client
from werkzeug.test import Client

from forecastscale.config import parse_config
from forecastscale.service.core import Service
from forecastscale.service.wiring import events_mount
from tests.integration.conftest import PrometheusServer
from tests.integration.kube.apiserver import Fault, ScaleApiDouble
from tests.integration.service.helpers import chat_target, service_config
from tests.integration.service.test_faults import Clock, build, sample

TOKEN = "t0k3n"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
BODY: dict[str, Any] = {"target": "chat", "duration_s": 1800, "min_replicas": 4, "reason": "launch"}


def _service(prometheus: PrometheusServer, kube: ScaleApiDouble, api_client: client.ApiClient,
             tmp_path: Path) -> tuple[Service, Client]:
    kube.add("deployments", "default", "chat", replicas=2)
    (tmp_path / "token").write_text(TOKEN, encoding="utf-8")
    data = service_config([chat_target()], policy="reactive", webhook_token_file=str(tmp_path / "token"))
    service = build(data, prometheus.url, api_client, Clock(prometheus.end.timestamp() - 3600))
    service.tick()  # leads, reads the (empty) plan, saves it
    (app,) = events_mount(parse_config(data), service).values()
    return service, Client(app)


def _stored(kube: ScaleApiDouble) -> dict[str, Any]:
    return json.loads(kube.stored("configmaps", "default", "forecastscale-plan")["data"]["plan.json"])["events"]


def test_an_event_is_acknowledged_only_once_stored_and_a_refused_write_changes_nothing(
        prometheus: PrometheusServer, kube: ScaleApiDouble, api_client: client.ApiClient, tmp_path: Path) -> None:
    service, api = _service(prometheus, kube, api_client, tmp_path)
    try:
        kube.fail(Fault(503, method="PUT", resource="configmaps"))
        refused = api.post("/v1/events", json=BODY, headers=AUTH)
        assert refused.status_code == 503 and refused.headers["Retry-After"] == "1"
        assert len(service.events.book) == 0 and _stored(kube)["events"] == []  # neither in memory nor stored
        created = api.post("/v1/events", json=BODY, headers=AUTH)  # the client's retry
        assert created.status_code == 201
        assert [e["id"] for e in _stored(kube)["events"]] == [created.json["id"]]  # stored before the answer
        kube.fail(Fault(503, method="PUT", resource="configmaps"))
        assert api.delete(f"/v1/events/{created.json['id']}", headers=AUTH).status_code == 503
        assert created.json["id"] in service.events.book and len(_stored(kube)["events"]) == 1
        assert api.delete(f"/v1/events/{created.json['id']}", headers=AUTH).status_code == 204
        assert _stored(kube)["events"] == [] and [t["id"] for t in _stored(kube)["deleted"]] == [created.json["id"]]
        assert sample(service, "forecastscale_errors_total", kind="plan") == 2
    finally:
        service.close()


def test_a_plan_written_by_someone_else_stops_writes_until_it_is_read_and_merged(
        prometheus: PrometheusServer, kube: ScaleApiDouble, api_client: client.ApiClient, tmp_path: Path) -> None:
    """The version this leader read is its fencing token: after anyone else wrote, it refuses rather than
    overwrite, re-reads (merging what the other write holds) at its next tick, and then takes changes again."""
    service, api = _service(prometheus, kube, api_client, tmp_path)
    try:
        kube.interfere(times=1, resource="configmaps")  # another writer between our version and our write
        assert api.post("/v1/events", json=BODY, headers=AUTH).status_code == 503
        assert not service.keeper.restored and len(service.events.book) == 0
        assert kube.stored("configmaps", "default", "forecastscale-plan")["metadata"]["labels"]["touched"] == "yes"
        service.tick()  # re-reads the plan, then saves on the new version
        assert service.keeper.restored
        assert api.post("/v1/events", json=BODY, headers=AUTH).status_code == 201
        assert len(_stored(kube)["events"]) == 1
    finally:
        service.close()
