"""``/v1/events``: announce, list and cancel one-off demand events over HTTP (a WSGI sub-app).

Nothing is acknowledged before it is stored: a POST or DELETE answers 2xx only after the change is
in the plan ConfigMap (:class:`EventStore`'s ``persist``); if it cannot be stored the answer is 503
with ``Retry-After`` and the change is not made at all.

* ``POST /v1/events`` — body :class:`~forecastscale.config.events.EventRequest` (JSON, at most
  ``max_body`` bytes); 201 with the stored event (``id``, ``start_s``/``end_s``, readable ``start``/``end``)
  and a ``Location``. The id is derived from the content, so re-sending the same announcement (with an
  explicit ``start``) answers 200 with the event already stored instead of booking it twice.
* ``GET /v1/events[?target=NAME]`` — 200 ``{"events": [...]}``, events not yet over, by start.
* ``DELETE /v1/events/<id>`` — 204; 404 if there is no such event. The deletion is remembered (a
  tombstone) until the event would have ended, so no older copy can bring it back.

Every request needs ``Authorization: Bearer <token>``; the token is whatever ``token_reader()`` returns
(:class:`TokenFile`: a file re-read when it changes, so a rotated Kubernetes Secret takes effect without
a restart). No token available → 503 and nothing is accepted; a missing or wrong token → 401 with
``WWW-Authenticate: Bearer``. Problems in a body → 400 ``{"error": ..., "problems": ["field: message,
got value", ...]}``.

:class:`EventStore` holds the :class:`~forecastscale.policy.events.EventBook` between requests and the
control loop; its ``version`` increases on every change.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import threading
from collections.abc import Callable, Collection, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from pydantic import ValidationError

from forecastscale.config import format_validation_error
from forecastscale.config.events import EventRequest
from forecastscale.edge import shown, strict_json
from forecastscale.errors import TemporaryError
from forecastscale.policy.event_book import BookedEvent, EventBook, book_event

log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
PREFIX = "/v1/events"
MAX_BODY = 64 * 1024
_PHRASES = {200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request", 401: "Unauthorized",
            404: "Not Found", 405: "Method Not Allowed", 409: "Conflict", 413: "Content Too Large",
            503: "Service Unavailable"}


class BookFull(Exception):
    """The store already holds ``max_events`` events."""


class NotPersisted(TemporaryError):
    """A change could not be stored in the plan, so it was not made: nothing was acknowledged. Retry."""


Persist = Callable[[EventBook], None]  # store the book durably or raise NotPersisted


class EventStore:
    """A thread-safe holder of the current :class:`EventBook` and a version bumped on every change.

    :meth:`add` and :meth:`remove` call ``persist(new_book)`` first and install the new book only if it
    returned: a change that was not stored is not made. (Tests of the HTTP surface alone may pass a
    persist that keeps nothing; the service passes :meth:`~forecastscale.service.persistence.PlanKeeper.save_events`.)
    """

    def __init__(self, persist: Persist, book: EventBook | None = None, max_events: int = 1000) -> None:
        self._lock = threading.Lock()
        self._persist = persist
        self._book = book or EventBook()
        self._version = 0
        self.max_events = max_events

    @property
    def book(self) -> EventBook:
        return self._book

    @property
    def version(self) -> int:
        return self._version

    def replace(self, book: EventBook) -> None:
        """Install ``book`` (e.g. read back from the plan ConfigMap after a failover)."""
        with self._lock:
            self._book = book
            self._version += 1

    def add(self, event: BookedEvent) -> tuple[BookedEvent, bool]:
        """Persist, then store ``event``; ``(stored, created)``: an event with the same id is kept as it is
        (``created`` False). Raises :class:`BookFull` at ``max_events``, :class:`NotPersisted` if not stored."""
        with self._lock:
            existing = self._book.get(event.id)
            if existing is not None:
                return existing, False
            if len(self._book) >= self.max_events:
                raise BookFull(f"the event book is full ({self.max_events} events); delete or let some expire")
            self._commit(self._book.add(event))
            return event, True

    def remove(self, event_id: str, at_s: float) -> BookedEvent:
        """Persist, then remove (tombstone at ``at_s``) and return event ``event_id``; KeyError if there is
        none, :class:`NotPersisted` if the deletion was not stored."""
        with self._lock:
            event = self._book.get(event_id)
            if event is None:
                raise KeyError(event_id)
            self._commit(self._book.remove(event_id, at_s))
            return event

    def _commit(self, book: EventBook) -> None:
        self._persist(book)  # raises NotPersisted: then nothing changes here either
        self._book = book
        self._version += 1

    def expire(self, t: float) -> int:
        """Drop the events over at ``t`` (in memory only: expiry needs no acknowledgement, and an expired
        event read back from the plan expires again); how many were dropped."""
        with self._lock:
            kept = self._book.expire(t)
            dropped = len(self._book) - len(kept)
            if dropped:
                self._book = kept
                self._version += 1
            return dropped


class TokenFile:
    """A bearer token kept in a file (a mounted Secret): re-read whenever the file changes.

    Calling it returns the token (surrounding whitespace stripped) or None if the file is missing,
    unreadable or empty. Changes are noticed by ``stat`` (inode, size, mtime), which follows the
    symlink swap Kubernetes uses to update a mounted Secret."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._key: tuple[int, int, int] | None = None
        self._token: str | None = None

    def __call__(self) -> str | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        key = (st.st_ino, st.st_size, st.st_mtime_ns)
        with self._lock:
            if key != self._key:
                try:
                    text = self.path.read_text(encoding="utf-8").strip()
                except (OSError, UnicodeDecodeError) as exc:
                    log.warning("events API: cannot read token file %s: %s", self.path, exc)
                    return None
                self._key, self._token = key, text or None
            return self._token


