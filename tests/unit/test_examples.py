"""Every example and bundled config loads, and its query templates fill in for every target; the vLLM example reads
the metric names vLLM and the DCGM exporter publish, on the 0–100 scale the rules take."""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args

import pytest

from forecastscale.config import QueryKind, load_config
from tests.conftest import DATA, REPO

CONFIGS = sorted([*DATA.glob("*.yaml"), *(DATA / "scenarios").glob("*.yaml"), *(REPO / "examples").glob("*.yaml")])
VLLM = REPO / "examples" / "vllm.yaml"


@pytest.mark.parametrize("path", CONFIGS, ids=[str(p.relative_to(REPO)) for p in CONFIGS])
def test_every_config_loads_and_its_templates_fill_in(path: Path) -> None:
    config = load_config(path)
    for target in config.targets:
        for kind in get_args(QueryKind):
            query = config.query(target, kind)
            assert query is None or (query.strip() and "$" not in query), (target.name, kind, query)


def test_the_examples_are_all_checked() -> None:
    assert {p.name for p in CONFIGS if p.parent.name == "examples"} >= {"service.yaml", "vllm.yaml"}


def test_the_vllm_example_reads_vllm_and_dcgm_metrics_per_pod_of_its_deployment() -> None:
    config = load_config(VLLM)
    (target,) = config.targets
    query = {kind: config.query(target, kind) or "" for kind in get_args(QueryKind)}
    selector = f'{{namespace="{target.workload.namespace}", pod=~"{target.workload.name}-.*"}}'
    assert re.fullmatch(rf"sum\(rate\(vllm:prompt_tokens_total{re.escape(selector)}\[1m\]\)\)\s+\+ "
                        rf"sum\(rate\(vllm:generation_tokens_total{re.escape(selector)}\[1m\]\)\)", query["demand"])
    assert query["queue"] == f"sum(vllm:num_requests_waiting{selector})"
    # vLLM's usage is a 0–1 fraction under either name; the rule takes percent.
    assert re.fullmatch(rf"100 \* avg\(vllm:kv_cache_usage_perc{re.escape(selector)}\s+"
                        rf"or vllm:gpu_cache_usage_perc{re.escape(selector)}\)", query["kv_cache"])
    assert query["gpu_utilisation"] == f"avg(DCGM_FI_DEV_GPU_UTIL{selector})"


def test_the_vllm_example_scales_tokens_with_queue_and_kv_cache_rules_and_panic_mode() -> None:
    config = load_config(VLLM)
    (target,) = config.targets
    assert target.workload.demand_unit == "tokens_per_s" and target.scaling.burst.enabled
    assert [r.type for r in target.scaling.metrics] == ["demand", "queue", "kv_cache"]  # GPU %: exported only
    assert [p.gpus_per_node for p in config.node_pools] == [8]
    assert target.scaling.max_replicas * target.workload.gpus_per_pod <= 8 * config.node_pools[0].max_nodes
