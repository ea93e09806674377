"""The events API as mounted on the service's port: only the leader takes changes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import pytest
from werkzeug.test import Client

from forecastscale.config import parse_config
from forecastscale.policy.event_book import EventBook
from forecastscale.service.core import Service
from forecastscale.service.events_api import EventStore
from forecastscale.service.wiring import events_mount


class Replica:
    """The three things ``events_mount`` reads of a service."""

    def __init__(self, leader: bool) -> None:
        self.saved: list[EventBook] = []  # stands for the plan ConfigMap
        self.leader, self.events, self.clock = leader, EventStore(self.saved.append), lambda: 1_800_000_000.0


CHAT = {"name": "chat", "workload": {"capacity_per_replica": 1}, "scaling": {"max_replicas": 9}}


def _client(tmp_path: Path, replica: Replica) -> Client:
    (tmp_path / "token").write_text("t0k3n", encoding="utf-8")
    config = parse_config({"targets": [CHAT],
                           "node_pools": [{"name": "p", "gpus_per_node": 8, "max_nodes": 2}],
                           "service": {"webhook_token_file": str(tmp_path / "token")}})
    (app,) = events_mount(config, cast(Service, replica)).values()
    return Client(app)


BODY: dict[str, Any] = {"target": "chat", "duration_s": 600, "min_replicas": 5, "reason": "launch"}
AUTH = {"Authorization": "Bearer t0k3n"}


def test_the_leader_books_an_event_and_a_standby_sends_the_client_on(tmp_path: Path) -> None:
    leader, standby = Replica(True), Replica(False)
    created = _client(tmp_path, leader).post("/v1/events", json=BODY, headers=AUTH)
    assert created.status_code == 201 and len(leader.events.book) == 1
    refused = _client(tmp_path, standby).post("/v1/events", json=BODY, headers=AUTH)
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "1"
    assert "not the leader" in json.loads(refused.data)["error"] and len(standby.events.book) == 0
    assert _client(tmp_path, standby).get("/v1/events", headers=AUTH).status_code == 200  # reads are fine


@pytest.mark.parametrize("method", ["post", "Post", "pOST"])
def test_a_standby_refuses_a_change_whatever_the_letter_case_of_the_method(tmp_path: Path, method: str) -> None:
    standby = Replica(False)
    refused = _client(tmp_path, standby).open("/v1/events", method=method, json=BODY, headers=AUTH)
    assert refused.status_code == 503 and len(standby.events.book) == 0 and standby.saved == []


def test_without_a_token_file_there_is_no_events_api(tmp_path: Path) -> None:
    config = parse_config({"targets": [CHAT],
                           "node_pools": [{"name": "p", "gpus_per_node": 8, "max_nodes": 2}]})
    assert events_mount(config, cast(Service, Replica(True))) == {}
