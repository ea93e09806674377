"""``deploy/`` renders, every object is valid for Kubernetes, and the pieces agree with each other and with the
example config (the Components are tested in ``test_components.py``; fixtures in ``conftest.py``).

Rendering is :mod:`tests.unit.deploy.kustomize` (a strict subset of kustomize, in Python). Built-in kinds
are validated with ``kubernetes-validate`` (the Kubernetes OpenAPI schemas, strict: unknown fields fail)
for the oldest and newest versions we claim; the prometheus-operator ``ServiceMonitor`` against
:data:`SERVICEMONITOR_SCHEMA`, a documented subset of its CRD.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from forecastscale.config import Config
from tests.unit.deploy.kustomize import (
    BASE,
    COMPONENTS,
    DEPLOY,
    REPO,
    Obj,
    bound_grants,
    find,
    one,
    render,
)

# Oldest and newest Kubernetes minor versions the manifests are checked against (kubernetes-validate ships
# the schemas of every release up to its own version; 1.37 needs kubernetes-validate >= 1.37).
KUBERNETES_VERSIONS = ("1.30", "1.37")
NAMESPACE = "forecastscale"
CRD_KINDS = frozenset({"ServiceMonitor"})

# A subset of monitoring.coreos.com/v1 ServiceMonitor (prometheus-operator's CRD openAPIV3Schema): the
# fields deploy/ uses, typed as in the CRD (spec.selector and spec.endpoints are required there too;
# interval/scrapeTimeout follow the CRD's Duration pattern). additionalProperties false: a field outside
# the subset (or a typo) fails here and must be added with its CRD type.
_DURATION = r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"
_LABEL_SELECTOR: dict[str, Any] = {
    "type": "object", "additionalProperties": False,
    "properties": {"matchLabels": {"type": "object", "additionalProperties": {"type": "string"}},
                   "matchExpressions": {"type": "array", "items": {
                       "type": "object", "required": ["key", "operator"],
                       "properties": {"key": {"type": "string"}, "operator": {"type": "string"},
                                      "values": {"type": "array", "items": {"type": "string"}}}}}},
}
SERVICEMONITOR_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["apiVersion", "kind", "metadata", "spec"], "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "ServiceMonitor"},
        "metadata": {"type": "object", "required": ["name"], "properties": {
            "name": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
            "namespace": {"type": "string"},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}}}},
        "spec": {"type": "object", "required": ["selector", "endpoints"], "additionalProperties": False,
                 "properties": {
                     "selector": _LABEL_SELECTOR,
                     "namespaceSelector": {"type": "object", "additionalProperties": False, "properties": {
                         "any": {"type": "boolean"}, "matchNames": {"type": "array", "items": {"type": "string"}}}},
                     "jobLabel": {"type": "string"},
                     "endpoints": {"type": "array", "minItems": 1, "items": {
                         "type": "object", "additionalProperties": False, "properties": {
                             "port": {"type": "string"},
                             "path": {"type": "string"},
                             "scheme": {"enum": ["http", "https", "HTTP", "HTTPS"]},
                             "interval": {"type": "string", "pattern": _DURATION},
                             "scrapeTimeout": {"type": "string", "pattern": _DURATION},
                             "honorLabels": {"type": "boolean"}}}}}},
    },
}


# --- rendering and schemas ------------------------------------------------------------------------------
def test_base_overlay_and_access_render(objects: list[Obj], base: list[Obj]) -> None:
    kinds = sorted({o["kind"] for o in base})
    assert kinds == ["ClusterRole", "ConfigMap", "Deployment", "Namespace", "NetworkPolicy",
                     "PodDisruptionBudget", "Role", "RoleBinding", "Service", "ServiceAccount"]
    assert render(BASE) == base  # deploy/ is deploy/base/, included so that no overlay sits inside its base
    overlay = render(DEPLOY / "overlays" / "servicemonitor")
    assert [o for o in overlay if o["kind"] != "ServiceMonitor"] == base  # the overlay only adds
    for obj in base + overlay:
        if obj["kind"] not in ("Namespace", "ClusterRole", "ClusterRoleBinding"):
            assert obj["metadata"]["namespace"] == NAMESPACE, obj["metadata"]["name"]
        assert obj["metadata"]["labels"]["app.kubernetes.io/part-of"] == "forecastscale"
    assert not find(objects, "Secret"), "the webhook token Secret is created by hand, never shipped"


def validate_all(objects: list[Obj], version: str) -> None:
    for obj in objects:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path)
            pytest.fail(f"{obj['kind']} {obj['metadata']['name']} invalid for Kubernetes {version}: {path}: "
                        f"{exc.message}")


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_builtin_object_is_valid_for_kubernetes(objects: list[Obj], version: str) -> None:
    builtin = [o for o in objects if o["kind"] not in CRD_KINDS]
    validate_all(builtin, version)
    assert len(builtin) == len(objects) - 1


def test_the_validator_refuses_a_broken_object(deployment: Obj) -> None:
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    broken["spec"]["template"]["spec"]["containers"][0]["securityContext"]["runAsNonroot"] = True  # typo
    with pytest.raises(kubernetes_validate.ValidationError, match="runAsNonroot"):
        kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[-1], strict=True)


def test_servicemonitor_matches_the_crd_subset_and_the_service(objects: list[Obj]) -> None:
    monitor = one(objects, "ServiceMonitor")
    jsonschema.validate(monitor, SERVICEMONITOR_SCHEMA)
    service = one(objects, "Service", "forecastscale")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert {e["port"] for e in monitor["spec"]["endpoints"]} <= {p["name"] for p in service["spec"]["ports"]}
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**monitor, "spec": {**monitor["spec"], "endpoints": [{"interval": "30 s"}]}},
                            SERVICEMONITOR_SCHEMA)


def test_the_examples_are_only_examples() -> None:
    example = DEPLOY / "examples" / "webhook-secret.example.yaml"
    secret = yaml.safe_load(example.read_text(encoding="utf-8"))
    kubernetes_validate.validate(secret, KUBERNETES_VERSIONS[-1], strict=True)
    assert secret["metadata"]["name"] == "forecastscale-webhook" and "token" in secret["stringData"]
    for kustomization in DEPLOY.rglob("kustomization.yaml"):
        k = yaml.safe_load(kustomization.read_text(encoding="utf-8"))
        assert not [e for e in (k.get("resources") or []) + (k.get("components") or []) if "examples" in e]


# --- the Deployment -----------------------------------------------------------------------------------------
def test_deployment_is_locked_down(deployment: Obj, container: Obj) -> None:
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert isinstance(pod["securityContext"]["runAsUser"], int) and pod["securityContext"]["runAsUser"] > 0
    sc = container["securityContext"]
    assert sc["runAsNonRoot"] is True and sc["allowPrivilegeEscalation"] is False
    assert sc["readOnlyRootFilesystem"] is True and sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"} and not sc.get("privileged")
    tmp = next(m for m in container["volumeMounts"] if m["mountPath"] == "/tmp")
    assert "emptyDir" in next(v for v in pod["volumes"] if v["name"] == tmp["name"])
    writable = [m["mountPath"] for m in container["volumeMounts"] if not m.get("readOnly")]
    assert writable == ["/tmp"]
    resources = container["resources"]
    assert set(resources["requests"]) == set(resources["limits"]) == {"cpu", "memory"}
    assert not pod.get("hostNetwork") and not pod.get("hostPID") and pod["serviceAccountName"] == "forecastscale"


def test_deployment_runs_the_service_with_leader_election(deployment: Obj, container: Obj, config: Config) -> None:
    assert deployment["spec"]["replicas"] == 2 and config.service.leader_election.enabled
    assert "--in-cluster" in container["args"] and "--identity=$(POD_NAME)" in container["args"]
    pod_name = next(e for e in container["env"] if e["name"] == "POD_NAME")
    assert pod_name["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    port = next(p for p in container["ports"] if p["name"] == "http")
    assert port["containerPort"] == config.service.http_port
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_config_map_holds_a_valid_config_with_the_mounted_token(deployment: Obj, container: Obj,
                                                                 config: Config) -> None:
    assert config.service.namespace == NAMESPACE
    token = config.service.webhook_token_file
    assert token is not None and token.is_absolute()
    mount = next(m for m in container["volumeMounts"] if token.parent == Path(m["mountPath"]))
    volume = next(v for v in deployment["spec"]["template"]["spec"]["volumes"] if v["name"] == mount["name"])
    assert volume["secret"]["secretName"] == "forecastscale-webhook" and "items" not in volume["secret"]
    assert token.name == "token"  # the Secret's key (the example and the README's kubectl create secret)
    config_mount = next(m for m in container["volumeMounts"] if m["mountPath"] == "/etc/forecastscale/config")
    volume = next(v for v in deployment["spec"]["template"]["spec"]["volumes"] if v["name"] == config_mount["name"])
    assert volume["configMap"]["name"] == "forecastscale-config"
    assert config.service.prometheus_url and all(config.query(t, "demand") for t in config.targets)


def test_service_pdb_and_network_policy_expose_only_the_http_port(base: list[Obj], deployment: Obj,
                                                                  config: Config) -> None:
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    service = one(base, "Service", "forecastscale")
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert [(p["port"], p["targetPort"]) for p in service["spec"]["ports"]] == [(config.service.http_port, "http")]
    pdb = one(base, "PodDisruptionBudget")
    assert pdb["spec"]["minAvailable"] == 1 and pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    policy = one(base, "NetworkPolicy")
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= pod_labels.items()
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    assert [rule["ports"] for rule in policy["spec"]["ingress"]] == [[{"port": "http", "protocol": "TCP"}]]


def test_network_policy_admits_only_labelled_clients_and_prometheus(base: list[Obj], config: Config) -> None:
    (rule,) = one(base, "NetworkPolicy")["spec"]["ingress"]
    clients, scraper = rule["from"]  # each peer selects pods: never a bare namespace or an open rule
    assert clients == {"namespaceSelector": {}, "podSelector": {"matchLabels": {"forecastscale.io/client": "true"}}}
    assert scraper["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}
    # the Prometheus the config queries (http://<service>.<namespace>.svc:9090) is the one admitted to scrape
    assert config.service.prometheus_url is not None
    host = config.service.prometheus_url.split("//", 1)[1].split(":", 1)[0]
    assert scraper["namespaceSelector"] == {"matchLabels": {"kubernetes.io/metadata.name": host.split(".")[1]}}


# --- RBAC against the config ------------------------------------------------------------------------------
def test_rbac_names_and_namespaces_match_the_config(objects: list[Obj], config: Config) -> None:
    role = one(objects, "Role", "forecastscale")
    assert role["metadata"]["namespace"] == config.service.namespace
    names = {(r["resources"][0], v): r.get("resourceNames") for r in role["rules"] for v in r["verbs"]}
    assert names[("leases", "get")] == names[("leases", "update")] == [config.service.leader_election.lease_name]
    assert names[("configmaps", "get")] == names[("configmaps", "update")] == [config.service.plan_configmap]
    assert names[("leases", "create")] is None and names[("configmaps", "create")] is None

    def bound_in(namespace: str) -> set[str]:
        return {b["roleRef"]["name"] for b in find(objects, "RoleBinding")
                if b["metadata"]["namespace"] == namespace}

    for t in config.targets:
        assert "forecastscale-scale" in bound_in(t.workload.namespace), t.name
    for p in config.node_pools:
        if p.machine_deployment is not None:
            assert "forecastscale-scale" in bound_in(p.machine_deployment.namespace), p.name
        if p.balloon is not None:
            assert "forecastscale-balloon" in bound_in(p.balloon.namespace), p.name
            cluster = one(objects, "ClusterRole", "forecastscale-priorityclass")
            assert any(p.balloon.priority_class in (r.get("resourceNames") or []) for r in cluster["rules"])
    for binding in find(objects, "RoleBinding") + find(objects, "ClusterRoleBinding"):
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "forecastscale", "namespace": NAMESPACE}]
    # The workload ClusterRoles are templates: bound per namespace, never cluster-wide.
    cluster_wide = sorted(b["roleRef"]["name"] for b in find(objects, "ClusterRoleBinding"))
    assert cluster_wide == ["forecastscale-nodes", "forecastscale-priorityclass"]


def test_rbac_has_no_wildcards_and_no_reads_beyond_need(objects: list[Obj]) -> None:
    grants = bound_grants(objects)
    assert grants and all("*" not in (g.verb, g.group, g.resource, g.subresource) for g in grants)
    assert {g.verb for g in grants} == {"get", "update", "create", "list"}
    assert not [g for g in grants if g.resource in ("secrets", "pods", "events", "roles", "clusterroles")]


# --- the image -------------------------------------------------------------------------------------------
def test_dockerfile_matches_the_deployment(deployment: Obj) -> None:
    text = (REPO / "Dockerfile").read_text(encoding="utf-8")
    stages = re.findall(r"^FROM (\S+)(?: AS (\S+))?", text, re.MULTILINE)
    assert [s[0] for s in stages] == ["python:3.11-slim", "python:3.11-slim"] and stages[0][1] == "builder"
    final = text.split("\nFROM ")[-1]
    assert "pip wheel" in text and "apt-get" not in final and "COPY --from=builder" in final
    user = re.search(r"^USER (\d+):(\d+)$", final, re.MULTILINE)
    assert user is not None
    pod_sc = deployment["spec"]["template"]["spec"]["securityContext"]
    assert (int(user[1]), int(user[2])) == (pod_sc["runAsUser"], pod_sc["runAsGroup"])
    assert re.search(r'^ENTRYPOINT \["forecastscale", "run"\]$', final, re.MULTILINE)
    for var in ("HOME=/tmp", "MPLCONFIGDIR=/tmp/"):
        assert var in final
    ignore = (REPO / ".dockerignore").read_text(encoding="utf-8").split()
    assert ignore[ignore.index("*") + 1:][:3] == ["!pyproject.toml", "!README.md", "!forecastscale"]


# --- the README's commands --------------------------------------------------------------------------------
def test_readme_deploy_commands_name_what_deploy_ships(objects: list[Obj]) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Deploy\n", 1)[1].split("\n## ", 1)[0]
    dirs = re.findall(r"kubectl (?:apply|delete) -k ([\w/.-]+)", section)
    assert {d.rstrip("/") for d in dirs} >= {"deploy", "deploy/access", "deploy/overlays/servicemonitor"}
    for d in dirs:
        assert render(REPO / d), d  # each renders to something
    for f in re.findall(r"kubectl apply -f (\S+)", section):
        assert yaml.safe_load((REPO / f).read_text(encoding="utf-8"))["kind"] == "Namespace"
    secret = re.search(r"-n (\S+) create secret generic (\S+) --from-literal=(\w+)=", section)
    assert secret is not None and secret.groups() == (NAMESPACE, "forecastscale-webhook", "token")
    lease = re.search(r"get lease (\S+) ", section)
    assert lease is not None and lease[1] == one(objects, "Role")["rules"][0]["resourceNames"][0]
    assert "--as system:serviceaccount:forecastscale:forecastscale" in section
    for component in COMPONENTS.iterdir():  # each says what it is for
        assert f"deploy/components/{component.name}" in section, component.name
