"""RBAC matches usage: every Kubernetes API call the integration suite saw is granted by ``deploy/``.

The API-server double records each request it receives (:data:`tests.integration.kube.apiserver.RECORDED`:
RBAC verb, group, resource, subresource, and the test that made it). This module runs after every other
test of the session (``pytest_collection_modifyitems`` in ``tests/integration/conftest.py`` moves it last),
and checks the calls against the rules of every bound Role and ClusterRole in ``deploy/`` (the base, the
ServiceMonitor overlay and ``deploy/access/``). It fails with the list of calls no rule grants, and reports
(``UnusedGrantWarning``, and on stdout) the rules no call used. Run alone, nothing is recorded and it skips.

Resource names and namespaces are not compared: the tests use their own names; that the shipped config's
Lease, plan ConfigMap and namespaces match the Role's ``resourceNames`` and the RoleBindings is checked in
``tests/unit/deploy/test_manifests.py``.
"""

from __future__ import annotations

import warnings

import pytest

from tests.integration.kube.apiserver import RECORDED, ApiCall
from tests.unit.deploy.kustomize import Grant, bound_grants, deploy_objects

Key = tuple[str, str, str, str | None]  # (verb, group, resource, subresource)

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


def _function(test: str) -> str:
    """``path::test_name[param]`` → ``test_name``."""
    return test.rpartition("::")[2].split("[", 1)[0]


def _key(call: ApiCall) -> Key:
    return call.verb, call.group, call.resource, call.subresource


def _show(key: Key) -> str:
    verb, group, resource, sub = key
    return f"{verb} {group or 'core'}/{resource}" + (f"/{sub}" if sub else "")


def test_every_api_call_is_granted_by_deploy_rbac(capsys: pytest.CaptureFixture[str]) -> None:
    calls = list(RECORDED)
    if not calls:
        pytest.skip("no Kubernetes API calls recorded: run with the integration tests that use the API-server "
                    "double (tests/integration/kube, tests/integration/service), e.g. `python -m pytest tests`")
    grants = bound_grants(deploy_objects())
    assert grants, "deploy/ has no bound Role or ClusterRole"

    non_resource = sorted({c.non_resource_url or "" for c in calls if c.non_resource_url})
    excluded: set[tuple[str, str, str, str, str | None]] = set()
    product: dict[Key, list[str]] = {}
    for call in calls:
        if call.non_resource_url:
            continue
        entry = (_function(call.test), *_key(call))
        if entry in NOT_PRODUCT_CALLS:
            excluded.add(entry)
            continue
        product.setdefault(_key(call), []).append(call.test or "(outside a test)")

    ungranted = {key: tests for key, tests in product.items() if not any(g.allows(*key) for g in grants)}
    tested = {_function(c.test) for c in calls}
    stale = [e for e in NOT_PRODUCT_CALLS if e[0] in tested and e not in excluded]
    unused: list[Grant] = [g for g in grants if not any(g.allows(*key) for key in product)]

    with capsys.disabled():
        print(f"\nRBAC usage: {len(calls)} API calls recorded, {len(product)} distinct product calls:")
        for key in sorted(product, key=_show):
            print(f"  {_show(key):55} x{len(product[key]):<5} {'GRANTED' if key not in ungranted else 'NOT GRANTED'}")
        for entry in sorted(excluded, key=str):
            print(f"  excluded (not a product call): {_show(entry[1:])} in {entry[0]}: {NOT_PRODUCT_CALLS[entry]}")
        for grant in unused:
            print(f"  unused grant: {grant}")
    for grant in unused:
        warnings.warn(f"deploy/ RBAC grant no recorded call used: {grant}", UnusedGrantWarning, stacklevel=1)

    problems = [f"{_show(key)} (first made by {tests[0]}, {len(tests)} calls) is not granted by deploy/ RBAC"
                for key, tests in sorted(ungranted.items(), key=lambda kv: _show(kv[0]))]
    problems += [f"non-resource request {url}: forecastscale should make none" for url in non_resource]
    problems += [f"stale exclusion: {_show(e[1:])} was not made by {e[0]}" for e in stale]
    assert not problems, "\n".join(problems)
