"""Surface ``events``: hostile requests to ``/v1/events`` (the real WSGI app, its event store and book).

Seeds: valid announcements (a floor or a multiplier, with and without a start). A case is one to three
requests: the body as a mutated tree (hostile values: 1e308 multipliers, year-9999 starts, NaN, huge or
deep JSON), raw text edits or bytes; methods in any letter case; paths and query strings; a wrong or
missing token; a ``Content-Length`` that lies. The app runs against an :class:`EventStore` whose persist
hook stands for the plan ConfigMap (it keeps every book it is given).

``clean``: every answer is a 4xx or a 503 with a JSON ``error``. ``ok``: some answer was 2xx, every
answer is one of the documented codes with a JSON body, each booked event holds the edge rules, the
listing still answers 200, and the store equals the last book persisted (nothing acknowledged that was
not stored). A 500, an undocumented status or an exception escaping the app is an uncaught exception.
"""

from __future__ import annotations

import io
import json
import random
from typing import Any
from wsgiref.util import setup_testing_defaults

from benchmarks.fuzz import Surface, Verdict, verdict
from benchmarks.fuzz.hostile import hostile_value, mutate_text, mutate_tree
from benchmarks.fuzz.workdir import scratch
from forecastscale.config.events import MAX_EVENT_S, MAX_FLOOR_REPLICAS, MAX_MULTIPLIER
from forecastscale.edge import EARLIEST_S, LATEST_S
from forecastscale.policy.event_book import EventBook
from forecastscale.service.events_api import EventStore, TokenFile, make_events_app

NOW = 1_780_000_000.0  # 2026-05-28T20:26:40Z
TOKEN = "fuzz-token"
DOCUMENTED = {200, 201, 204, 400, 401, 404, 405, 409, 413, 503}
METHODS = ["POST", "GET", "DELETE", "post", "Post", "dElEtE", "PUT", "PATCH", "OPTIONS", "", "P\nOST"]
PATHS = ["/v1/events", "/v1/events/", "/v1/events/{id}", "/v1/events/{id}/x", "/v1/events/" + "a" * 5000,
         "/v1/events/..%2f", "/v1/eventsx", "/v1/events/\x00"]
QUERIES = ["", "target=chat", "target=nope", "target=" + "x" * 5000, "target=chat&target=batch", "%ff=%00"]


def seeds() -> list[dict[str, Any]]:
    """Valid announcements."""
    return [{"target": "chat", "duration_s": 1800, "min_replicas": 25, "reason": "launch"},
            {"target": "batch", "start": "2026-05-29T09:00:00+02:00", "duration_s": 7200, "multiplier": 1.5,
             "reason": "nightly batch"},
            {"target": "chat", "start": "2026-05-28T20:00:00Z", "duration_s": 3600, "min_replicas": 4,
             "reason": "mail\nwith a newline"}]


def mutate(rng: random.Random, seed: dict[str, Any]) -> list[tuple[str, str, str, str | None, bytes, str]]:
    """One to three requests: (method, path, query, token, body, Content-Length as sent)."""
    return [_request(rng, seed) for _ in range(rng.randint(1, 3))]


def _request(rng: random.Random, seed: dict[str, Any]) -> tuple[str, str, str, str | None, bytes, str]:
    method = rng.choice(METHODS) if rng.random() < 0.4 else "POST"
    path, query = rng.choice(PATHS), rng.choice(QUERIES) if rng.random() < 0.3 else ""
    token = TOKEN if rng.random() < 0.9 else rng.choice([None, "", "wrong", TOKEN + "\n", "x" * 10_000])
    pick = rng.random()
    if pick < 0.25:  # as announced: so that later requests of the case meet a booked event
        body = json.dumps(seed).encode()
    elif pick < 0.6:
        body = json.dumps(mutate_tree(rng, seed, rng.randint(1, 3)), allow_nan=True, default=str).encode()
    elif pick < 0.8:
        body = mutate_text(rng, json.dumps(seed), rng.randint(1, 4)).encode("utf-8", errors="surrogatepass")
    elif pick < 0.9:
        body = json.dumps({**seed, rng.choice(list(seed)): hostile_value(rng)}, allow_nan=True, default=str).encode()
    else:
        body = rng.randbytes(rng.randint(0, 200))
    length = str(len(body)) if rng.random() < 0.85 else rng.choice(["0", "-1", "x", str(10**9), str(len(body) + 7)])
    return method, path, query, token, body, length


def run(case: list[tuple[str, str, str, str | None, bytes, str]]) -> Verdict:
    """Send the requests in order; see the module docstring for the verdicts."""
    persisted: list[EventBook] = []
    store = EventStore(persisted.append)
    token_file = scratch() / "token"
    token_file.write_text(TOKEN, encoding="utf-8")
    app = make_events_app(store, TokenFile(token_file), lambda: NOW, {"chat", "batch"}, max_body=64 * 1024)
    booked, problems = "", []
    for method, path, query, token, body, length in case:
        status, answer = _call(app, method, path.replace("{id}", booked or "x"), query, token, body, length)
        problems += [f"{method} {path[:40]}: status {status}"] if status not in DOCUMENTED else []
        problems += [f"{method} {path[:40]}: body not JSON: {answer[:60]!r}"] if answer and not _json(answer) else []
        if status == 201:
            booked = json.loads(answer)["id"]
    if not problems and not any(e for e in store.book) and not persisted:
        return Verdict("clean")
    return verdict(problems + _store_problems(app, store, persisted))


def _store_problems(app: Any, store: EventStore, persisted: list[EventBook]) -> list[str]:
    out = [] if persisted and persisted[-1] == store.book else ["the store holds a book that was not persisted"]
    for e in store.book:
        if not (EARLIEST_S <= e.start_s < e.end_s <= min(LATEST_S, e.start_s + MAX_EVENT_S)):
            out.append(f"event {e.id}: times {e.start_s!r}..{e.end_s!r}")
        if (e.min_replicas or 0) > MAX_FLOOR_REPLICAS or (e.multiplier or 1) > MAX_MULTIPLIER:
            out.append(f"event {e.id}: floor {e.min_replicas!r} × {e.multiplier!r}")
    status, _ = _call(app, "GET", "/v1/events", "", TOKEN, b"", "0")
    return out + ([] if status == 200 else [f"the listing answers {status} after the case"])


def _call(app: Any, method: str, path: str, query: str, token: str | None, body: bytes,
          length: str) -> tuple[int, bytes]:
    environ: dict[str, Any] = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query,
                               "CONTENT_LENGTH": length, "wsgi.input": io.BytesIO(body)}
    if token is not None:
        environ["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    setup_testing_defaults(environ)
    seen: list[str] = []
    chunks = app(environ, lambda status, headers, exc_info=None: seen.append(status))
    return int(seen[0].split()[0]), b"".join(chunks)


def _json(data: bytes) -> bool:
    try:
        json.loads(data)
    except ValueError:
        return False
    return True


SURFACE = Surface("events", seeds, mutate, run)