def _respond(start_response: StartResponse, code: int, body: Any | None = None,
             headers: Iterable[tuple[str, str]] = ()) -> list[bytes]:
    data = b"" if body is None else json.dumps(body).encode()
    head = [*headers, ("Content-Length", str(len(data)))]
    if body is not None:
        head.append(("Content-Type", "application/json"))
    start_response(f"{code} {_PHRASES[code]}", head)
    return [data]


def _problem(start_response: StartResponse, code: int, error: str, problems: list[str] | None = None,
             headers: Iterable[tuple[str, str]] = ()) -> list[bytes]:
    body: dict[str, Any] = {"error": error}
    if problems is not None:
        body["problems"] = problems
    return _respond(start_response, code, body, headers)


def _names(names: Collection[str]) -> str:
    """The known target names for a message: a few, not a thousand."""
    first = sorted(names)[:10]
    return ", ".join(first) + (f" and {len(names) - 10} more" if len(names) > 10 else "")


def _unstored(start_response: StartResponse, exc: NotPersisted) -> list[bytes]:
    """503: the change was not stored, so it was not made; the client retries (the Service may route the
    retry to the leader)."""
    log.warning("events API: change refused, %s", exc)
    return _problem(start_response, 503, f"{exc}; nothing was changed, retry", headers=[("Retry-After", "1")])


