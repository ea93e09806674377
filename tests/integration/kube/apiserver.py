"""A Kubernetes API-server double built on kmock's ``KubernetesEmulator``.

It serves what forecastscale calls: the ``scale`` subresource of Deployments, StatefulSets and
Cluster API MachineDeployments (GET, PUT); whole ``coordination.k8s.io/v1`` Leases, ``v1``
ConfigMaps and ``apps/v1`` Deployments (GET, POST to create, PUT to replace); and cluster-scoped
``scheduling.k8s.io/v1`` PriorityClasses (GET, POST, PUT; no namespace in the path); and ``v1``
Nodes, also cluster-scoped (stored with :meth:`ScaleApiDouble.add_node`; GET one, or GET the collection as
a ``NodeList`` filtered by an equality ``labelSelector`` (``a=b,c=d``; other selector forms are refused with
400) and paged by ``limit`` and ``continue``), on the REST paths the official ``kubernetes`` client uses.

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

Deployments and PriorityClasses also get the real server's defaulting and validation where a
client could get it wrong (``422 Invalid``): a Deployment needs a selector matching its template's
labels (and may not change it), at least one container, ``spec.replicas >= 0`` (default 1), and an
extended resource such as ``nvidia.com/gpu`` requested only with an equal limit; the server owns
``metadata.generation`` (1 on create, +1 when the spec changes) and ``status``. A PriorityClass
keeps its ``value`` (at most 1e9, immutable) and ``preemptionPolicy`` (``PreemptLowerPriority`` by
default, or ``Never``; immutable), and at most one may be ``globalDefault``. The double runs no
controllers, except that a Deployment *created through the API* gets an instant one:
``status.replicas`` (and so the scale's) follows ``spec.replicas``, as if every pod were made at
once (pending or not). Objects stored with :meth:`ScaleApiDouble.add` keep the status they were given, except
a Cluster API MachineDeployment's, which follows Cluster API: its whole object is served on GET too (``kind``
``MachineDeployment``), a scale write creates or deletes Machines at once (``status.replicas`` = ``spec.replicas``,
capacity or not), while ``status.readyReplicas`` (machines whose Node is Ready) changes only when a test says nodes
came (:meth:`ScaleApiDouble.set_ready`, or ``ready_replicas`` of :meth:`ScaleApiDouble.add`), and drops to the new
``spec.replicas`` on a scale-down; it is omitted when 0, as Cluster API omits it.

Bodies follow the real API server: ``autoscaling/v1`` ``Scale``, ``Lease``, ``ConfigMap``,
``Deployment`` and ``PriorityClass`` objects, ``201 Created`` for a create, and ``v1`` ``Status``
failures (``reason`` ``NotFound``/``AlreadyExists``/``Conflict``/``Forbidden``/``TooManyRequests``/
``Invalid``, ``details`` naming the object), so the official client parses them as it would in a
cluster. The server runs its own event loop in a daemon thread because the client is blocking.

Resource selectors (:class:`Fault`, :meth:`ScaleApiDouble.interfere`, :meth:`ScaleApiDouble.count`)
are a plural (``"deployments"``, ``"leases"``, ``"configmaps"``, ``"priorityclasses"``, ``"nodes"``; a scale
request counts as its parent's plural), ``"scale"`` for any scale-subresource request, or ``None``
for any request. Cluster-scoped objects are addressed with ``namespace=None`` (or ``""``).

Every request any double receives (served, faulted or refused alike) is also recorded as an :class:`ApiCall`
— the RBAC verb, API group, resource and subresource it needs — both in the double's own
:meth:`ScaleApiDouble.calls` (so a test knows exactly which calls its run made) and in the session-wide
:data:`RECORDED`, for ``tests/integration/test_rbac_usage.py``, which checks them against the RBAC rules in
``deploy/``. Recording only observes: it changes no answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import os
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
    "deployments": ("apps", "v1", "Deployment"),
    "priorityclasses": ("scheduling.k8s.io", "v1", "PriorityClass"),
    "nodes": ("", "v1", "Node"),
}
CLUSTER_SCOPED = frozenset({"priorityclasses", "nodes"})  # plurals whose paths and keys have no namespace
MAX_USER_PRIORITY = 1_000_000_000  # the highest value a PriorityClass not named system-* may have
PREEMPTION_POLICIES = ("Never", "PreemptLowerPriority")
SCALE = "scale"  # the selector for any scale-subresource request
REASONS: dict[int, str] = {
    400: "BadRequest", 403: "Forbidden", 404: "NotFound", 409: "Conflict", 422: "Invalid",
    429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable",
}
VERBS = {"GET": "get", "POST": "create", "PUT": "update"}
SCALE_PATH = re.compile(r"/apis/[^/]+/[^/]+/namespaces/[^/]+/[^/]+/[^/]+/scale")
# A MachineDeployment itself (GET only; it is scaled through SCALE_PATH): the status fields the scale does not carry.
MACHINE_DEPLOYMENT_PATH = re.compile(r"/apis/cluster\.x-k8s\.io/[^/]+/namespaces/[^/]+/machinedeployments/[^/]+")
# Metadata only the server sets; whatever a client sends for these is replaced.
SERVER_META = ("uid", "resourceVersion", "creationTimestamp", "generation", "managedFields", "selfLink")
START_TIMEOUT_S = 10.0


# HTTP method → RBAC verb of a request on one named object; GET and DELETE of a collection are list/deletecollection.
RBAC_VERBS = {"GET": "get", "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


@dataclass(frozen=True)
class ApiCall:
    """One request as RBAC sees it: ``verb`` on ``group``/``resource``[/``subresource``], plus where and by whom.

    ``resource`` is the plural (``""`` group = core); a request outside the resource API (``/version``,
    discovery) has ``resource`` ``""`` and its URL path in ``non_resource_url``. ``test`` is the pytest node
    id that was running (``PYTEST_CURRENT_TEST`` without the phase), so a check can name who made the call.
    """

    verb: str
    group: str
    resource: str
    subresource: str | None
    namespace: str | None
    name: str | None
    test: str
    non_resource_url: str | None = None


KMOCK_REQUESTS_KEPT = 64
RECORDED: list[ApiCall] = []  # every request of every double in this test session, in order
_RECORDED_LOCK = threading.Lock()


def _current_test() -> str:
    return os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" (", 1)[0]


def _record(request: kmock.Request, calls: list[ApiCall]) -> None:
    """Append ``request`` to ``calls`` (one double's) and to :data:`RECORDED` as the RBAC verb, group, resource and
    subresource it needs."""
    method = request.method.value.upper()
    resource = request.resource
    if resource is None:
        call = ApiCall(method.lower(), "", "", None, None, None, _current_test(), request.url.path)
    else:
        named = bool(request.name)
        verb = RBAC_VERBS.get(method, method.lower())
        if method == "GET" and not named:
            verb = "watch" if request.url.query.get("watch", "").lower() in ("1", "true") else "list"
        elif method == "DELETE" and not named:
            verb = "deletecollection"
        call = ApiCall(verb, str(resource.group or ""), str(resource.plural), request.subresource or None,
                       request.namespace or None, request.name or None, _current_test())
    with _RECORDED_LOCK:
        RECORDED.append(call)
        calls.append(call)


def _prefix(group: str, version: str) -> str:
    """``/api/v1`` for the core group, ``/apis/<group>/<version>`` for the others."""
    return f"/api/{version}" if not group else f"/apis/{group}/{version}"


def _qualified(plural: str, group: str | None) -> str:
    """``leases.coordination.k8s.io``, or just ``configmaps`` for the core group (as the server words it)."""
    return f"{plural}.{group}" if group else plural


def _selects(selector: str | None, plural: str, subresource: str | None) -> bool:
    return selector is None or selector in (plural, subresource)


def _path_resource(path: str) -> tuple[str, str | None]:
    """``(plural, subresource)`` of a resource path, namespaced or cluster-scoped."""
    parts = path.strip("/").split("/")
    rest = parts[2:] if parts[0] == "api" else parts[3:]  # drop /api/<v> or /apis/<group>/<v>
    if rest[0] == "namespaces" and len(rest) > 2:
        rest = rest[2:]
    return rest[0], (rest[2] if len(rest) > 2 else None)


def _collection_path(plural: str) -> str:
    """The regex of ``plural``'s collection path (namespaced or not)."""
    group, version, _ = OBJECTS[plural]
    if plural in CLUSTER_SCOPED:
        return re.escape(f"{_prefix(group, version)}/{plural}")
    return re.escape(f"{_prefix(group, version)}/namespaces/") + "[^/]+" + re.escape(f"/{plural}")


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

    calls: list[ApiCall]  # this double's requests as RBAC sees them; set by ScaleApiDouble

    async def _handle(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        _record(request, self.calls)  # before anything can refuse it: a refused request was still a call made
        # kmock keeps every request and finds each new one in that list to route it (by identity: O(n) per
        # request), so a long run slows down quadratically (2,000 Lease renewals: 9 → 86 ms per call). A real
        # API server keeps no request log; the double has its own (``requests``). Keep kmock's short.
        del self._requests[:-KMOCK_REQUESTS_KEPT]
        for payload in self._payloads:
            del payload._requests[:-KMOCK_REQUESTS_KEPT]
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
        self.emulator.calls = []
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
        self.emulator["get", MACHINE_DEPLOYMENT_PATH] << self._get_machine_deployment
        self._follows: set[tuple[kmock.resource, str | None, str]] = set()  # keys whose status follows spec
        for plural in OBJECTS:
            collection = _collection_path(plural)
            self.emulator["get", re.compile(collection + "/[^/]+")] << self._get_object
            self.emulator["put", re.compile(collection + "/[^/]+")] << self._replace_object
            self.emulator["post", re.compile(collection)] << 201 << self._create_object
        # After the object routes: GET of the collection itself is a list (nodes only).
        self.emulator["get", re.compile(_collection_path("nodes") + r"/?")] << self._list_nodes

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
    def calls(self) -> list[ApiCall]:
        """Every request this double has received so far, in order, as RBAC sees it (also in :data:`RECORDED`)."""
        with _RECORDED_LOCK:
            return list(self.emulator.calls)

    def add(self, plural: str, namespace: str, name: str, *, replicas: int, status_replicas: int | None = None,
            ready_replicas: int | None = None) -> None:
        """Store an object of ``plural`` (a :data:`RESOURCES` kind) with ``spec.replicas`` and ``status.replicas``
        (default: ``replicas``); a MachineDeployment also with ``status.readyReplicas`` (default: every machine's
        Node Ready, i.e. ``status.replicas``; omitted when 0)."""
        with self._lock:
            group, version = RESOURCES[plural]
            status: dict[str, Any] = {"replicas": replicas if status_replicas is None else status_replicas}
            if plural == "machinedeployments":
                _set_ready(status, status["replicas"] if ready_replicas is None else ready_replicas)
            elif ready_replicas is not None:
                raise ValueError("ready_replicas is kept for machinedeployments only")
            self.emulator.objects[self._key(plural, namespace, name)] = {
                "apiVersion": f"{group}/{version}", "metadata": {
                    "name": name, "namespace": namespace, "uid": f"uid-{name}",
                    "resourceVersion": self._next_version(), "creationTimestamp": "2024-01-01T00:00:00Z"},
                "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}}},
                "status": status,
            }

    def set_ready(self, namespace: str, name: str, ready: int) -> None:
        """The nodes of ``ready`` machines of MachineDeployment ``name`` are Ready now (a status write: the
        ``resourceVersion`` moves on). The test decides what a stockout means; ``ready`` is stored as given."""
        with self._lock:
            key = self._key("machinedeployments", namespace, name)
            if not self._exists(key):
                raise KeyError(f"machinedeployments {namespace}/{name}")
            stored = self.emulator.objects[key]
            obj = copy.deepcopy(stored.raw)
            _set_ready(obj.setdefault("status", {}), ready)
            obj["metadata"]["resourceVersion"] = self._next_version()
            stored.create(obj)  # replaces the whole status, so a 0 really drops the field

    def add_object(self, plural: str, namespace: str | None, name: str, body: dict[str, Any]) -> dict[str, Any]:
        """Store ``body`` as an :data:`OBJECTS` kind (as if created by someone else); returns the stored copy.

        Unlike a POST, nothing is defaulted or validated: the body is stored as given (server metadata aside).
        """
        with self._lock:
            obj = self._stamped(plural, namespace, name, body, uid=str(uuid.uuid4()), created=_now())
            self.emulator.objects[self._key(plural, namespace, name)] = obj
            return copy.deepcopy(obj)

    def add_node(self, name: str, labels: dict[str, str], *, ready: bool = True, unschedulable: bool = False,
                 gpus: int = 8, annotations: dict[str, str] | None = None,
                 conditions: dict[str, str] | None = None) -> dict[str, Any]:
        """Store a ``v1`` Node as a kubelet would report it: ``Ready`` condition, allocatable GPUs,
        plus any other ``conditions`` (type → status) and ``annotations``."""
        conds = [{"type": "Ready", "status": "True" if ready else "False"},
                 *({"type": t, "status": v} for t, v in (conditions or {}).items())]
        body = {"apiVersion": "v1", "kind": "Node",
                "metadata": {"labels": labels, "annotations": annotations or {}},
                "spec": {"unschedulable": True} if unschedulable else {},
                "status": {"conditions": conds, "allocatable": {"nvidia.com/gpu": str(gpus), "cpu": "96"}}}
        return self.add_object("nodes", None, name, body)

    def has(self, plural: str, namespace: str | None, name: str) -> bool:
        """Whether the object exists now."""
        with self._lock:
            return self._exists(self._key(plural, namespace, name))

    def stored(self, plural: str, namespace: str | None, name: str) -> dict[str, Any]:
        """A copy of the object as stored now (any kind the double serves); ``KeyError`` if there is none."""
        with self._lock:
            key = self._key(plural, namespace, name)
            if not self._exists(key):
                raise KeyError(f"{plural} {namespace}/{name}" if namespace else f"{plural} {name}")
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
    def _key(self, plural: str, namespace: str | None, name: str) -> tuple[kmock.resource, str | None, str]:
        """The store key; cluster-scoped kinds are keyed without a namespace (as kmock keys them)."""
        group, version = RESOURCES[plural] if plural in RESOURCES else OBJECTS[plural][:2]
        if plural in CLUSTER_SCOPED:
            if namespace:
                raise ValueError(f"{plural} are cluster-scoped: pass namespace=None, not {namespace!r}")
            namespace = None
        return kmock.resource(group, version, plural), namespace, name

    def _exists(self, key: tuple[kmock.resource, str | None, str]) -> bool:
        return key in self.emulator.objects and not self.emulator.objects[key].deleted

    def _next_version(self) -> str:
        self._revision += 1
        return str(self._revision)

    def _begin(self, request: kmock.Request) -> _Call:
        """Log the request and serve a queued fault if one matches; what the request addresses."""
        assert request.resource is not None
        method = request.method.value
        self.requests.append((method, request.url.path))
        body = request.data if isinstance(request.data, dict) else {}
        name = request.name or str((body.get("metadata") or {}).get("name") or "")
        call = _Call(method, str(request.resource.plural), str(request.resource.group or ""),
                     request.namespace or "", name, request.subresource)
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
            # A create is authorised before its body is read, so the real message names no object.
            subject = what if call.method == "POST" else f'{what} "{call.name}"'
            scope = "at the cluster scope" if not call.namespace else f'in the namespace "{call.namespace}"'
            return ApiStatus(403, f'{subject} is forbidden: User "system:serviceaccount:fs:fs" cannot '
                                  f'{VERBS.get(call.method, call.method.lower())} resource "{res}" in API group '
                                  f'"{call.group}" {scope}', call.details)
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
        match_labels = ((obj["spec"].get("selector") or {}).get("matchLabels") or {"app": meta["name"]})
        return {"kind": "Scale", "apiVersion": "autoscaling/v1",
                "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")},
                "spec": {"replicas": obj["spec"]["replicas"]},
                "status": {"replicas": (obj.get("status") or {}).get("replicas", 0),
                           "selector": ",".join(f"{k}={v}" for k, v in sorted(match_labels.items()))}}

    def _get(self, request: kmock.Request) -> dict[str, Any]:
        with self._lock:
            _, stored = self._lookup(request)
            return self._scale(stored.raw)

    def _get_machine_deployment(self, request: kmock.Request) -> dict[str, Any]:
        """The whole MachineDeployment, as Cluster API serves it: ``kind`` set, a 0 ``readyReplicas`` left out."""
        with self._lock:
            _, stored = self._lookup(request)
            obj = copy.deepcopy(stored.raw)
            obj["kind"] = "MachineDeployment"  # status.readyReplicas is stored as served (no 0: see _set_ready)
            return obj

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
            change: dict[str, Any] = {"metadata": {"resourceVersion": self._next_version()},
                                      "spec": {"replicas": replicas}}
            generation = stored.raw["metadata"].get("generation")
            if isinstance(generation, int) and replicas != stored.raw["spec"]["replicas"]:
                change["metadata"]["generation"] = generation + 1  # a spec change, as through the whole object
            if self._key(call.plural, call.namespace, name) in self._follows:  # the instant controller
                change["status"] = {"replicas": replicas, "observedGeneration": change["metadata"].get(
                    "generation", generation)}
            if call.plural == "machinedeployments":  # Cluster API: Machines made (or deleted) at once, capacity or not
                status = copy.deepcopy(stored.raw.get("status") or {})
                status["replicas"] = replicas
                ready = status.get("readyReplicas", 0)
                if type(ready) is int:  # a hostile value a test stored stays as it is
                    _set_ready(status, min(ready, replicas))  # unready machines are deleted first
                obj = copy.deepcopy(stored.raw)
                obj.update(status=status, spec=obj["spec"] | change["spec"])
                obj["metadata"].update(change["metadata"])
                stored.create(obj)  # whole: a readyReplicas dropped to 0 is gone, not merged back
                return self._scale(stored.raw)
            stored.patch(change)
            return self._scale(stored.raw)

    # --- whole objects: leases, configmaps, deployments, priorityclasses ------------------------------
    def _get_object(self, request: kmock.Request) -> dict[str, Any]:
        with self._lock:
            call = self._begin(request)
            key = self._key(call.plural, call.namespace, call.name)
            if not self._exists(key):
                raise _not_found(call)
            return copy.deepcopy(self.emulator.objects[key].raw)

    def _list_nodes(self, request: kmock.Request) -> dict[str, Any]:
        """``GET /api/v1/nodes``: a ``NodeList`` filtered by an equality ``labelSelector``, paged by
        ``limit`` with an opaque ``continue`` token (the next name, as the real server's encodes a key)."""
        with self._lock:
            call = self._begin(request)  # logged, and faults served, like every request
            query = request.url.query
            wanted = _equality_selector(query.get("labelSelector", ""), call)
            nodes = sorted((name, o.raw) for (res, _, name), o in self.emulator.objects.items()
                           if res.plural == "nodes" and not o.deleted)
            items = [copy.deepcopy(raw) for _, raw in nodes
                     if all((raw["metadata"].get("labels") or {}).get(k) == v for k, v in wanted.items())]
            start = query.get("continue", "")
            if start:
                items = [i for i in items if i["metadata"]["name"] >= start]
            limit = int(query.get("limit", "0") or 0)
            meta: dict[str, Any] = {"resourceVersion": str(self._revision)}
            if limit and len(items) > limit:
                meta["continue"] = items[limit]["metadata"]["name"]
                items = items[:limit]
            return {"kind": "NodeList", "apiVersion": "v1", "metadata": meta, "items": items}

    def _create_object(self, request: kmock.Request) -> dict[str, Any]:
        with self._lock:
            call = self._begin(request)
            body = self._checked_body(request, call)
            if (body.get("metadata") or {}).get("resourceVersion"):
                raise ApiStatus(500, "resourceVersion should not be set on objects to be created", call.details)
            key = self._key(call.plural, call.namespace, call.name)
            # uid and resourceVersion are placeholders until the object is admitted and known to be new.
            obj = self._stamped(call.plural, call.namespace, call.name, body, uid="", created=_now(), version="0")
            self._admit(call, obj, None)  # validation comes before the existence check, as in the real server
            if self._exists(key):
                raise ApiStatus(409, f'{_qualified(call.plural, call.group)} "{call.name}" already exists',
                                call.details, reason="AlreadyExists")
            obj["metadata"].update(uid=str(uuid.uuid4()), resourceVersion=self._next_version())
            if call.plural == "deployments":
                self._follows.add(key)
                obj["status"] = {"replicas": obj["spec"]["replicas"], "observedGeneration": 1}
            self.emulator.objects[key] = obj
            return copy.deepcopy(obj)

    def _replace_object(self, request: kmock.Request) -> dict[str, Any]:
        with self._lock:
            call = self._begin(request)
            body = self._checked_body(request, call)
            key = self._key(call.plural, call.namespace, call.name)
            if not self._exists(key):
                raise _not_found(call)  # none of these kinds is created by a PUT
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
            self._admit(call, obj, current)
            if key in self._follows:  # the instant controller
                obj["status"] = {"replicas": obj["spec"]["replicas"],
                                 "observedGeneration": obj["metadata"]["generation"]}
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
        # A cluster-scoped object's namespace is dropped, not refused.
        if call.plural not in CLUSTER_SCOPED and meta.get("namespace") not in (None, "", call.namespace):
            raise ApiStatus(400, "the namespace of the provided object does not match the namespace sent on the "
                                 "request", call.details)
        return body

    def _stamped(self, plural: str, namespace: str | None, name: str, body: dict[str, Any], *, uid: str,
                 created: str, version: str | None = None) -> dict[str, Any]:
        """``body`` as the server stores it: apiVersion and kind set, server-owned metadata its own."""
        group, version_, kind = OBJECTS[plural]
        obj = copy.deepcopy(body)
        meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in SERVER_META and k != "namespace"}
        if plural not in CLUSTER_SCOPED:
            meta["namespace"] = namespace
        meta.update(name=name, uid=uid, creationTimestamp=created, resourceVersion=version or self._next_version())
        obj.update(apiVersion=f"{group}/{version_}" if group else version_, kind=kind, metadata=meta)
        return obj

    # --- defaulting and validation of deployments and priorityclasses -------------------------------
    def _admit(self, call: _Call, obj: dict[str, Any], current: dict[str, Any] | None) -> None:
        """Default and validate ``obj`` (to be stored; ``current`` is the stored one on a replace), in place.

        A failure is ``422 Invalid`` naming the field, as the real server words it.
        """
        if call.plural == "deployments":
            self._admit_deployment(call, obj, current)
        elif call.plural == "priorityclasses":
            self._admit_priority_class(call, obj, current)

    @staticmethod
    def _admit_deployment(call: _Call, obj: dict[str, Any], current: dict[str, Any] | None) -> None:
        spec = obj.setdefault("spec", {})
        spec.setdefault("replicas", 1)
        replicas = spec["replicas"]
        if not isinstance(replicas, int) or replicas < 0:
            raise _invalid(call, "Deployment.apps", f"spec.replicas: Invalid value: {replicas}: must be greater "
                                                    "than or equal to 0")
        selector = spec.get("selector") or {}
        match_labels = selector.get("matchLabels") or {}
        if not match_labels and not selector.get("matchExpressions"):
            raise _invalid(call, "Deployment.apps", "spec.selector: Required value")
        template = spec.get("template") or {}
        labels = (template.get("metadata") or {}).get("labels") or {}
        if any(labels.get(k) != v for k, v in match_labels.items()):
            raise _invalid(call, "Deployment.apps", f"spec.template.metadata.labels: Invalid value: {labels}: "
                                                    "`selector` does not match template `labels`")
        containers = (template.get("spec") or {}).get("containers") or []
        if not containers:
            raise _invalid(call, "Deployment.apps", "spec.template.spec.containers: Required value")
        for i, container in enumerate(containers):
            resources = container.get("resources") or {}
            requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
            for resource, quantity in requests.items():
                if not _extended(resource):
                    continue
                field = f"spec.template.spec.containers[{i}].resources"
                if resource not in limits:
                    raise _invalid(call, "Deployment.apps", f"{field}.limits: Required value: Limit must be set "
                                                            "for non overcommitable resources")
                if str(limits[resource]) != str(quantity):
                    raise _invalid(call, "Deployment.apps", f'{field}.requests[{resource}]: Invalid value: '
                                                            f'"{quantity}": must be equal to {resource} limit of '
                                                            f"{limits[resource]}")
        # Server-owned: generation counts spec changes, status is written only by controllers.
        obj["metadata"]["generation"] = 1
        obj.pop("status", None)
        if current is not None:
            if (current.get("spec") or {}).get("selector") != selector:
                raise _invalid(call, "Deployment.apps", f"spec.selector: Invalid value: {selector}: field is "
                                                        "immutable")
            generation = int(current["metadata"].get("generation") or 1)
            obj["metadata"]["generation"] = generation + (1 if current.get("spec") != spec else 0)
            if "status" in current:
                obj["status"] = copy.deepcopy(current["status"])

    def _admit_priority_class(self, call: _Call, obj: dict[str, Any], current: dict[str, Any] | None) -> None:
        what = "PriorityClass.scheduling.k8s.io"
        obj.setdefault("value", 0)
        obj.setdefault("preemptionPolicy", "PreemptLowerPriority")
        value, policy = obj["value"], obj["preemptionPolicy"]
        if not isinstance(value, int):
            raise ApiStatus(400, f"PriorityClass in version \"v1\" cannot be handled as a PriorityClass: value: "
                                 f"expected an integer, got {value!r}", call.details, reason="BadRequest")
        if call.name.startswith("system-"):
            raise _invalid(call, what, f'metadata.name: Invalid value: "{call.name}": priority class names with '
                                       "'system-' prefix are reserved")
        if value > MAX_USER_PRIORITY:
            raise _invalid(call, what, f"value: Forbidden: maximum allowed value of a user defined priority is "
                                       f"{MAX_USER_PRIORITY}")
        if policy not in PREEMPTION_POLICIES:
            raise _invalid(call, what, f'preemptionPolicy: Unsupported value: "{policy}": supported values: '
                                       '"Never", "PreemptLowerPriority"')
        if current is not None:
            if current.get("value") != value:
                raise _invalid(call, what, "value: Forbidden: may not be changed in an update.")
            if current.get("preemptionPolicy") != policy:
                raise _invalid(call, what, f'preemptionPolicy: Invalid value: "{policy}": field is immutable')
        if obj.get("globalDefault"):  # the Priority admission plugin allows one default class
            resource = self._key(call.plural, None, call.name)[0]
            for (res, _, name), other in self.emulator.objects.items():
                if res == resource and name != call.name and not other.deleted and other.raw.get("globalDefault"):
                    raise _invalid(call, what, f'globalDefault: Invalid value: true: PriorityClass "{name}" is '
                                               "already marked as default. Only one default can exist")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _set_ready(status: dict[str, Any], ready: Any) -> None:
    """``status.readyReplicas`` = ``ready``, left out when 0 (Cluster API omits it); any other value is kept as
    given, so a test can serve a hostile one."""
    status.pop("readyReplicas", None)
    if type(ready) is not int or ready != 0:
        status["readyReplicas"] = ready


