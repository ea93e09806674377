"""RBAC matches usage: a config needs exactly the RBAC combination ``deploy/`` offers for it, and every
Kubernetes API call the integration suite made is granted by what ``deploy/`` ships.

**Combinations.** The base (``deploy/`` and ``deploy/access/``'s RoleBindings) grants nothing cluster-wide;
``deploy/components/balloon-pools`` adds what balloon pools need, ``deploy/components/node-health`` what
health checks need. For each combination this module runs the real service itself — ``build_service`` with
the official client against a fresh API-server double, and the session's real Prometheus — on a config that
uses exactly that feature set (two replicas: a leader, a standby, a handover), and takes the calls that
double recorded (:meth:`ScaleApiDouble.calls`). So each call is attributed to a combination by construction:
by the config that made it, not by guessing from the resource or the test's name. Then:

* every call of the run is granted by the base plus that combination's components (the promise);
* every grant of the combination's own part — the base's rules for the base run, the component's rules for a
  component run — was used by the run (least privilege, and the run cannot be vacuous: a run that did not
  exercise the feature leaves a grant unused and fails);
* no other combination grants all the calls of the run (the component is needed, and the right one).

This is meaningful run on its own (``pytest tests/integration/test_rbac_usage.py``): nothing is skipped.

**The whole suite.** Every double also records into the session-wide :data:`RECORDED`. The last test checks
every call recorded so far — the runs above, and, when the suite ran, every other integration test's — against
the RBAC ``deploy/`` ships for its example config (base, overlay, ``deploy/access/`` with both components),
and names the smallest combination each call needs. ``pytest_collection_modifyitems`` in
``tests/integration/conftest.py`` moves this module last. Calls that only tests of the double itself make are
excluded by name, with the reason (:data:`NOT_PRODUCT_CALLS`); unused grants are reported.

Resource names and namespaces are not compared: the runs use their own; that the shipped config's Lease, plan
ConfigMap and namespaces match the Role's ``resourceNames`` and the RoleBindings is checked in
``tests/unit/deploy/test_manifests.py``, and which components ``deploy/access/`` adds for that config too.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import pytest
from kubernetes import client
from prometheus_client import CollectorRegistry

from forecastscale.config import parse_config
from forecastscale.service.wiring import build_service
from tests.integration.conftest import METRIC, PrometheusServer
from tests.integration.kube.apiserver import RECORDED, ApiCall, ScaleApiDouble
from tests.unit.deploy.kustomize import Grant, bound_grants, deploy_objects

Key = tuple[str, str, str, str | None]  # (verb, group, resource, subresource)
COMBINATIONS: dict[str, tuple[str, ...]] = {  # name → components added to the base
    "base": (), "balloon-pools": ("balloon-pools",), "node-health": ("node-health",)}

# Calls the suite makes on purpose that forecastscale itself never makes: tests of the API-server double's
# own behaviour drive the official client directly. (test function, verb, group, resource, subresource) → why.
# Each entry must still be made by its test (a stale entry fails), and nothing is excluded implicitly.
NOT_PRODUCT_CALLS: dict[tuple[str, str, str, str, str | None], str] = {
    ("test_double_deployment_create_replace_and_conflicts", "get", "apps", "deployments", None):
        "reads a whole Deployment back; BalloonPool only creates it, then uses its scale subresource",
    ("test_double_deployment_create_replace_and_conflicts", "update", "apps", "deployments", None):
        "replaces a whole Deployment (generation, conflicts); forecastscale never writes a Deployment's spec",
    ("test_double_priority_classes_are_cluster_scoped", "update", "scheduling.k8s.io", "priorityclasses", None):
        "checks the double keeps PriorityClass.value immutable; BalloonPool never replaces a PriorityClass",
    ("test_the_double_serves_one_node_and_its_list_as_the_real_server", "get", "", "nodes", None):
        "reads one Node; NodeLister only lists nodes by label selector",
}


class UnusedGrantWarning(UserWarning):
    """A rule in deploy/ RBAC that no recorded call used."""


# --- the runs: one config per combination ------------------------------------------------------------------
def _pool(combination: str) -> dict[str, Any]:
    """The one node pool, using exactly the feature of ``combination`` (the base: a Cluster API pool)."""
    pool: dict[str, Any] = {"name": "gpu", "gpus_per_node": 8, "max_nodes": 20}
    if combination == "balloon-pools":
        return pool | {"balloon": {"namespace": "balloons"}, "headroom_nodes": 1}  # ≥ 1 node: a balloon is made
    pool["machine_deployment"] = {"name": "gpu-md", "namespace": "capi"}
    if combination == "node-health":
        pool |= {"labels": {"pool": "gpu"}, "health": {"enabled": True}}
    return pool


def scenario_config(combination: str) -> dict[str, Any]:
    """Two targets (a Deployment and a StatefulSet) fed by the backfilled series, leader election, and the
    pool of :func:`_pool`. Demand (tens of requests/s at 8 per replica) is far above the 1 replica stored, so
    every run writes scale subresources."""
    def target(name: str, kind: str, series: str) -> dict[str, Any]:
        return {"name": name, "scaling": {"max_replicas": 30}, "forecast": {"window_s": 3600},
                "workload": {"kind": kind, "name": name, "namespace": "inference", "capacity_per_replica": 8},
                "queries": {"demand": f'{METRIC}{{target="{series}"}}'}}

    return {"service": {"tick_s": 60, "policy": "reactive", "http_port": 0, "namespace": "forecastscale",
                        "leader_election": {"enabled": True}},
            "node_pools": [_pool(combination)],
            "targets": [target("chat", "Deployment", "chat"), target("embedder", "StatefulSet", "batch")]}


class Clock:
    """Simulated seconds, for the decisions and the Lease alike."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _seed(kube: ScaleApiDouble, combination: str) -> None:
    """What the cluster holds before forecastscale starts."""
    kube.add("deployments", "inference", "chat", replicas=1)
    kube.add("statefulsets", "inference", "embedder", replicas=1)
    kube.add("machinedeployments", "capi", "gpu-md", replicas=0)  # the planned pods need ≥ 1 node: a write
    if combination == "balloon-pools":  # left by an earlier install: create answers 409, then it is read
        kube.add_object("priorityclasses", None, "forecastscale-balloon", {"value": -10, "preemptionPolicy": "Never"})
    if combination == "node-health":
        kube.add_node("n1", {"pool": "gpu"})
        kube.add_node("n2", {"pool": "gpu"}, ready=False)


