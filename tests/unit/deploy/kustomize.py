"""A small, strict kustomize: render ``deploy/`` in Python, and read the RBAC rules out of it.

Implements what ``deploy/`` uses of kustomize and refuses anything else (so a kustomization that grows a
feature this renderer does not do fails the tests instead of being rendered wrong):

* ``resources``: YAML files (several documents each) and directories holding a ``kustomization.yaml``
  (rendered recursively, as kustomize does for a base);
* ``namespace``: set on every namespaced object (not on cluster-scoped kinds); subjects of bindings are
  left as written (``deploy/`` names the namespace in every subject);
* ``labels`` (``pairs`` with ``includeSelectors: false``): added to each object's ``metadata.labels``,
  and with ``includeTemplates: true`` to pod templates too;
* an object id (apiVersion group, kind, namespace, name) may occur once, as kustomize requires.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[3]
DEPLOY = REPO / "deploy"
KNOWN_KEYS = frozenset({"apiVersion", "kind", "namespace", "labels", "resources"})
CLUSTER_SCOPED = frozenset({
    "Namespace", "ClusterRole", "ClusterRoleBinding", "PriorityClass", "CustomResourceDefinition", "Node",
    "PersistentVolume", "StorageClass", "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration",
})

Obj = dict[str, Any]


class KustomizeError(ValueError):
    """The kustomization asks for something this renderer does not do, or is malformed."""


def render(directory: Path) -> list[Obj]:
    """The objects ``kustomize build directory`` would print (for the features above), in order."""
    kfile = directory / "kustomization.yaml"
    k = yaml.safe_load(kfile.read_text(encoding="utf-8"))
    if not isinstance(k, dict):
        raise KustomizeError(f"{kfile}: not a mapping")
    unknown = sorted(set(k) - KNOWN_KEYS)
    if unknown:
        raise KustomizeError(f"{kfile}: not implemented by this renderer: {unknown}")
    objects: list[Obj] = []
    for entry in k.get("resources") or []:
        path = (directory / entry).resolve()
        if path.is_dir():
            objects += render(path)
        else:
            objects += [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc is not None]
    namespace = k.get("namespace")
    for obj in objects:
        meta = obj.setdefault("metadata", {})
        if namespace and obj["kind"] not in CLUSTER_SCOPED:
            meta["namespace"] = namespace
        for item in k.get("labels") or []:
            if set(item) - {"pairs", "includeSelectors", "includeTemplates"} or item.get("includeSelectors"):
                raise KustomizeError(f"{kfile}: labels: only pairs (includeSelectors false) are implemented")
            meta.setdefault("labels", {}).update(item["pairs"])
            template = (obj.get("spec") or {}).get("template")
            if item.get("includeTemplates") and template is not None:
                template.setdefault("metadata", {}).setdefault("labels", {}).update(item["pairs"])
    ids = [object_id(o) for o in objects]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise KustomizeError(f"{directory}: objects defined more than once: {duplicates}")
    return copy.deepcopy(objects)


def object_id(obj: Obj) -> tuple[str, str, str, str]:
    """(group, kind, namespace, name), kustomize's resource id."""
    group = obj["apiVersion"].rpartition("/")[0]
    meta = obj["metadata"]
    return group, obj["kind"], meta.get("namespace") or "", meta["name"]


def find(objects: Iterable[Obj], kind: str, name: str | None = None) -> list[Obj]:
    """The objects of ``kind`` (and ``name``)."""
    return [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]


@dataclass(frozen=True)
class Grant:
    """One (verb, group, resource, subresource) a bound Role or ClusterRole allows (``*`` as written)."""

    role: str
    verb: str
    group: str
    resource: str
    subresource: str | None
    resource_names: tuple[str, ...] = ()

    def allows(self, verb: str, group: str, resource: str, subresource: str | None) -> bool:
        """Whether this grant covers the call, as the RBAC authorizer matches rules (names aside)."""
        if self.verb not in ("*", verb) or self.group not in ("*", group):
            return False
        if self.resource == "*":
            return subresource is None or self.subresource in ("*", subresource)
        return self.resource == resource and self.subresource == subresource

    def __str__(self) -> str:
        res = self.resource + (f"/{self.subresource}" if self.subresource else "")
        names = f" {list(self.resource_names)}" if self.resource_names else ""
        return f"{self.verb} {self.group or 'core'}/{res}{names} ({self.role})"


def bound_grants(objects: Iterable[Obj]) -> list[Grant]:
    """Every rule of every Role/ClusterRole that some RoleBinding/ClusterRoleBinding in ``objects`` binds."""
    objects = list(objects)
    bound = {(b["roleRef"]["kind"], b["roleRef"]["name"], (b["metadata"].get("namespace") or "")
              if b["roleRef"]["kind"] == "Role" else "")
             for b in objects if b["kind"] in ("RoleBinding", "ClusterRoleBinding")}
    out: list[Grant] = []
    for role in objects:
        if role["kind"] not in ("Role", "ClusterRole"):
            continue
        ns = (role["metadata"].get("namespace") or "") if role["kind"] == "Role" else ""
        if (role["kind"], role["metadata"]["name"], ns) not in bound:
            continue
        label = f"{role['kind']} {role['metadata']['name']}"
        for rule in role.get("rules") or []:
            for group in rule.get("apiGroups") or []:
                for resource in rule.get("resources") or []:
                    plural, _, sub = resource.partition("/")
                    for verb in rule.get("verbs") or []:
                        out.append(Grant(label, verb, group, plural, sub or None,
                                         tuple(rule.get("resourceNames") or ())))
    return out


def deploy_objects() -> list[Obj]:
    """Everything ``deploy/`` ships to a cluster: the base, the access bindings and the overlay."""
    objects = render(DEPLOY / "overlays" / "servicemonitor") + render(DEPLOY / "access")
    return objects