def make_events_app(store: EventStore, token_reader: Callable[[], str | None], clock: Callable[[], float],
                    targets: Collection[str] | Callable[[], Collection[str]],
                    max_body: int = MAX_BODY) -> WsgiApp:
    """The ``/v1/events`` WSGI app. ``token_reader()`` gives the expected token (None: refuse all);
    ``clock()`` is UNIX seconds; ``targets`` the known target names (or a callable giving them, for
    a config that can change)."""

    def known() -> Collection[str]:
        return targets() if callable(targets) else targets

    def authorised(environ: dict[str, Any], start_response: StartResponse) -> list[bytes] | None:
        expected = token_reader()
        if not expected:
            return _problem(start_response, 503, "events API has no token configured (token file missing, "
                                                 "unreadable or empty); nothing is accepted")
        header = environ.get("HTTP_AUTHORIZATION", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            return _problem(start_response, 401, "missing bearer token",
                            headers=[("WWW-Authenticate", 'Bearer realm="forecastscale"')])
        if not hmac.compare_digest(given.strip().encode(), expected.encode()):
            return _problem(start_response, 401, "invalid bearer token",
                            headers=[("WWW-Authenticate", 'Bearer realm="forecastscale", error="invalid_token"')])
        return None

    def read_body(environ: dict[str, Any]) -> bytes | None:
        """The body, or None if it is larger than ``max_body``."""
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > max_body:
            return None
        stream = environ.get("wsgi.input")
        data: bytes = stream.read(length) if stream is not None and length > 0 else b""
        return data

    def create(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        raw = read_body(environ)
        if raw is None:
            return _problem(start_response, 413, f"body larger than {max_body} bytes")
        try:
            data = strict_json(raw, max_bytes=max_body, max_depth=8)  # an event is one flat object
        except ValueError as exc:
            return _problem(start_response, 400, "invalid event", [f"body: {exc}"])
        if not isinstance(data, dict):
            return _problem(start_response, 400, "invalid event",
                            [f"body: must be a JSON object, got {type(data).__name__}"])
        try:
            request = EventRequest.model_validate(data)
        except ValidationError as exc:
            return _problem(start_response, 400, "invalid event", format_validation_error(exc))
        names = known()
        if request.target not in names:
            return _problem(start_response, 400, "invalid event",
                            [f"target: unknown target (have {_names(names)}), got {shown(request.target)}"])
        now = clock()
        try:
            event = book_event(request, now)
        except ValueError as exc:
            return _problem(start_response, 400, "invalid event", [str(exc)])
        store.expire(now)
        try:
            stored, created = store.add(event)
        except BookFull as exc:
            return _problem(start_response, 409, str(exc))
        except NotPersisted as exc:
            return _unstored(start_response, exc)
        if created:
            floor = (f"min_replicas {stored.min_replicas}" if stored.min_replicas is not None
                     else f"multiplier {stored.multiplier:g}")
            log.info("event %s booked (persisted) for %s: %s from %s for %g s (%s)", stored.id, stored.target,
                     floor, stored.to_view()["start"], stored.duration_s, stored.reason)
        return _respond(start_response, 201 if created else 200, stored.to_view(),
                        [("Location", f"{PREFIX}/{stored.id}")])

    def listing(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        wanted = query.get("target", [None])[-1]
        if wanted is not None and wanted not in (names := known()):
            return _problem(start_response, 400, "invalid query",
                            [f"target: unknown target (have {_names(names)}), got {shown(wanted)}"])
        now = clock()
        events = [e.to_view() for e in store.book if e.end_s > now and wanted in (None, e.target)]
        return _respond(start_response, 200, {"events": events})

    def delete(event_id: str, start_response: StartResponse) -> list[bytes]:
        try:
            event = store.remove(event_id, clock())
        except KeyError:
            return _problem(start_response, 404, f"no event {shown(event_id)}")
        except NotPersisted as exc:
            return _unstored(start_response, exc)
        log.info("event %s for %s cancelled (persisted) (%s)", event.id, event.target, event.reason)
        return _respond(start_response, 204)

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        method = environ.get("REQUEST_METHOD", "GET").upper()
        if path != PREFIX and not path.startswith(PREFIX + "/"):
            return _problem(start_response, 404, f"no such path {shown(path)}; have {PREFIX}")
        if (denied := authorised(environ, start_response)) is not None:
            return denied
        rest = path[len(PREFIX):].strip("/")
        if not rest:
            if method == "POST":
                return create(environ, start_response)
            if method == "GET":
                return listing(environ, start_response)
            return _problem(start_response, 405, f"{shown(method)} not allowed on {PREFIX}",
                            headers=[("Allow", "GET, POST")])
        if "/" in rest:
            return _problem(start_response, 404, f"no such path {shown(path)}")
        if method == "DELETE":
            return delete(rest, start_response)
        return _problem(start_response, 405, f"{shown(method)} not allowed on {PREFIX}/<id>",
                        headers=[("Allow", "DELETE")])

    return app