def _extended(resource: str) -> bool:
    """Whether ``resource`` is an extended resource (``nvidia.com/gpu``): requests must equal limits."""
    domain = resource.split("/", 1)[0] if "/" in resource else ""
    return bool(domain) and not domain.endswith("kubernetes.io") and not resource.startswith("requests.")


def _equality_selector(text: str, call: _Call) -> dict[str, str]:
    """``"a=b,c==d"`` → ``{"a": "b", "c": "d"}``; other selectors (``!=``, ``in``, ``!a``) are refused with 400,
    not silently misread: the double only implements equality."""
    wanted: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.replace("==", "=", 1).partition("=")
        if not sep or not key or key.endswith("!") or any(c in key + value for c in " ()!="):
            raise ApiStatus(400, f"unable to parse requirement: {part!r} (the double serves only equality "
                                 "selectors)", call.details)
        wanted[key] = value
    return wanted


def _invalid(call: _Call, what: str, cause: str) -> ApiStatus:
    return ApiStatus(422, f'{what} "{call.name}" is invalid: {cause}', call.details)


def _not_found(call: _Call) -> ApiStatus:
    return ApiStatus(404, f'{_qualified(call.plural, call.group)} "{call.name}" not found', call.details)


def _conflict(call: _Call) -> ApiStatus:
    return ApiStatus(409, f'Operation cannot be fulfilled on {_qualified(call.plural, call.group)} "{call.name}": '
                          "the object has been modified; please apply your changes to the latest version and try "
                          "again", call.details)
