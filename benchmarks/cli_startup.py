"""Wall time of ``forecastscale --help`` and ``forecastscale run --help``, before and after lazy imports.

"Before" is a git worktree of ``--before-ref`` (default 998033b, the commit before the CLI loaded its
heavy libraries lazily) in a temporary directory, removed afterwards; "after" is this working tree. Each
is run as ``python3 -m forecastscale …`` in a fresh interpreter with its own tree first on PYTHONPATH,
once untimed (to write the .pyc files), then ``--repeat`` times; the median is kept. The machine's cores
and load average (1, 5, 15 min) are printed with the table: on a busy machine every number grows.
Goal: < 1 s for both commands (issue 16).

    python benchmarks/cli_startup.py [--before-ref 998033b] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COMMANDS = (["--help"], ["run", "--help"])
GOAL_S = 1.0


@contextmanager
def worktree(ref: str) -> Iterator[Path]:
    """A detached git worktree of ``ref`` in a temporary directory, removed on exit."""
    folder = Path(tempfile.mkdtemp(prefix="cli-before-")) / "tree"
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(folder), ref],
                   check=True, capture_output=True, text=True)
    try:
        yield folder
    finally:
        subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(folder)],
                       check=True, capture_output=True, text=True)


def wall_s(tree: Path, args: list[str]) -> float:
    """Seconds of one ``python3 -m forecastscale ARGS`` run from ``tree`` (which must succeed)."""
    env = {**os.environ, "PYTHONPATH": str(tree), "COLUMNS": "100"}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "forecastscale", *args], cwd=tree, env=env,
                          capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0 or "Usage" not in done.stdout:
        raise SystemExit(f"{tree}: forecastscale {' '.join(args)} failed ({done.returncode}): {done.stderr[-500:]}")
    return elapsed


def median_s(tree: Path, args: list[str], repeat: int) -> float:
    """Median wall seconds of ``repeat`` runs, after one untimed run."""
    wall_s(tree, args)
    return statistics.median(wall_s(tree, args) for _ in range(repeat))


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before-ref", default="998033b", help="git commit (or branch) measured as 'before'")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per command and tree (median kept)")
    args = parser.parse_args()
    load_before = load()
    with worktree(args.before_ref) as before:
        rows = [(cmd, median_s(before, cmd, args.repeat), median_s(REPO, cmd, args.repeat)) for cmd in COMMANDS]
    print(f"forecastscale start-up, median of {args.repeat} runs each (one untimed run first); goal < {GOAL_S:g} s")
    print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, load average (1, 5, 15 min) "
          f"{load_before} at start, {load()} at end")
    print(f"{'command':<26} {'before s':>9} {'after s':>8} {'before/after':>13} {'< 1 s':>6}")
    for cmd, old, new in rows:
        print(f"{'forecastscale ' + ' '.join(cmd):<26} {old:9.2f} {new:8.2f} {old / new:12.1f}x "
              f"{'yes' if new < GOAL_S else 'NO':>6}")
    print(f"before: {args.before_ref} (git worktree); after: the working tree at {REPO}")


if __name__ == "__main__":
    main()
