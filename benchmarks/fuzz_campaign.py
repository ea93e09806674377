"""Fuzz campaign: seeded random mutation of real inputs against each input surface, in forked workers.

Every case runs in a worker process from a pool of forked workers (reused across cases: a fork per case
is too slow), with an address-space cap (``--memory-gib`` above what the worker inherits: a memory bomb
becomes a MemoryError) and a per-case timeout (``--timeout``: a worker that overruns is killed,
replaced, and the case counted as a hang). A case's outcome is one of: a clean typed error, a correct
result (accepted, invariants hold), silently wrong (accepted, an invariant broken), an uncaught
exception (anything else, MemoryError and a dead worker included), or a hang. Cases are generated in
this process from ``--seed``, so a campaign is reproducible whatever the workers' timing. Prints::

    | surface | inputs | clean error | silently wrong | uncaught exception | hang |

then, per surface, the accepted-and-correct count, the wall time, and a few examples of every bad outcome.

    python benchmarks/fuzz_campaign.py [--cases 10000] [--surface config,csv] [--seed 14] [--timeout 10]

Adding a surface: create ``benchmarks/fuzz/<name>.py`` exposing ``SURFACE = Surface(name, seeds, mutate, run)``
(see :mod:`benchmarks.fuzz`): ``seeds()`` returns real inputs, ``mutate(rng, seed)`` one picklable hostile
case, ``run(case)`` a :class:`~benchmarks.fuzz.Verdict` (``clean`` for the surface's typed error, else the
invariants of :mod:`benchmarks.fuzz.invariants` decide ``ok`` or ``wrong``) and lets any other exception
out. Write files under ``benchmarks.fuzz.workdir.scratch()``. Every module in the package with a
``SURFACE`` is picked up; no registry to edit.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import multiprocessing
import pkgutil
import random
import resource
import sys
import tempfile
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

import benchmarks.fuzz
from benchmarks.fuzz import Surface

COLUMNS = ("clean", "wrong", "crash", "hang")
HEADER = "| surface | inputs | clean error | silently wrong | uncaught exception | hang |"


def surfaces() -> dict[str, Surface]:
    """Every ``SURFACE`` in the ``benchmarks.fuzz`` package, by name."""
    found = {}
    for info in pkgutil.iter_modules(benchmarks.fuzz.__path__):
        module = importlib.import_module(f"benchmarks.fuzz.{info.name}")
        surface = getattr(module, "SURFACE", None)
        if isinstance(surface, Surface):
            found[surface.name] = surface
    return found


def _address_space() -> int:
    """This process's virtual memory size in bytes (what a forked worker starts with)."""
    with open("/proc/self/statm", encoding="ascii") as fh:
        return int(fh.read().split()[0]) * resource.getpagesize()


def _worker(conn: Connection, surface: Surface, cap_bytes: int) -> None:
    """Run cases from ``conn`` until told to stop (None); reply ``(index, kind, detail)`` for each."""
    resource.setrlimit(resource.RLIMIT_AS, (cap_bytes, cap_bytes))
    logging.disable(logging.CRITICAL)  # the product logs what it refuses; the campaign reports it
    warnings.simplefilter("ignore")  # numpy's RuntimeWarnings on hostile numbers: outcomes are what count
    while (message := conn.recv()) is not None:
        index, case = message
        try:
            verdict = surface.run(case)
            reply = (index, verdict.kind, verdict.detail)
        except BaseException as exc:  # the campaign counts everything that escapes, MemoryError included
            reply = (index, "crash", f"{type(exc).__name__}: {str(exc)[:300]}")
        conn.send(reply)


@dataclass
class Slot:
    """One worker: its process, its pipe, and the case it is running (index, preview, start time)."""

    process: Any
    conn: Connection
    case: tuple[int, str, float] | None = None


@dataclass
class Tally:
    """Outcome counts of one surface and a few examples of each bad outcome."""

    counts: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    wall_s: float = 0.0

    def add(self, kind: str, detail: str, preview: str, keep: int) -> None:
        self.counts[kind] += 1
        if kind in COLUMNS[1:] and len(self.examples.setdefault(kind, [])) < keep:
            self.examples[kind].append(f"{detail} ← case {preview}")


class Pool:
    """Forked workers for one surface; a worker that overruns its case is killed and replaced."""

    def __init__(self, surface: Surface, workers: int, cap_bytes: int) -> None:
        self.surface, self.cap = surface, cap_bytes
        self.context = multiprocessing.get_context("fork")
        self.slots = [self._spawn() for _ in range(workers)]

    def _spawn(self) -> Slot:
        parent, child = self.context.Pipe()
        process = self.context.Process(target=_worker, args=(child, self.surface, self.cap), daemon=True)
        process.start()
        child.close()
        return Slot(process, parent)

    def replace(self, slot: Slot) -> Slot:
        slot.process.kill()
        slot.process.join()
        slot.conn.close()
        return self._spawn()

    def close(self) -> None:
        for slot in self.slots:
            with contextlib.suppress(OSError):  # a worker that died already
                slot.conn.send(None)
            slot.process.join(timeout=5)
            if slot.process.is_alive():
                slot.process.kill()


