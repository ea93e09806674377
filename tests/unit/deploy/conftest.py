"""Fixtures shared by the deploy/ tests: the rendered manifests and the example config they carry."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from forecastscale.config import Config, parse_config
from tests.unit.deploy.kustomize import DEPLOY, Obj, deploy_objects, one, render


@pytest.fixture(scope="module")
def objects() -> list[Obj]:
    return deploy_objects()


@pytest.fixture(scope="module")
def base() -> list[Obj]:
    return render(DEPLOY)


@pytest.fixture(scope="module")
def deployment(base: list[Obj]) -> Obj:
    return one(base, "Deployment", "forecastscale")


@pytest.fixture(scope="module")
def container(deployment: Obj) -> Obj:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return dict(containers[0])


@pytest.fixture(scope="module")
def config(base: list[Obj], container: Obj) -> Config:
    """The ConfigMap's config.yaml, parsed as ``load_config`` would parse the mounted file."""
    config_arg = next(a for a in container["args"] if a.startswith("--config="))
    path = Path(config_arg.removeprefix("--config="))
    cm = one(base, "ConfigMap", "forecastscale-config")
    data = yaml.safe_load(cm["data"][path.name])
    return parse_config(data, "deploy/base/configmap.yaml", path.parent)
