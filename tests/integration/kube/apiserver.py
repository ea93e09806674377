"""A Kubernetes API-server double built on kmock's ``KubernetesEmulator``.

It serves what forecastscale calls: the ``scale`` subresource of Deployments, StatefulSets and
Cluster API MachineDeployments (GET, PUT), and whole ``coordination.k8s.io/v1`` Leases and
``v1`` ConfigMaps (GET, POST to create, PUT to replace), on the REST paths the official
``kubernetes`` client uses.

What kmock gives: a real aiohttp HTTP server on 127.0.0.1 (free port), Kubernetes URL parsing
(group/version/plural/namespace/name/subresource), an in-memory object store with per-object
history (``emulator.objects``), request matching by method and path, and ``Status`` JSON error
bodies. What it does not do, and this module adds: the ``scale`` subresource itself (kmock would
serve the whole object for ``GET .../scale`` and has no ``PUT``); create and replace with the
real server's rules (a POST of an existing name is 409 ``AlreadyExists``, a PUT of a missing
object is 404, a PUT whose ``metadata.resourceVersion`` is stale is 409 ``Conflict`` and changes
nothing, an empty one is an unconditional write); ``resourceVersion``, ``uid`` and
``creationTimestamp`` kept by the server (versions come from one cluster-wide counter, like
etcd's; a replace that changes nothing keeps the version, as in the real server); injectable
faults (429 with ``Retry-After``, 403, 409, 5xx) per method and resource; and a "concurrent
writer" that changes the object between a client's read and its write.

Bodies follow the real API server: ``autoscaling/v1`` ``Scale``, ``Lease`` and ``ConfigMap``
objects, ``201 Created`` for a create, and ``v1`` ``Status`` failures (``reason``
``NotFound``/``AlreadyExists``/``Conflict``/``Forbidden``/``TooManyRequests``/``Invalid``,
``details`` naming the object), so the official client parses them as it would in a cluster.
The server runs its own event loop in a daemon thread because the client is blocking.

Resource selectors (:class:`Fault`, :meth:`ScaleApiDouble.interfere`, :meth:`ScaleApiDouble.count`)
are a plural (``"deployments"``, ``"leases"``, ``"configmaps"``; a scale request counts as its
parent's plural), ``"scale"`` for any scale-subresource request, or ``None`` for any request.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import re
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp.web
import kmock

# plural → (group, version); the kinds whose scale subresource the double serves.
RESOURCES: dict[str, tuple[str, str]] = {
    "deployments": ("apps", "v1"),
    "statefulsets": ("apps", "v1"),
    "machinedeployments": ("cluster.x-k8s.io", "v1beta1"),
}
# plural → (group, version, kind); the kinds the double serves whole (GET, POST, PUT).
OBJECTS: dict[str, tuple[str, str, str]] = {
    "leases": ("coordination.k8s.io", "v1", "Lease"),
    "configmaps": ("", "v1", "ConfigMap"),
}
SCALE = "scale"  # the selector for any scale-subresource request
REASONS: dict[int, str] = {
    400: "BadRequest", 403: "Forbidden", 404: "NotFound", 409: "Conflict", 422: "Invalid",
    429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable",
}
VERBS = {"GET": "get", "POST": "create", "PUT": "update"}
SCALE_PATH = re.compile(r"/apis/[^/]+/[^/]+/namespaces/[^/]+/[^/]+/[^/]+/scale")
# Metadata only the server sets; whatever a client sends for these is replaced.
SERVER_META = ("uid", "resourceVersion", "creationTimestamp", "generation", "managedFields", "selfLink")
START_TIMEOUT_S = 10.0


def _prefix(group: str, version: str) -> str:
    """``/api/v1`` for the core group, ``/apis/<group>/<version>`` for the others."""
    return f"/api/{version}" if not group else f"/apis/{group}/{version}"


def _qualified(plural: str, group: str | None) -> str:
    """``leases.coordination.k8s.io``, or just ``configmaps`` for the core group (as the server words it)."""
    return f"{plural}.{group}" if group else plural


def _selects(selector: str | None, plural: str, subresource: str | None) -> bool:
    return selector is None or selector in (plural, subresource)


def _path_resource(path: str) -> tuple[str, str | None]:
    """``(plural, subresource)`` of a namespaced request path."""
    parts = path.strip("/").split("/")
    rest = parts[parts.index("namespaces") + 2:]
    return rest[0], (rest[2] if len(rest) > 2 else None)


class ApiStatus(Exception):
    """A failure the double answers with: a ``v1`` ``Status`` body, plus headers (``Retry-After``)."""

    def __init__(self, code: int, message: str, details: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None, reason: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.details, self.headers = code, message, details or {}, headers or {}
        self.reason = reason or REASONS.get(code, "Unknown")

    def body(self) -> dict[str, Any]:
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": self.message, "reason": self.reason, "details": self.details, "code": self.code}


class _Emulator(kmock.KubernetesEmulator):
    """kmock's emulator, rendering :class:`ApiStatus` with its own code and headers.

    For :data:`OBJECTS` the emulator's implicit store update is skipped: it stores a POST body
    (or raises its own 409) *before* any handler runs, which would bypass the double's checks.
    """

    async def _handle(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        if request.resource is not None and str(request.resource.plural) in OBJECTS:
            return await kmock.RawHandler._handle(self, request)
        return await super()._handle(request)

    async def _render_error(self, exc: Exception) -> aiohttp.web.StreamResponse:
        if isinstance(exc, ApiStatus):
            return aiohttp.web.json_response(exc.body(), status=exc.code, headers=exc.headers)
        return await super()._render_error(exc)


@dataclass
class Fault:
    """Answer the next ``times`` requests of ``method`` (``None`` = any) to ``resource`` with ``status``.

    ``resource`` is a selector (see the module docstring); ``None`` matches every request.
    """

    status: int
    method: str | None = "PUT"
    times: int = 1
    retry_after_s: int | None = None
    resource: str | None = None


@dataclass(frozen=True)
class _Call:
    """What one request addresses."""

    method: str
    plural: str
    group: str
    namespace: str
    name: str
    subresource: str | None

    @property
    def details(self) -> dict[str, Any]:
        return {"name": self.name, "group": self.group, "kind": self.plural} if self.group else \
            {"name": self.name, "kind": self.plural}


class ScaleApiDouble:
    """The double. :meth:`add` objects, point ``kubernetes.client.Configuration(host=url)`` at it."""

    def __init__(self) -> None:
        self.emulator = _Emulator()
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request served, in order
        self._lock = threading.Lock()  # the test thread and the server thread share the store
        self._faults: list[Fault] = []
        self._interfere: tuple[str | None, int] = (SCALE, 0)  # (selector, PUTs left)
        self._revision = 100  # a cluster-wide counter, like etcd's, so versions differ across objects
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="kube-double", daemon=True)
        self._stack = contextlib.AsyncExitStack()
        self.url = ""
        self.emulator["get", SCALE_PATH] << self._get
        self.emulator["put", SCALE_PATH] << self._put
        for plural, (group, version, _) in OBJECTS.items():
            collection = re.escape(f"{_prefix(group, version)}/namespaces/") + "[^/]+" + re.escape(f"/{plural}")
            self.emulator["get", re.compile(collection + "/[^/]+")] << self._get_object
            self.emulator["put", re.compile(collection + "/[^/]+")] << self._replace_object
            self.emulator["post", re.compile(collection)] << 201 << self._create_object

    # --- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()
        self.url = asyncio.run_coroutine_threadsafe(self._enter(), self._loop).result(START_TIMEOUT_S)

    async def _enter(self) -> str:
        await self._stack.enter_async_context(self.emulator)
        server = await self._stack.enter_async_context(kmock.Server(self.emulator, host="127.0.0.1"))
        return str(server.url).rstrip("/")

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._stack.aclose(), self._loop).result(START_TIMEOUT_S)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(START_TIMEOUT_S)
        self._loop.close()

    # --- test-side controls -------------------------------------------------------------------------
    def add(self, plural: str, namespace: str, name: str, *, replicas: int, status_replicas: int | None = None) -> None:
        """Store an object of ``plural`` (a :data:`RESOURCES` kind) with ``spec.replicas`` and ``status.replicas``."""
        with self._lock:
            group, version = RESOURCES[plural]
            self.emulator.objects[self._key(plural, namespace, name)] = {
                "apiVersion": f"{group}/{version}", "metadata": {
                    "name": name, "namespace": namespace, "uid": f"uid-{name}",
                    "resourceVersion": self._next_version(), "creationTimestamp": "2024-01-01T00:00:00Z"},
                "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}}},
                "status": {"replicas": replicas if status_replicas is None else status_replicas},
            }

    def add_object(self, plural: str, namespace: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        """Store ``body`` as an :data:`OBJECTS` kind (as if created by someone else); returns the stored copy."""
        with self._lock:
            obj = self._stamped(plural, namespace, name, body, uid=str(uuid.uuid4()), created=_now())
            self.emulator.objects[self._key(plural, namespace, name)] = obj
            return copy.deepcopy(obj)

    def has(self, plural: str, namespace: str, name: str) -> bool:
        """Whether the object exists now."""
        with self._lock:
            return self._exists(self._key(plural, namespace, name))

    def stored(self, plural: str, namespace: str, name: str) -> dict[str, Any]:
        """A copy of the object as stored now (any kind the double serves); ``KeyError`` if there is none."""
        with self._lock:
            key = self._key(plural, namespace, name)
            if not self._exists(key):
                raise KeyError(f"{plural} {namespace}/{name}")
            return copy.deepcopy(self.emulator.objects[key].raw)

    def fail(self, fault: Fault) -> None:
        """Queue a fault; faults are served first-in first-out, each for ``times`` matching requests."""
        with self._lock:
            self._faults.append(fault)

    def interfere(self, times: int = 1, resource: str | None = SCALE) -> None:
        """Before each of the next ``times`` PUTs to ``resource``, another writer updates the object.

        The other writer adds the label ``touched: "yes"`` and so moves the ``resourceVersion`` on;
        the default selector keeps this to scale writes.
        """
        with self._lock:
            self._interfere = (resource, times)

    def count(self, method: str, resource: str | None = SCALE) -> int:
        """Requests made with ``method`` to ``resource`` (by default scale requests; ``None`` = all)."""
        with self._lock:
            return sum(1 for m, path in self.requests if m == method and _selects(resource, *_path_resource(path)))

    # --- server side (runs in the server thread) ---------------------------------------------------
    def _key(self, plural: str, namespace: str, name: str) -> tuple[kmock.resource, str, str]:
        group, version = RESOURCES[plural] if plural in RESOURCES else OBJECTS[plural][:2]
        return kmock.resource(group, version, plural), namespace, name

    def _exists(self, key: tuple[kmock.resource, str, str]) -> bool:
        return key in self.emulator.objects and not self.emulator.objects[key].deleted

    def _next_version(self) -> str:
        self._revision += 1
        return str(self._revision)

    def _begin(self, request: kmock.Request) -> _Call:
        """Log the request and serve a queued fault if one matches; what the request addresses."""
        assert request.resource is not None and request.namespace is not None
        method = request.method.value
        self.requests.append((method, request.url.path))
        body = request.data if isinstance(request.data, dict) else {}
        name = request.name or str((body.get("metadata") or {}).get("name") or "")
        call = _Call(method, str(request.resource.plural), str(request.resource.group or ""), request.namespace,
                     name, request.subresource)
        for fault in self._faults:
            if fault.times > 0 and fault.method in (None, method) and _selects(fault.resource, call.plural,
                                                                                call.subresource):
                fault.times -= 1
                raise self._fault_status(fault, call)
        return call

    def _interfering(self, call: _Call) -> bool:
        """Whether another writer gets in before this PUT (and uses up one of its turns)."""
        selector, left = self._interfere
        if left > 0 and _selects(selector, call.plural, call.subresource):
            self._interfere = (selector, left - 1)
            return True
        return False

    @staticmethod
    def _fault_status(fault: Fault, call: _Call) -> ApiStatus:
        what = _qualified(call.plural, call.group)
        if fault.status == 403:
            res = f"{call.plural}/{call.subresource}" if call.subresource else call.plural
            return ApiStatus(403, f'{what} "{call.name}" is forbidden: User "system:serviceaccount:fs:fs" cannot '
                                  f'{VERBS.get(call.method, call.method.lower())} resource "{res}" in API group '
                                  f'"{call.group}" in the namespace "{call.namespace}"', call.details)
        if fault.status == 409:
            return _conflict(call)
        if fault.status == 429:
            headers = {} if fault.retry_after_s is None else {"Retry-After": str(fault.retry_after_s)}
            return ApiStatus(429, "Too many requests, please try again later.",
                             {"retryAfterSeconds": fault.retry_after_s or 0}, headers)
        return ApiStatus(fault.status, f"the server is currently unable to handle the request ({fault.status})")

    # --- scale subresource ---------------------------------------------------------------------------
    def _lookup(self, request: kmock.Request) -> tuple[_Call, kmock.Object]:
        call = self._begin(request)
        key = self._key(call.plural, call.namespace, call.name) if call.plural in RESOURCES else None
        if key is None or not self._exists(key):
            raise ApiStatus(404, f'{_qualified(call.plural, call.group)} "{call.name}" not found', call.details)
        return call, self.emulator.objects[key]

    @staticmethod
    def _scale(obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj["metadata"]
        return {"kind": "Scale", "apiVersion": "autoscaling/v1",
                "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")},
                "spec": {"replicas": obj["spec"]["replicas"]},
                "status": {"replicas": obj["status"]["replicas"], "selector": f"app={meta['name']}"}}

    def _get(self, request: kmock.Request) -> dict[str, Any]:
        with self._lock:
            _, stored = self._lookup(request)
            return self._scale(stored.raw)

    def _put(self, request: kmock.Request) -> dict[str, Any]:
        with self._lock:
            call, stored = self._lookup(request)
            if self._interfering(call):  # someone else wrote between the client's GET and this PUT
                stored.patch({"metadata": {"resourceVersion": self._next_version(), "labels": {"touched": "yes"}}})
            body: dict[str, Any] = request.data if isinstance(request.data, dict) else {}
            name = call.name
            if body.get("kind") != "Scale" or (body.get("metadata") or {}).get("name") != name:
                raise ApiStatus(400, f"the name of the object does not match the name on the URL ({name})",
                                call.details)
            replicas = (body.get("spec") or {}).get("replicas", 0)
            if not isinstance(replicas, int) or replicas < 0:
                raise ApiStatus(422, f'Scale.autoscaling "{name}" is invalid: spec.replicas: Invalid value: '
                                     f"{replicas}: must be greater than or equal to 0", call.details)
            sent_version = (body.get("metadata") or {}).get("resourceVersion")
            # An empty resourceVersion is an unconditional write, as in the real API server.
            if sent_version and sent_version != stored.raw["metadata"]["resourceVersion"]:
                raise _conflict(call)
            stored.patch({"metadata": {"resourceVersion": self._next_version()}, "spec": {"replicas": replicas}})
            return self._scale(stored.raw)

    # --- whole objects: leases and configmaps -------------------------------------------------------
    def _get_object(self, request: kmock.Request) -> dict[str, Any]:
        with self._lock:
            call = self._begin(request)
            key = self._key(call.plural, call.namespace, call.name)
            if not self._exists(key):
                raise _not_found(call)
            return copy.deepcopy(self.emulator.objects[key].raw)

    def _create_object(self, request: kmock.Request) -> dict[str, Any]:
        with self._lock:
            call = self._begin(request)
            body = self._checked_body(request, call)
            if (body.get("metadata") or {}).get("resourceVersion"):
                raise ApiStatus(500, "resourceVersion should not be set on objects to be created", call.details)
            key = self._key(call.plural, call.namespace, call.name)
            if self._exists(key):
                raise ApiStatus(409, f'{_qualified(call.plural, call.group)} "{call.name}" already exists',
                                call.details, reason="AlreadyExists")
            obj = self._stamped(call.plural, call.namespace, call.name, body, uid=str(uuid.uuid4()), created=_now())
            self.emulator.objects[key] = obj
            return copy.deepcopy(obj)

    def _replace_object(self, request: kmock.Request) -> dict[str, Any]:
        with self._lock:
            call = self._begin(request)
            body = self._checked_body(request, call)
            key = self._key(call.plural, call.namespace, call.name)
            if not self._exists(key):
                raise _not_found(call)  # leases and configmaps are not created by a PUT
            stored = self.emulator.objects[key]
            if self._interfering(call):  # someone else wrote between the client's GET and this PUT
                stored.patch({"metadata": {"resourceVersion": self._next_version(), "labels": {"touched": "yes"}}})
            current = stored.raw
            sent_version = (body.get("metadata") or {}).get("resourceVersion")
            if sent_version and sent_version != current["metadata"]["resourceVersion"]:
                raise _conflict(call)  # checked before anything is stored: a stale write changes nothing
            meta = current["metadata"]
            obj = self._stamped(call.plural, call.namespace, call.name, body, uid=meta["uid"],
                                created=meta["creationTimestamp"], version=meta["resourceVersion"])
            if obj != current:  # a write that changes nothing keeps the version, as etcd3's store does
                obj["metadata"]["resourceVersion"] = self._next_version()
                stored.create(obj)  # a new version replacing the whole object (a PUT does not merge)
            return copy.deepcopy(obj)

    def _checked_body(self, request: kmock.Request, call: _Call) -> dict[str, Any]:
        """The request body, refused as the real server refuses it: wrong kind, name or namespace."""
        body: dict[str, Any] = request.data if isinstance(request.data, dict) else {}
        group, version, kind = OBJECTS[call.plural]
        meta = body.get("metadata") or {}
        api_version = f"{group}/{version}" if group else version
        if body.get("kind") not in (None, kind) or body.get("apiVersion") not in (None, api_version):
            raise ApiStatus(400, f"the API version in the data ({body.get('apiVersion')}) does not match the "
                                 f"expected API version ({api_version})", call.details)
        if not meta.get("name"):
            raise ApiStatus(422, f'{kind} "" is invalid: metadata.name: Required value: name or generateName '
                                 "is required", call.details)
        if meta.get("name") != call.name:
            raise ApiStatus(400, f"the name of the object ({meta.get('name')}) does not match the name on the URL "
                                 f"({call.name})", call.details)
        if meta.get("namespace") not in (None, "", call.namespace):
            raise ApiStatus(400, "the namespace of the provided object does not match the namespace sent on the "
                                 "request", call.details)
        return body

    def _stamped(self, plural: str, namespace: str, name: str, body: dict[str, Any], *, uid: str, created: str,
                 version: str | None = None) -> dict[str, Any]:
        """``body`` as the server stores it: apiVersion and kind set, server-owned metadata its own."""
        group, version_, kind = OBJECTS[plural]
        obj = copy.deepcopy(body)
        meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in SERVER_META}
        meta.update(name=name, namespace=namespace, uid=uid, creationTimestamp=created,
                    resourceVersion=version or self._next_version())
        obj.update(apiVersion=f"{group}/{version_}" if group else version_, kind=kind, metadata=meta)
        return obj


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _not_found(call: _Call) -> ApiStatus:
    return ApiStatus(404, f'{_qualified(call.plural, call.group)} "{call.name}" not found', call.details)


def _conflict(call: _Call) -> ApiStatus:
    return ApiStatus(409, f'Operation cannot be fulfilled on {_qualified(call.plural, call.group)} "{call.name}": '
                          "the object has been modified; please apply your changes to the latest version and try "
                          "again", call.details)