def run_combination(combination: str, prometheus: PrometheusServer) -> list[ApiCall]:
    """Run the service on :func:`scenario_config` against a fresh double: a leader ticks while a standby
    waits, the leader stops (releasing the Lease), the standby takes over and ticks. The calls it made."""
    kube = ScaleApiDouble()
    kube.start()
    configuration = client.Configuration(host=kube.url)
    configuration.retries = False  # every request the client sends shows up once
    try:
        _seed(kube, combination)
        config, clock = parse_config(scenario_config(combination)), Clock(prometheus.end.timestamp() - 3600)
        with client.ApiClient(configuration) as api:
            first, second = (build_service(config, prometheus_url=prometheus.url, api=api, dry_run=False,
                                           registry=CollectorRegistry(), identity=name, clock=clock, monotonic=clock)
                             for name in ("pod-0", "pod-1"))
            assert first.elect() and not second.elect(), "pod-0 leads, pod-1 waits"
            first.tick()
            second.tick()
            first.close()  # releases the Lease
            clock.now += 60
            assert second.elect(), "pod-1 takes over the released Lease"
            second.tick()
            second.close()
        return kube.calls()
    finally:
        kube.stop()


Runs = Callable[[str], list[ApiCall]]


@pytest.fixture(scope="module")
def runs(prometheus: PrometheusServer) -> Runs:
    """``runs(name)``: the calls of :func:`run_combination`, run once per module, inside the test that first
    asks (so the calls are recorded under that test's id)."""
    done: dict[str, list[ApiCall]] = {}

    def run(name: str) -> list[ApiCall]:
        if name not in done:
            done[name] = run_combination(name, prometheus)
        return done[name]

    return run


def _key(call: ApiCall) -> Key:
    return call.verb, call.group, call.resource, call.subresource


