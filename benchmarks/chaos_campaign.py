"""Chaos campaign: the HA chaos test (``tests/integration/service/test_chaos.py``) over many seeds, summed.

Each seed is 30 simulated minutes of two replicas of the real service (real Prometheus, the official client
against the API-server double): up to 20 leader kills at random points (between decide and patch, between an
event POST and its plan write, during a plan write), two leaders frozen inside ``apply`` past their Lease and
resumed, events booked and cancelled throughout. Prints one table of what was promised and what was kept::

    python benchmarks/chaos_campaign.py [--seeds 20] [--first 1]

Needs the Debian ``prometheus`` package (as the integration tests do). Exits 1 if any promise was broken.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEST = "tests/integration/service/test_chaos.py"


def run(seeds: list[int]) -> tuple[list[dict[str, object]], int, float]:
    """Run the chaos test for ``seeds``; the per-seed figures, pytest's exit code, the wall time (s)."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "chaos.jsonl"
        env = {**os.environ, "CHAOS_SEEDS": ",".join(map(str, seeds)), "CHAOS_REPORT": str(report)}
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "pytest", TEST, "-q", "-p", "no:cacheprovider"], cwd=ROOT,
                              env=env, check=False)
        wall = time.perf_counter() - started
        rows = [json.loads(line) for line in report.read_text(encoding="utf-8").splitlines()] if report.exists() else []
    return rows, done.returncode, wall


def table(rows: list[dict[str, object]]) -> str:
    """The campaign's totals as a Markdown table."""
    kills: Counter[str] = Counter()
    for row in rows:
        kills.update(row["kills"])  # type: ignore[arg-type]
    total = {k: sum(int(row[k]) for row in rows) for k in ("stalls", "acknowledged", "cancelled", "lost",
                                                             "resurrected", "non_leader_writes", "writes",
                                                             "early_scale_downs")}
    lines = ["| seeds | leader kills | frozen leaders resumed | events acknowledged | cancelled | lost | "
             "resurrected | writes checked | non-leader writes | scale-downs inside the window |",
             "|---|---|---|---|---|---|---|---|---|---|",
             f"| {len(rows)} | {sum(kills.values())} ({', '.join(f'{k}: {v}' for k, v in sorted(kills.items()))}) "
             f"| {total['stalls']} | {total['acknowledged']} | {total['cancelled']} | {total['lost']} "
             f"| {total['resurrected']} | {total['writes']:,} | {total['non_leader_writes']} "
             f"| {total['early_scale_downs']} |"]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=20, help="how many seeds (default 20)")
    parser.add_argument("--first", type=int, default=1, help="the first seed (default 1)")
    args = parser.parse_args()
    rows, code, wall = run(list(range(args.first, args.first + args.seeds)))
    print(table(rows))
    load = os.getloadavg()
    print(f"\n{len(rows)} seeds in {wall:.0f} s wall on {os.cpu_count()} cores (load {load[0]:.1f}); "
          f"pytest exit {code}")
    return 0 if code == 0 and len(rows) == args.seeds else 1


if __name__ == "__main__":
    raise SystemExit(main())
