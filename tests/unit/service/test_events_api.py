"""``/v1/events`` through werkzeug's test client: auth, validation, create/list/delete, token rotation."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client, TestResponse

from forecastscale.policy.event_book import EventBook
from forecastscale.service.events_api import EventStore, NotPersisted, TokenFile, make_events_app

NOW = 1773057600.0  # 2026-03-09T12:00:00Z
TOKEN = "s3cret-token"
BODY: dict[str, Any] = {"target": "llm", "start": "2026-03-09T13:00:00Z", "duration_s": 3600, "min_replicas": 10,
                        "reason": "launch"}


class Durable:
    """Stands for the plan ConfigMap in these HTTP-surface tests: what was stored, and a switch to fail."""

    def __init__(self) -> None:
        self.saved: list[EventBook] = []
        self.failing = False

    def __call__(self, book: EventBook) -> None:
        if self.failing:
            raise NotPersisted("not stored: ConfigMap default/forecastscale-plan: HTTP 409 Conflict")
        self.saved.append(book)


class Api:
    def __init__(self, tmp_path: Path) -> None:
        self.token_path = tmp_path / "token"
        self.token_path.write_text(TOKEN + "\n")
        self.durable = Durable()
        self.store = EventStore(self.durable)
        self.now = NOW
        self.client = Client(make_events_app(self.store, TokenFile(self.token_path), lambda: self.now,
                                             {"llm", "embed"}, max_body=1024))

    def post(self, body: Any = None, token: str | None = TOKEN, **kw: Any) -> TestResponse:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        return self.client.post("/v1/events", json=BODY if body is None else body, headers=headers, **kw)

    def get(self, query: str = "", token: str = TOKEN) -> TestResponse:
        return self.client.get(f"/v1/events{query}", headers={"Authorization": f"Bearer {token}"})

    def delete(self, event_id: str, token: str = TOKEN) -> TestResponse:
        return self.client.delete(f"/v1/events/{event_id}", headers={"Authorization": f"Bearer {token}"})

    def listed(self, query: str = "") -> list[str]:
        body = self.get(query).json
        assert body is not None
        return [e["id"] for e in body["events"]]


@pytest.fixture
def api(tmp_path: Path) -> Api:
    return Api(tmp_path)


def test_create_answers_201_with_the_stored_event(api: Api) -> None:
    response = api.post()
    assert response.status_code == 201
    event = response.json
    assert event is not None
    assert event["target"] == "llm" and event["min_replicas"] == 10 and event["multiplier"] is None
    assert (event["start"], event["end"], event["duration_s"]) == ("2026-03-09T13:00:00Z", "2026-03-09T14:00:00Z",
                                                                   3600)
    assert response.headers["Location"] == f"/v1/events/{event['id']}"
    assert event["id"] in api.store.book and api.store.version == 1


def test_start_omitted_means_now(api: Api) -> None:
    event = api.post({**BODY, "start": None}).json
    assert event is not None and event["start_s"] == NOW and event["end_s"] == NOW + 3600


def test_resending_the_same_announcement_is_idempotent(api: Api) -> None:
    first, second = api.post(), api.post()
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json == second.json and len(api.store.book) == 1 and api.store.version == 1


@pytest.mark.parametrize(("headers", "challenge"), [
    ({}, 'Bearer realm="forecastscale"'),
    ({"Authorization": "Basic dXNlcjpwYXNz"}, 'Bearer realm="forecastscale"'),
    ({"Authorization": "Bearer "}, 'Bearer realm="forecastscale"'),
    ({"Authorization": "Bearer wrong"}, 'Bearer realm="forecastscale", error="invalid_token"'),
    ({"Authorization": f"Bearer {TOKEN}x"}, 'Bearer realm="forecastscale", error="invalid_token"'),
], ids=["missing", "basic", "empty-bearer", "wrong", "longer"])
def test_missing_or_bad_token_is_401_and_nothing_is_stored(api: Api, headers: dict[str, str],
                                                           challenge: str) -> None:
    for response in (api.client.post("/v1/events", json=BODY, headers=headers),
                     api.client.get("/v1/events", headers=headers),
                     api.client.delete("/v1/events/x", headers=headers)):
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == challenge
    assert len(api.store.book) == 0


def test_bearer_scheme_is_case_insensitive(api: Api) -> None:
    response = api.client.post("/v1/events", json=BODY, headers={"Authorization": f"bearer {TOKEN}"})
    assert response.status_code == 201


@pytest.mark.parametrize(("body", "problem"), [
    ({**BODY, "duration_s": -5}, "duration_s: must be > 0, got -5"),
    ({**BODY, "multiplier": 1.5}, "set exactly one of min_replicas or multiplier, got both (10 and 1.5)"),
    ({k: v for k, v in BODY.items() if k != "min_replicas"},
     "set exactly one of min_replicas or multiplier, got neither"),
    ({**BODY, "target": "nope"}, "target: unknown target (have embed, llm), got 'nope'"),
    ({**BODY, "start": "2026-03-09T13:00:00"}, "start: needs a zone offset (Z or +hh:mm), e.g. "
                                               "2026-03-09T09:00:00-04:00 or 2026-03-09T13:00:00Z, "
                                               "got '2026-03-09T13:00:00'"),
    ({**BODY, "start": "2026-03-09T10:00:00Z"}, "start: the event ended at 2026-03-09T11:00:00Z, before now "
                                                "(2026-03-09T12:00:00Z), got '2026-03-09T10:00:00+00:00'"),
    ({**BODY, "min_replicas": "ten"}, "min_replicas: must be a whole number, got 'ten'"),
    ({**BODY, "id": "mine"}, "id: unknown field, got 'mine'"),
    ({k: v for k, v in BODY.items() if k != "reason"}, "reason: required field missing"),
    ([BODY], "body: must be a JSON object, got list"),
], ids=["negative-duration", "both-floors", "no-floor", "unknown-target", "naive-start", "already-over",
        "text-replicas", "extra-field", "no-reason", "array"])
def test_bad_body_is_400_naming_field_and_value(api: Api, body: Any, problem: str) -> None:
    response = api.post(body)
    assert response.status_code == 400
    assert response.json == {"error": "invalid event", "problems": [problem]}
    assert len(api.store.book) == 0 and api.store.version == 0


@pytest.mark.parametrize("raw", [b"{", b"", b'{"duration_s": NaN}', b"\xff\xfe", b"[" * 400 + b"]" * 400,
                                 b'{"duration_s": 1' + b"0" * 400 + b"}"],
                         ids=["truncated", "empty", "nan", "not-utf8", "deep", "401-digits"])
def test_unparsable_body_is_400(api: Api, raw: bytes) -> None:
    response = api.client.post("/v1/events", data=raw, content_type="application/json",
                               headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 400
    assert response.json is not None and response.json["problems"][0].startswith("body: ")


def test_oversized_body_is_413(api: Api) -> None:
    response = api.post({**BODY, "reason": "x" * 2000})
    assert response.status_code == 413 and len(api.store.book) == 0


def test_list_filters_by_target_and_hides_events_that_are_over(api: Api) -> None:
    a = api.post().json
    b = api.post({**BODY, "target": "embed", "multiplier": 2, "min_replicas": None}).json
    c = api.post({**BODY, "start": None, "duration_s": 60, "reason": "short"}).json
    assert a and b and c
    assert api.listed() == [c["id"], a["id"], b["id"]]  # by start, then id
    assert api.listed("?target=embed") == [b["id"]]
    api.now = NOW + 120  # c is over
    assert api.listed() == [a["id"], b["id"]]
    unknown = api.get("?target=nope")
    assert unknown.status_code == 400 and unknown.json is not None and "got 'nope'" in unknown.json["problems"][0]


def test_every_acknowledged_change_was_stored_first(api: Api) -> None:
    event = api.post().json
    assert event is not None and event["id"] in api.durable.saved[-1]
    assert api.delete(event["id"]).status_code == 204
    assert event["id"] not in api.durable.saved[-1] and [t.id for t in api.durable.saved[-1].deleted] == [event["id"]]


def test_a_change_that_cannot_be_stored_is_503_and_not_made(api: Api) -> None:
    kept = api.post().json
    assert kept is not None
    api.durable.failing = True
    refused = api.post({**BODY, "reason": "second"})
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "1"
    assert refused.json is not None and "nothing was changed" in refused.json["error"]
    assert api.delete(kept["id"]).status_code == 503
    assert api.listed() == [kept["id"]] and api.store.version == 1  # neither change was made in memory
    api.durable.failing = False
    assert api.post({**BODY, "reason": "second"}).status_code == 201  # the client's retry succeeds


def test_delete_removes_and_unknown_is_404(api: Api) -> None:
    event = api.post().json
    assert event is not None
    response = api.delete(event["id"])
    assert response.status_code == 204 and response.data == b""
    assert len(api.store.book) == 0 and api.store.version == 2
    again = api.delete(event["id"])
    assert again.status_code == 404 and again.json is not None and event["id"] in again.json["error"]
    assert api.delete("nope").status_code == 404


def test_creating_expires_events_that_are_over(api: Api) -> None:
    api.post({**BODY, "start": None, "duration_s": 60})
    api.now = NOW + 61
    api.post()
    assert len(api.store.book) == 1


def test_a_full_book_is_409(tmp_path: Path) -> None:
    (tmp_path / "t").write_text(TOKEN)
    store = EventStore(Durable(), max_events=1)
    client = Client(make_events_app(store, TokenFile(tmp_path / "t"), lambda: NOW, lambda: {"llm"}))
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert client.post("/v1/events", json=BODY, headers=auth).status_code == 201
    assert client.post("/v1/events", json={**BODY, "reason": "b"}, headers=auth).status_code == 409


@pytest.mark.parametrize(("method", "path", "code"), [
    ("PUT", "/v1/events", 405), ("GET", "/v1/events/abc", 405), ("POST", "/v1/events/abc", 405),
    ("GET", "/v1/events/a/b", 404), ("GET", "/v1/other", 404),
], ids=["put-collection", "get-one", "post-one", "nested", "elsewhere"])
def test_wrong_method_or_path(api: Api, method: str, path: str, code: int) -> None:
    response = api.client.open(path, method=method, headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == code


def rotate_by_symlink_swap(path: Path, token: str) -> None:
    """As the kubelet updates a mounted Secret: write a new file, then atomically swap it in."""
    fresh = path.with_name("token.new")
    fresh.write_text(token)
    os.replace(fresh, path)


def rotate_in_place(path: Path, token: str) -> None:
    path.write_text(token)


@pytest.mark.parametrize("rotate", [rotate_by_symlink_swap, rotate_in_place], ids=["swap", "in-place"])
def test_token_file_rotation_takes_effect_without_restart(api: Api, rotate: Callable[[Path, str], None]) -> None:
    assert api.get().status_code == 200
    rotate(api.token_path, "rotated-token-with-another-length\n")
    assert api.get().status_code == 401
    assert api.get(token="rotated-token-with-another-length").status_code == 200


@pytest.mark.parametrize("breakage", ["missing", "empty", "whitespace", "directory"])
def test_unreadable_or_empty_token_is_503_and_nothing_is_accepted(api: Api, breakage: str) -> None:
    api.token_path.unlink()
    if breakage == "empty":
        api.token_path.write_text("")
    elif breakage == "whitespace":
        api.token_path.write_text(" \n")
    elif breakage == "directory":
        api.token_path.mkdir()
    for response in (api.post(), api.post(token=None), api.get(), api.delete("x")):
        assert response.status_code == 503
    assert len(api.store.book) == 0


def test_store_replace_and_expire() -> None:
    store = EventStore(Durable())
    assert (store.version, store.book) == (0, EventBook())
    assert store.expire(NOW) == 0 and store.version == 0  # nothing changed: no new version
    store.replace(EventBook.from_json(EventBook().to_json()))
    assert store.version == 1