def _show(key: Key) -> str:
    verb, group, resource, sub = key
    return f"{verb} {group or 'core'}/{resource}" + (f"/{sub}" if sub else "")


def grants_of(combination: str) -> list[Grant]:
    """What the base plus ``combination``'s components bind."""
    return bound_grants(deploy_objects(components=COMBINATIONS[combination]))


def ungranted(keys: set[Key], grants: list[Grant]) -> list[str]:
    return sorted(_show(k) for k in keys if not any(g.allows(*k) for g in grants))


@pytest.mark.parametrize("combination", list(COMBINATIONS))
def test_a_config_needs_exactly_its_rbac_combination(runs: Runs, combination: str) -> None:
    calls = runs(combination)
    assert not [c.non_resource_url for c in calls if c.non_resource_url], "forecastscale makes no non-resource call"
    keys = {_key(c) for c in calls}
    grants = grants_of(combination)
    missing = ungranted(keys, grants)
    assert not missing, f"{combination}: calls the deploy/ RBAC of this combination does not grant: {missing}"
    own = [g for g in grants if combination == "base" or g not in grants_of("base")]
    unused = [str(g) for g in own if not any(g.allows(*k) for k in keys)]
    assert own and not unused, f"{combination}: grants its run never used (not needed, or not exercised): {unused}"
    for other in COMBINATIONS.keys() - {combination}:
        if combination != "base":  # the base run is granted by every combination: each one adds to the base
            assert ungranted(keys, grants_of(other)), f"{combination}: {other} would do as well"


# --- the whole suite ---------------------------------------------------------------------------------------
def _function(test: str) -> str:
    """``path::test_name[param]`` → ``test_name``."""
    return test.rpartition("::")[2].split("[", 1)[0]


def _smallest(key: Key) -> str:
    """The first combination (base first) whose grants allow ``key``, or ``none``."""
    return next((name for name in COMBINATIONS if any(g.allows(*key) for g in grants_of(name))), "none")


def test_every_recorded_call_is_granted_by_the_shipped_rbac(runs: Runs, capsys: pytest.CaptureFixture[str]) -> None:
    ours = [call for name in COMBINATIONS for call in runs(name)]  # run here if this test runs alone
    calls = list(RECORDED)
    assert ours and set(ours) <= set(calls)
    grants = bound_grants(deploy_objects())
    excluded: set[tuple[str, str, str, str, str | None]] = set()
    product: dict[Key, list[str]] = {}
    for call in calls:
        entry = (_function(call.test), *_key(call))
        if entry in NOT_PRODUCT_CALLS:
            excluded.add(entry)
        elif not call.non_resource_url:
            product.setdefault(_key(call), []).append(call.test or "(outside a test)")
    missing = {key for key in product if not any(g.allows(*key) for g in grants)}
    tested = {_function(c.test) for c in calls}
    stale = [e for e in NOT_PRODUCT_CALLS if e[0] in tested and e not in excluded]
    unused: list[Grant] = [g for g in grants if not any(g.allows(*key) for key in product)]
    with capsys.disabled():
        print(f"\nRBAC usage: {len(calls)} API calls recorded, {len(product)} distinct product calls:")
        for key in sorted(product, key=_show):
            print(f"  {_show(key):55} x{len(product[key]):<5} needs {_smallest(key)}")
        for entry in sorted(excluded, key=str):
            print(f"  excluded (not a product call): {_show(entry[1:])} in {entry[0]}: {NOT_PRODUCT_CALLS[entry]}")
    for grant in unused:
        warnings.warn(f"deploy/ RBAC grant no recorded call used: {grant}", UnusedGrantWarning, stacklevel=1)
    problems = [f"{_show(key)} (first made by {product[key][0]}, {len(product[key])} calls) is not granted by "
                "deploy/ RBAC" for key in sorted(missing, key=_show)]
    problems += [f"non-resource request {c.non_resource_url} in {c.test}: forecastscale should make none"
                 for c in calls if c.non_resource_url]
    problems += [f"stale exclusion: {_show(e[1:])} was not made by {e[0]}" for e in stale]
    assert not problems, "\n".join(problems)
