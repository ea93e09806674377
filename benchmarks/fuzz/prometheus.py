"""Surface ``prometheus``: hostile HTTP answers through ``PrometheusSource`` and the real ``PrometheusConnect``.

Seeds: real-shaped answers — range answers of one series holding pieces of the bundled traces on the grid
asked, instant answers of one series and DCGM-like vectors of several, Prometheus' error bodies. Cases: values
replaced by hostile ones (a tree edit), sample attacks (times as text, in milliseconds, 1e18, outside the range
asked, between slots; values that are not number text, 1e400, empty; duplicates; a second series; keys
dropped), blind text edits, raw bytes, another status (4xx, 5xx, 3xx), and giant answers (100,000 series,
10 M points, nesting 100,000 deep, a 9-MB error body) described by a recipe and built in the worker.

Each worker serves the cases from its own :class:`~forecastscale.devtools.prometheus.CannedPrometheus` on
127.0.0.1; the source reads them over real HTTP. A typed error (PrometheusQueryError, or
PrometheusUnavailable for 408/429/5xx) with a short one-line message is ``clean``; an accepted answer must
match a plain reading of the same body (:func:`range_problems`, :func:`instant_problems`, shared with
``tests/unit/fuzz/test_prometheus_fuzz.py``).
"""

from __future__ import annotations

import json
import math
import os
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeGuard

import numpy as np

from benchmarks.fuzz import Surface, Verdict, verdict
from benchmarks.fuzz.hostile import mutate_text, mutate_tree
from forecastscale.devtools.prometheus import Answer, CannedPrometheus
from forecastscale.edge import EARLIEST_S, LATEST_S, shown
from forecastscale.sources.csvtrace import Trace
from forecastscale.sources.prometheus import PrometheusQueryError, PrometheusSource, PrometheusUnavailable

ROOT = Path(__file__).resolve().parents[2]
START_S = int(datetime(2026, 6, 1, tzinfo=UTC).timestamp())
STEP_S = 60
POINTS = 30  # slots of every range call: START_S … START_S + 29 min
TIMEOUT_S = 2.0
MAX_MESSAGE_CHARS = 1_000
RANGE = ("fetch", "grid")
INSTANT = ("instant", "instant_series")
TIMES: list[Any] = [1e18, START_S * 1000, -1, 0, 1e400, True, None, "now", START_S - 2 * STEP_S,
                    START_S + (POINTS + 1) * STEP_S, START_S + STEP_S / 2, 2**70]
VALUES: list[Any] = ["lots", "", " ", "1e400", "-1e400", "NaN", "+Inf", "-Inf", " 7 ", "1_000", "0x10", "9" * 500,
                     1.5, None, True, [], {}, "-3"]
GIANT = ("many-series", "many-points", "deep", "deep-error", "huge-error", "declared-huge")


@dataclass(frozen=True)
class Case:
    """One call: ``method`` of the source against ``status`` and ``body`` (bytes, or a giant's recipe name)."""

    method: str
    status: int
    body: bytes | str
    close_delimited: bool = False


# --- seeds -------------------------------------------------------------------------------------------------

def _document(result_type: str, result: Any) -> dict[str, Any]:
    return {"status": "success", "data": {"resultType": result_type, "result": result}}


def seeds() -> list[tuple[str, int, Any]]:
    """``(method, status, JSON document)``: real-shaped answers for every method, and error bodies."""
    rng = random.Random(0)  # the seed set is the same every campaign
    out: list[tuple[str, int, Any]] = []
    for path in sorted(ROOT.glob("data/*.csv")):
        values = [line.split(",", 1)[1] for line in path.read_text(encoding="utf-8").splitlines()[1:] if "," in line]
        for _ in range(10):
            first = rng.randrange(len(values) - POINTS)
            pairs = [[START_S + i * STEP_S, v.strip()] for i, v in enumerate(values[first:first + POINTS])]
            series = {"metric": {"target": path.stem}, "values": pairs}
            out += [(m, 200, _document("matrix", [series])) for m in RANGE]
            sample = {"metric": {"target": path.stem}, "value": [START_S, pairs[0][1]]}
            out += [(m, 200, _document("vector", [sample])) for m in INSTANT]
    gpus = [{"metric": {"Hostname": f"node-{n}", "gpu": str(g), "UUID": f"GPU-{n}-{g}"}, "value": [START_S, "79"]}
            for n in range(3) for g in range(0, 8, 3)]
    out.append(("instant_series", 200, _document("vector", gpus)))
    for status, kind, text in ((400, "bad_data", "1:5: parse error: unexpected end of input"),
                               (422, "execution", "query processing would load too many samples into memory"),
                               (503, "unavailable", "TSDB not ready")):
        out += [(m, status, {"status": "error", "errorType": kind, "error": text}) for m in (*RANGE, *INSTANT)]
    return out


