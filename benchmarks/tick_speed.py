"""Wall time and memory of one live tick for N = 10, 100, 1000 targets against a real Prometheus.

Backfills a local Prometheus (Debian package) with N series of two days of 5-minute samples
(a daily cycle plus noise), builds the service with its real wiring in dry-run without a
cluster (the scale actuators only record), runs the first tick (loads every history window with
range queries and fits every forecaster: reported apart, as "warm-up"), then times ``--ticks``
further ticks on a simulated clock 30 s apart (one instant query and one decision per target;
no refit falls due). Peak memory is tracemalloc's over one timed tick, and the process's RSS.
Goal: < 5 s per tick for 1000 targets on 2 cores.

    python benchmarks/tick_speed.py [--targets 10,100,1000] [--ticks 5]
"""

from __future__ import annotations

import argparse
import logging
import math
import random
import resource
import statistics
import tempfile
import time
import tracemalloc
from pathlib import Path

from prometheus_client import CollectorRegistry

from forecastscale.config import parse_config
from forecastscale.devtools.prometheus import LocalPrometheus, Series, write_openmetrics
from forecastscale.service.wiring import build_service

TICK_S = 30
SAMPLE_S = 300
DAYS = 2


def series(n: int, end: int) -> list[Series]:
    rng = random.Random(7)
    start = end - DAYS * 86400
    out = []
    for k in range(n):
        base = rng.uniform(5, 50)
        values = [round(base * (1 + 0.6 * math.sin(2 * math.pi * i * SAMPLE_S / 86400)) + rng.gauss(0, 1), 3)
                  for i in range(DAYS * 86400 // SAMPLE_S + 1)]
        out.append(Series({"target": f"t{k:04d}"}, start, SAMPLE_S, [max(0.0, v) for v in values]))
    return out


def config(n: int) -> dict[str, object]:
    return {
        "service": {"tick_s": TICK_S, "queries": {"demand": 'demand{target="$target"}'}, "fetch_concurrency": 8},
        "node_pools": [{"name": "gpu", "gpus_per_node": 8, "max_nodes": 1000}],
        "targets": [{"name": f"t{k:04d}", "workload": {"capacity_per_replica": 5}, "scaling": {"max_replicas": 50},
                     "forecast": {"window_s": DAYS * 86400 - 3600, "step_s": 300}} for k in range(n)],
    }


def measure(n: int, ticks: int, url: str, end: int) -> dict[str, float]:
    clock = [float(end - 3600)]
    service = build_service(parse_config(config(n)), prometheus_url=url, api=None, dry_run=True,
                            registry=CollectorRegistry(), identity="bench", clock=lambda: clock[0])
    started = time.perf_counter()
    first = service.tick()
    warmup = time.perf_counter() - started
    assert all(o.status == "ok" for o in first.targets), [o.error for o in first.targets if o.error][:3]
    walls = []
    for _ in range(ticks):
        clock[0] += TICK_S
        started = time.perf_counter()
        service.tick()
        walls.append(time.perf_counter() - started)
    clock[0] += TICK_S
    tracemalloc.start()
    service.tick()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    service.close()
    return {"warmup_s": warmup, "tick_s": statistics.median(walls), "tick_max_s": max(walls),
            "peak_tick_mib": peak / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", default="10,100,1000", help="comma-separated target counts")
    parser.add_argument("--ticks", type=int, default=5, help="timed ticks per count")
    args = parser.parse_args()
    counts = [int(x) for x in args.targets.split(",")]
    logging.basicConfig(level=logging.ERROR)  # the decision log would be N lines per tick
    end = (int(time.time()) // SAMPLE_S) * SAMPLE_S + 2 * 3600
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        samples = write_openmetrics(root / "h.om", "demand", series(max(counts), end))
        print(f"backfilling {max(counts)} series, {samples:,} samples …", flush=True)
        with LocalPrometheus(root, root / "h.om") as prom:
            print(f"{'targets':>8} {'warm-up s':>10} {'tick s (median)':>16} {'tick s (max)':>13} "
                  f"{'peak MiB/tick':>14} {'per target ms':>14} {'vs first':>9} {'< 5 s':>6}")
            base = None
            for n in counts:
                m = measure(n, args.ticks, prom.url, end)
                per = m["tick_s"] / n
                base = base or per  # per-target cost of the smallest count, measured in this run
                print(f"{n:>8} {m['warmup_s']:>10.2f} {m['tick_s']:>16.3f} {m['tick_max_s']:>13.3f} "
                      f"{m['peak_tick_mib']:>14.1f} {1000 * per:>14.2f} {per / base:>8.2f}x "
                      f"{'yes' if m['tick_max_s'] < 5 else 'NO':>6}", flush=True)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"process peak RSS {rss:.0f} MiB (Python side; Prometheus is another process)")


if __name__ == "__main__":
    main()
