"""A real LLM request log as the Prometheus history of a vLLM deployment, for the live burst test.

The request log (``data/AzureLLMInferenceTrace_code.csv``) is aggregated per :data:`STEP_S` by
:mod:`forecastscale.sources.requestlog` and written, at the trace's own (pinned) timestamps, as:

* ``vllm:prompt_tokens_total`` and ``vllm:generation_tokens_total`` — counters: the tokens of every request
  arrived by then; one sample at each step's end, and 0 at the first step's start. ``rate(…[1m])`` at a step
  end ``T`` is then the mean over the minute before ``T``: Prometheus 2's closed range ``[T − 60, T]`` holds
  the samples at both ends, so nothing is extrapolated;
* ``vllm:num_requests_waiting`` — a gauge at each step's end, from :func:`waiting`;
* ``vllm:kv_cache_usage_perc``/``vllm:gpu_cache_usage_perc`` and ``DCGM_FI_DEV_GPU_UTIL`` — constants
  (:data:`KV_FRACTIONS`, :data:`GPU_PERCENT`): the trace has no such telemetry, so these only check that the
  example's queries read either vLLM name once per pod, on the 0–100 scale, and that the service exports them.

The whole fleet's counters and queue are one pod's series (the queries sum over pods anyway).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forecastscale.devtools.prometheus import Family, Series
from forecastscale.sources.requestlog import RequestSeries
from forecastscale.types import FloatArray

STEP_S = 10  # aggregation, sample and tick step (s)
SERVICE_RATE = 6.0  # requests/s the modelled fleet completes (2.3× the trace's mean of 2.56/s)
NAMESPACE, WORKLOAD = "llm", "llm"  # examples/vllm.yaml's Deployment
POD = {"namespace": NAMESPACE, "pod": "llm-5c8d7f-x2k4p", "model_name": "code-model"}
# Two pods: one exporting both KV-cache names (vLLM in the deprecation period), one only the old name.
KV_FRACTIONS = {"llm-5c8d7f-a": {"vllm:kv_cache_usage_perc": 0.62, "vllm:gpu_cache_usage_perc": 0.99},
                "llm-5c8d7f-b": {"vllm:gpu_cache_usage_perc": 0.38}}
KV_PERCENT = 50.0  # 100 × mean(0.62, 0.38): the old name of pod a is not counted twice
GPU_PERCENT = {"0": 80.0, "1": 60.0}  # DCGM utilisation of the two GPUs, one per pod; their mean is 70 %


def waiting(series: RequestSeries, rate: float = SERVICE_RATE) -> FloatArray:
    """Requests waiting at the end of each step: a fluid queue in front of a fleet completing ``rate`` requests/s.

    ``w[k] = max(0, w[k−1] + arrivals[k] − rate·step_s)`` (Lindley's recursion), ``w[−1] = 0``. The rate is fixed,
    not the capacity of the replicas the service runs: the history is written before the service starts, so
    scaling up does not drain this queue — the test checks the reaction to the queue, not the queue's reaction.
    """
    arrivals = np.rint(series.requests_per_s * series.step_s)  # whole requests, without float noise
    out = np.zeros(len(arrivals))
    backlog = 0.0
    for k, a in enumerate(arrivals):
        backlog = max(0.0, backlog + float(a) - rate * series.step_s)
        out[k] = backlog
    return out


@dataclass(frozen=True)
class History:
    """The aggregated log, the modelled queue, and the epoch seconds of step ``k``'s end, ``end_s(k)``."""

    series: RequestSeries
    waiting: FloatArray

    def end_s(self, k: int) -> int:
        return int(self.series.start_s) + (k + 1) * STEP_S


def _counter(metric: str, per_s: FloatArray, start: int) -> Family:
    cumulative = np.concatenate([[0.0], np.cumsum(np.rint(per_s * STEP_S))])  # whole tokens: exact sums
    return Family(metric, [Series(POD, start, STEP_S, cumulative.tolist())], "Tokens processed.", "counter")


def _constants(start: int, steps: int) -> list[Family]:
    kv: dict[str, list[Series]] = {}
    for pod, values in KV_FRACTIONS.items():
        for metric, v in values.items():
            kv.setdefault(metric, []).append(Series({"namespace": NAMESPACE, "pod": pod}, start, STEP_S, [v] * steps))
    gpus = [Series({"gpu": g, "UUID": f"GPU-{g}", "Hostname": "node-0", "namespace": NAMESPACE,
                    "pod": pod, "container": "vllm"}, start, STEP_S, [pct] * steps)
            for (g, pct), pod in zip(GPU_PERCENT.items(), KV_FRACTIONS, strict=True)]
    return [*(Family(m, s, "KV cache in use (0-1).") for m, s in kv.items()),
            Family("DCGM_FI_DEV_GPU_UTIL", gpus, "GPU utilization (in %).")]


def families(history: History) -> list[Family]:
    """Everything Prometheus holds, from the first step's start to the last step's end."""
    s, start = history.series, int(history.series.start_s)
    queue = Family("vllm:num_requests_waiting", [Series(POD, start + STEP_S, STEP_S, history.waiting.tolist())],
                   "Requests waiting to be processed.")
    return [_counter("vllm:prompt_tokens_total", s.prompt_tokens_per_s, start),
            _counter("vllm:generation_tokens_total", s.generated_tokens_per_s, start), queue,
            *_constants(start, len(s.requests_per_s) + 1)]