# --- mutation ----------------------------------------------------------------------------------------------

def _samples_of(doc: Any) -> list[list[Any]]:
    """The ``[time, value]`` pairs of a seed document (range ``values`` or instant ``value``)."""
    pairs: list[list[Any]] = []
    for item in doc.get("data", {}).get("result", []) if isinstance(doc, dict) else []:
        if isinstance(item, dict):
            pairs += item.get("values", []) if "values" in item else [item["value"]] if "value" in item else []
    return [p for p in pairs if isinstance(p, list) and len(p) == 2]


def _attack_samples(rng: random.Random, doc: Any) -> None:
    """One structured attack on the samples or series of ``doc``, in place."""
    pairs = _samples_of(doc)
    result = doc["data"]["result"]
    attack = rng.randrange(7)
    if attack == 0 and pairs:
        rng.choice(pairs)[0] = rng.choice(TIMES)
    elif attack == 1 and pairs:
        rng.choice(pairs)[1] = rng.choice(VALUES)
    elif attack == 2 and result and "values" in result[0]:  # more samples than steps asked
        result[0]["values"] = result[0]["values"] * rng.choice([2, 5, 400])
    elif attack == 3 and result:  # a second series, the same or other labels
        twin = json.loads(json.dumps(result[0]))
        if rng.random() < 0.5:
            twin["metric"] = {**twin.get("metric", {}), "pod": "b"}
        result.append(twin)
    elif attack == 4 and result:
        result[0].pop(rng.choice(["metric", "values", "value"]), None)
    elif attack == 5 and result:
        result[0]["histograms"] = [[START_S, {"count": "1", "sum": "1", "buckets": []}]]
        result[0].pop("values", None)
    elif pairs:
        rng.choice(pairs)[:] = rng.choice([[START_S], [START_S, "1", "2"], []])


def mutate(rng: random.Random, seed: tuple[str, int, Any]) -> Case:
    """One hostile answer to the seed's method."""
    method, status, doc = seed
    pick = rng.random()
    if pick < 0.04:
        giant = rng.choice(GIANT)
        return Case(method, 503 if giant.endswith("error") else 200, giant, close_delimited=rng.random() < 0.5)
    if pick < 0.12:
        status = rng.choice([301, 400, 401, 404, 408, 422, 429, 500, 502, 503, 504])
    doc = json.loads(json.dumps(doc))
    if pick < 0.45 and status == 200:
        _attack_samples(rng, doc)
        text = json.dumps(doc)
    elif pick < 0.75:
        text = json.dumps(mutate_tree(rng, doc, rng.randint(1, 3)), allow_nan=True, default=str)
    else:
        text = mutate_text(rng, json.dumps(doc), rng.randint(1, 4))
    body = text.encode("utf-8", errors="surrogatepass")
    if rng.random() < 0.03:  # bytes that are not UTF-8
        i = rng.randrange(len(body) + 1)
        body = body[:i] + bytes([rng.choice([0xFF, 0xC3, 0x80, 0x00])]) + body[i:]
    return Case(method, status, body)


def _giant(recipe: str) -> bytes:
    """A giant answer, built where it is served (a case must stay small to cross the worker pipe)."""
    if recipe == "many-series":
        return json.dumps(_document("vector", [{"metric": {}, "value": [START_S, "1"]}] * 100_000)).encode()
    if recipe == "many-points":
        head = b'{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":['
        return head + b",".join([b'[%d,"1"]' % START_S] * 10_000_000) + b"]}]}}"
    if recipe in ("deep", "deep-error"):
        return b'{"data":{"result":' + b"[" * 100_000 + b"]" * 100_000 + b"}}"
    if recipe == "huge-error":
        return b'{"error":"' + b"x" * (9 * 2**20) + b'"}'
    return b"{}"  # declared-huge: the headers lie


