"""The kustomize Components of ``deploy/components/``: each renders on its own and is valid for Kubernetes, the
renderer applies them with kustomize's semantics, the base binds nothing cluster-wide, ``deploy/access/`` adds
exactly the RBAC Components the example config needs, and the TLS Component mounts what the config must name."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from forecastscale.config import Config, parse_config
from tests.unit.deploy.kustomize import (
    COMPONENTS,
    DEPLOY,
    REPO,
    KustomizeError,
    Obj,
    bound_grants,
    deploy_objects,
    find,
    one,
    render,
)
from tests.unit.deploy.test_manifests import KUBERNETES_VERSIONS, validate_all

# Each Component and the kustomization it is rendered into for the tests: the RBAC ones go where deploy/access/
# includes them, tls into the base (it patches the Deployment). A new Component must be added here.
COMPONENT_HOSTS = {"balloon-pools": DEPLOY / "access", "node-health": DEPLOY / "access", "tls": DEPLOY}
TLS_MOUNT = Path("/etc/forecastscale/tls")


def test_every_component_is_listed_here() -> None:
    assert sorted(p.name for p in COMPONENTS.iterdir()) == sorted(COMPONENT_HOSTS)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("component", sorted(COMPONENT_HOSTS))
def test_every_component_renders_alone_and_is_valid(component: str, version: str) -> None:
    host = COMPONENT_HOSTS[component]
    without, alone = render(host, components=[]), render(host, components=[COMPONENTS / component])
    assert alone != without, f"{component} changes nothing"
    validate_all(alone, version)
    for obj in alone:  # the host's labels reach the component's objects, as kustomize applies them after it
        assert obj["metadata"]["labels"]["app.kubernetes.io/part-of"] == "forecastscale"


KUSTOMIZATION = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
COMPONENT = "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n"


def write(path: Path, text: str) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "kustomization.yaml").write_text(text, encoding="utf-8")
    return path


def test_the_renderer_refuses_what_it_does_not_implement(tmp_path: Path) -> None:
    write(tmp_path, KUSTOMIZATION + "resources: []\nreplacements: []\n")
    with pytest.raises(KustomizeError, match="replacements"):
        render(tmp_path)
    (tmp_path / "a.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n", encoding="utf-8")
    write(tmp_path, KUSTOMIZATION + "resources: [a.yaml, a.yaml]\n")
    with pytest.raises(KustomizeError, match="more than once"):
        render(tmp_path)
    smp = "patches:\n  - target: {kind: ConfigMap}\n    patch: '{data: {a: b}}'\n"
    write(tmp_path, KUSTOMIZATION + "resources: [a.yaml]\n" + smp)
    with pytest.raises(KustomizeError, match="strategic merge patches are not"):
        render(tmp_path)
    json6902 = smp.replace("'{data: {a: b}}'", "'[{op: add, path: /data, value: {}}]'")
    write(tmp_path, KUSTOMIZATION + "resources: [a.yaml]\n" + json6902.replace("ConfigMap", "Secret"))
    with pytest.raises(KustomizeError, match="selects nothing"):
        render(tmp_path)


def test_components_follow_kustomize_semantics(tmp_path: Path) -> None:
    """A Component sees (and patches) what its parent accumulated before it; the parent's namespace and
    labels then reach the Component's objects; the kinds of the two may not be swapped."""
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: base}\n",
                                              encoding="utf-8")
    comp = write(tmp_path / "comp", COMPONENT + "resources: [extra.yaml]\npatches:\n"
                 "  - target: {version: v1, kind: ConfigMap, name: ba.e}\n"
                 "    patch: '[{op: add, path: /data, value: {from: component}}]'\n")
    (comp / "extra.yaml").write_text("apiVersion: v1\nkind: Secret\nmetadata: {name: extra}\n", encoding="utf-8")
    labels = "labels:\n  - pairs: {team: x}\n    includeSelectors: false\n"
    write(tmp_path / "app", KUSTOMIZATION + f"namespace: ns\n{labels}resources: [cm.yaml]\ncomponents: [../comp]\n")
    rendered = render(tmp_path / "app")
    assert [(o["kind"], o["metadata"]["namespace"], o["metadata"]["labels"]) for o in rendered] == [
        ("ConfigMap", "ns", {"team": "x"}), ("Secret", "ns", {"team": "x"})]
    assert rendered[0]["data"] == {"from": "component"}
    assert [o["kind"] for o in render(tmp_path / "app", components=[])] == ["ConfigMap"]
    write(tmp_path / "wrong", KUSTOMIZATION + "resources: [../comp]\n")
    with pytest.raises(KustomizeError, match="expected kind 'Kustomization'"):
        render(tmp_path / "wrong")
    write(tmp_path / "wrong", KUSTOMIZATION + "components: [../app]\n")
    with pytest.raises(KustomizeError, match="expected kind 'Component'"):
        render(tmp_path / "wrong")


def test_the_base_grants_nothing_cluster_wide(base: list[Obj]) -> None:
    assert not find(base, "ClusterRoleBinding") and not find(deploy_objects(components=[]), "ClusterRoleBinding")
    grants = bound_grants(deploy_objects(components=[]))
    assert grants and not [g for g in grants if g.resource in ("nodes", "priorityclasses")]
    assert not find(base, "ClusterRole", "forecastscale-balloon")  # the balloon role comes with its Component


def test_access_adds_the_components_the_config_uses_and_no_other(config: Config) -> None:
    k = yaml.safe_load((DEPLOY / "access" / "kustomization.yaml").read_text(encoding="utf-8"))
    needed = {"balloon-pools": any(p.balloon is not None for p in config.node_pools),
              "node-health": any(p.health.enabled for p in config.node_pools)}
    assert sorted(Path(c).name for c in k["components"]) == sorted(name for name, used in needed.items() if used)
    assert all((DEPLOY / "access" / c).resolve().parent == COMPONENTS for c in k["components"])


def test_the_tls_component_mounts_the_secret_and_probes_speak_https(config: Config) -> None:
    deployment = one(render(DEPLOY, components=[COMPONENTS / "tls"]), "Deployment", "forecastscale")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    mount = next(m for m in container["volumeMounts"] if Path(m["mountPath"]) == TLS_MOUNT)
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    assert mount["readOnly"] and volume["secret"] == {"secretName": "forecastscale-tls", "defaultMode": 0o440}
    assert all(container[p]["httpGet"]["scheme"] == "HTTPS" for p in ("livenessProbe", "readinessProbe",
                                                                       "startupProbe"))
    certificate = yaml.safe_load((DEPLOY / "examples" / "certificate.example.yaml").read_text(encoding="utf-8"))
    assert certificate["kind"] == "Certificate" and certificate["spec"]["secretName"] == "forecastscale-tls"
    # the config lines the component and the README tell to add: files of that Secret (kubernetes.io/tls keys)
    for text in ((COMPONENTS / "tls" / "kustomization.yaml").read_text(encoding="utf-8"),
                 (REPO / "README.md").read_text(encoding="utf-8")):
        lines = dict(re.findall(r"(tls_cert_file|tls_key_file): (/\S+)", text))
        assert lines == {"tls_cert_file": str(TLS_MOUNT / "tls.crt"), "tls_key_file": str(TLS_MOUNT / "tls.key")}
        service = config.service.model_dump() | lines
        assert parse_config({**config.model_dump(mode="json"), "service": service}).service.tls_key_file