def _preview(case: Any) -> str:
    text = repr(case)
    return text if len(text) <= 160 else f"{text[:160]}… ({len(text):,} chars)"


def campaign(surface: Surface, cases: int, seed: int, timeout_s: float, workers: int, cap_bytes: int,
             keep: int) -> Tally:
    """Run ``cases`` mutations of ``surface``'s seeds; every case gets exactly one outcome."""
    rng = random.Random(f"{seed}:{surface.name}")
    seeds = surface.seeds()
    tally, started = Tally(), time.perf_counter()
    pool = Pool(surface, workers, cap_bytes)
    sent = 0
    try:
        while tally.counts.total() < cases:
            for slot in pool.slots:
                if slot.case is None and sent < cases:
                    case = surface.mutate(rng, rng.choice(seeds))
                    slot.conn.send((sent, case))
                    slot.case, sent = (sent, _preview(case), time.monotonic()), sent + 1
            _collect(pool, tally, timeout_s, keep)
    finally:
        pool.close()
    tally.wall_s = time.perf_counter() - started
    return tally


def _collect(pool: Pool, tally: Tally, timeout_s: float, keep: int) -> None:
    """Take every reply that is ready (waiting at most 0.1 s); kill and replace workers past the timeout."""
    busy = {slot.conn: slot for slot in pool.slots if slot.case is not None}
    for conn in wait(list(busy), timeout=0.1):
        slot = busy[conn]  # type: ignore[index]
        assert slot.case is not None
        try:
            _, kind, detail = slot.conn.recv()
        except (EOFError, OSError):  # the worker died (a signal, the OOM killer): replace it
            kind, detail = "crash", f"worker died (exit code {slot.process.exitcode})"
            pool.slots[pool.slots.index(slot)] = slot = pool.replace(slot)
        tally.add(kind, detail, slot.case[1] if slot.case else "?", keep)
        slot.case = None
    now = time.monotonic()
    for i, slot in enumerate(pool.slots):
        if slot.case is not None and now - slot.case[2] > timeout_s:
            tally.add("hang", f"no answer within {timeout_s:g} s", slot.case[1], keep)
            pool.slots[i] = pool.replace(slot)


def report(tallies: dict[str, Tally], cases: int) -> None:
    """The table, then per surface what was accepted, the wall time and examples of every bad outcome."""
    print(HEADER)
    print("|---|---|---|---|---|---|")
    for name, t in tallies.items():
        print(f"| {name} | {t.counts.total():,} | " + " | ".join(f"{t.counts[c]:,}" for c in COLUMNS) + " |")
    for name, t in tallies.items():
        print(f"\n{name}: {t.counts['ok']:,} accepted and correct; {t.wall_s:.1f} s wall "
              f"({1000 * t.wall_s / max(1, cases):.1f} ms per case)")
        for kind, lines in t.examples.items():
            for line in lines:
                print(f"  {kind}: {line}")


def main() -> None:
    available = surfaces()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=10_000, help="cases per surface")
    parser.add_argument("--surface", default=",".join(available), help=f"comma-separated: {', '.join(available)}")
    parser.add_argument("--seed", type=int, default=14, help="campaign seed (cases are a function of it)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per case before it is a hang")
    parser.add_argument("--workers", type=int, default=2, help="forked workers (this machine has 2 cores)")
    parser.add_argument("--memory-gib", type=float, default=2.0, help="address space per worker above its start")
    parser.add_argument("--examples", type=int, default=3, help="examples shown per bad outcome")
    args = parser.parse_args()
    names = [n.strip() for n in args.surface.split(",") if n.strip()]
    unknown = [n for n in names if n not in available]
    if unknown:
        parser.error(f"unknown surface(s) {', '.join(unknown)}; have {', '.join(available)}")
    cap = _address_space() + int(args.memory_gib * 2**30)
    with tempfile.TemporaryDirectory(prefix="fuzz-campaign-") as tmp:
        tempfile.tempdir = tmp  # every worker's scratch directory goes in here and is removed with it
        tallies = {n: campaign(available[n], args.cases, args.seed, args.timeout, args.workers, cap, args.examples)
                   for n in names}
    report(tallies, args.cases)


if __name__ == "__main__":
    main()