# --- what a correct result is: a plain reading of the same body ------------------------------------------

def _plain_result(body: bytes) -> tuple[list[Any], list[str]]:
    try:
        result = json.loads(body)["data"]["result"]
    except (ValueError, KeyError, TypeError, IndexError, RecursionError) as exc:
        return [], [f"accepted an answer that is not one ({type(exc).__name__})"]
    if not isinstance(result, list):
        return [], [f"accepted a result that is not a list: {shown(result)}"]
    return result, []


def _labels_ok(metric: Any) -> TypeGuard[dict[str, str]]:
    return isinstance(metric, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in metric.items())


def _number(text: Any) -> float | None:
    """The value of number text (not empty: Prometheus always writes a number), else None."""
    if not isinstance(text, str) or not text.strip():
        return None
    try:
        return float(text)
    except ValueError:
        return None


def _range_samples(body: bytes, start_s: float, step_s: float, n: int) -> tuple[list[tuple[float, float]], list[str]]:
    """Every ``(time, value)`` of a range answer as a plain reading sees it, and what an accepted one broke."""
    result, problems = _plain_result(body)
    lo, hi = start_s - step_s, start_s + n * step_s  # the range asked ± a step
    labels, samples = set(), []
    for i, item in enumerate(result):
        metric = item.get("metric") if isinstance(item, dict) else None
        values = item.get("values") if isinstance(item, dict) else None
        if not _labels_ok(metric) or not isinstance(values, list):
            problems.append(f"accepted series {i}: {shown(item)}")
            continue
        labels.add(tuple(sorted(metric.items())))
        for pair in values:
            t = pair[0] if isinstance(pair, list) and len(pair) == 2 else None
            v = _number(pair[1]) if isinstance(pair, list) and len(pair) == 2 else None
            if isinstance(t, bool) or not isinstance(t, int | float) or not lo <= t <= hi:
                problems.append(f"accepted a sample from outside the range asked: {shown(pair)}")
            elif v is None:
                problems.append(f"accepted a value that is not number text: {shown(pair)}")
            else:
                samples.append((float(t), v))
    if len(labels) > 1:
        problems.append(f"accepted {len(labels)} series as one")
    return samples, problems


def _on_grid(samples: list[tuple[float, float]], start_s: float, step_s: float, n: int) -> np.ndarray:
    grid = np.full(n, np.nan)
    for t, v in samples:  # the last sample of a slot wins
        k = int(np.rint((t - start_s) / step_s))
        if 0 <= k < n:
            grid[k] = v
    return grid


def range_problems(method: str, body: bytes, got: Any, start_s: float, step_s: float, n: int) -> list[str]:
    """What an accepted range answer broke: ``grid`` must equal a plain reading on the grid (NaN and ±Inf
    as given), ``fetch`` must keep every usable value there and fill the rest within their span, finite."""
    samples, problems = _range_samples(body, start_s, step_s, n)
    if problems:
        return problems
    if method == "grid":
        expected = _on_grid(samples, start_s, step_s, n)
        if got.shape != (n,) or not np.array_equal(got, expected, equal_nan=True):
            return [f"grid {shown(got.tolist())} is not the answer's {shown(expected.tolist())}"]
        return []
    trace: Trace = got
    raw = _on_grid(sorted(samples, key=lambda s: s[0]), start_s, step_s, n)  # fetch sorts by time, as a CSV
    usable = np.isfinite(raw) & (raw >= 0)
    values = trace.values
    if values.shape != (n,) or not np.all(np.isfinite(values)) or not usable.any():
        return [f"fetch gave {shown(values.tolist())} for {int(usable.sum())} usable samples"]
    if not np.array_equal(values[usable], raw[usable]):
        return ["fetch changed a usable sample"]
    if values.min() < raw[usable].min() or values.max() > raw[usable].max():
        return ["fetch filled beyond the span of the usable samples"]
    return []


