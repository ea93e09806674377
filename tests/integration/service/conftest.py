"""Fixtures for the live service against a real Prometheus and the API-server double."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.integration.kube.apiserver import ScaleApiDouble
from tests.integration.kube.conftest import api_client, kube

__all__ = ["api_client", "kube"]  # the double's fixtures, shared with tests/integration/kube


@pytest.fixture
def kubeconfig(kube: ScaleApiDouble, tmp_path: Path) -> Path:
    """A kubeconfig file pointing the official client at the double (plain HTTP, no credentials)."""
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "double",
        "clusters": [{"name": "double", "cluster": {"server": kube.url}}],
        "users": [{"name": "nobody", "user": {}}],
        "contexts": [{"name": "double", "context": {"cluster": "double", "user": "nobody"}}],
    }), encoding="utf-8")
    return path