def instant_problems(method: str, body: bytes, got: Any) -> list[str]:
    """What an accepted instant answer broke: every series' labels and value as given (NaN, ±Inf included)."""
    result, problems = _plain_result(body)
    pairs: list[tuple[Any, float]] = []
    for item in result:
        pair = item.get("value") if isinstance(item, dict) else None
        t = pair[0] if isinstance(pair, list) and len(pair) == 2 else None
        v = _number(pair[1]) if isinstance(pair, list) and len(pair) == 2 else None
        metric = item.get("metric") if isinstance(item, dict) else None
        if not _labels_ok(metric):
            problems.append(f"accepted labels {shown(item)}")
        elif isinstance(t, bool) or not isinstance(t, int | float) or not EARLIEST_S <= t <= LATEST_S:
            problems.append(f"accepted an insane time {shown(pair)}")
        elif v is None:
            problems.append(f"accepted a value that is not number text: {shown(pair)}")
        else:
            pairs.append((metric, v))
    if problems:
        return problems
    if method == "instant":
        if len(pairs) > 1:
            return [f"instant accepted {len(pairs)} series"]
        if (got is None) != (not pairs) or (pairs and not _same(got, pairs[0][1])):
            return [f"instant gave {got!r} for {shown(pairs)}"]
        return []
    if [lab for lab, _ in got] != [lab for lab, _ in pairs] or not all(
            _same(a, b) for (_, a), (_, b) in zip(got, pairs, strict=True)):
        return [f"instant_series gave {shown(got)} for {shown(pairs)}"]
    return []


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


def error_problems(status: int, exc: Exception) -> list[str]:
    """A typed error must fit the status (408/429/5xx: temporary) and be one short line."""
    temporary = status in (408, 429) or status >= 500
    problems = []
    if isinstance(exc, PrometheusUnavailable) != temporary:
        problems.append(f"HTTP {status} gave {type(exc).__name__}")
    if len(str(exc)) > MAX_MESSAGE_CHARS or "\n" in str(exc):
        problems.append(f"message of {len(str(exc)):,} chars or several lines")
    return problems


# --- running a case ----------------------------------------------------------------------------------------

_SERVERS: dict[int, CannedPrometheus] = {}


def _server() -> CannedPrometheus:
    """This process's canned server, started on first use (a forked worker starts its own)."""
    pid = os.getpid()
    if pid not in _SERVERS:
        _SERVERS[pid] = CannedPrometheus().__enter__()
    return _SERVERS[pid]


def call(source: PrometheusSource, method: str, start_s: float, step_s: float, n: int) -> Any:
    """``method`` of ``source`` over the range ``start_s`` + ``n`` steps (instant ones at ``start_s``)."""
    start = datetime.fromtimestamp(start_s, tz=UTC)
    if method in RANGE:
        return getattr(source, method)("q", start, datetime.fromtimestamp(start_s + (n - 1) * step_s, tz=UTC),
                                       step_s)
    return getattr(source, method)("q", start)


def run(case: Case) -> Verdict:
    """Serve the case and call its method: a fitting typed error is clean, an accepted answer is checked."""
    server = _server()
    body = _giant(case.body) if isinstance(case.body, str) else case.body
    headers = {"Content-Length": "9" * 12} if case.body == "declared-huge" else {}
    server.answer = Answer(case.status, body, headers=headers, close_delimited=case.close_delimited)
    source = PrometheusSource(server.url, timeout_s=TIMEOUT_S)
    try:
        got = call(source, case.method, START_S, STEP_S, POINTS)
    except (PrometheusQueryError, PrometheusUnavailable) as exc:
        problems = error_problems(case.status, exc)
        return Verdict("wrong", "; ".join(problems)) if problems else Verdict("clean", str(exc)[:200])
    if case.status != 200:
        return Verdict("wrong", f"HTTP {case.status} accepted")
    if case.method in RANGE:
        return verdict(range_problems(case.method, body, got, START_S, STEP_S, POINTS))
    return verdict(instant_problems(case.method, body, got))


SURFACE = Surface("prometheus", seeds, mutate, run)
