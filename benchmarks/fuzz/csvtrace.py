"""Surface ``csv``: a trace file through ``load_trace``.

Seeds: the bundled traces (``data/*.csv``) cut into pieces of 5 to 60 rows. Cases: rows rewritten with
hostile timestamps (epoch seconds and milliseconds, far future, NaN, a row moved far away, zone offsets),
hostile values, extra or missing fields, a byte-order mark, CRLF, a changed header; or blind text edits.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.fuzz import Surface, Verdict, verdict
from benchmarks.fuzz.hostile import mutate_text
from benchmarks.fuzz.invariants import trace_problems
from benchmarks.fuzz.workdir import scratch
from forecastscale.errors import TraceError
from forecastscale.sources.csvtrace import load_trace

ROOT = Path(__file__).resolve().parents[2]
PIECES_PER_FILE = 40
MAX_MESSAGE_CHARS = 2_000
TIMES = ["nan", "inf", "-inf", "", "0", "-1", "1e18", "1e999", "9999-12-31T23:59:59", "0001-01-01T00:00:00+14:00",
         "2024-02-30T00:00:00", "2024-01-01T00:00:00+99:00", "55840-01-01", "2024-01-01T00:00:00Z", "1.7e9",
         "yesterday"]
VALUES = ["nan", "inf", "-inf", "", "-1", "0", "1e308", "1e999", "9" * 400, "1,5", "0x10", "1_000", "NaN", " 3 ", "x"]


def seeds() -> list[list[tuple[str, str]]]:
    """Pieces of the bundled traces as ``(timestamp, value)`` text rows."""
    rng = random.Random(0)  # the pieces are part of the seed set: the same every campaign
    out = []
    for path in sorted(ROOT.glob("data/*.csv")):
        rows = [tuple(line.split(",", 1)) for line in path.read_text(encoding="utf-8").splitlines()[1:] if "," in line]
        for _ in range(PIECES_PER_FILE):
            n = rng.randint(5, 60)
            start = rng.randrange(len(rows) - n)
            out.append([(t, v) for t, v in rows[start:start + n]])
    return out


def _epoch(text: str) -> float:
    """Epoch seconds of a seed's timestamp text (an earlier attack may have mangled it: then a fixed time)."""
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        return 1.4e9
    return (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).timestamp()


def _rewrite(rng: random.Random, rows: list[list[str]]) -> None:
    """Rewrite some rows in place with one structured attack."""
    attack = rng.randrange(8)
    i = rng.randrange(len(rows))
    if attack == 0:  # epoch seconds, or milliseconds, for every row
        scale = rng.choice([1, 1000, 1_000_000])
        for row in rows:
            row[0] = f"{_epoch(row[0]) * scale:.0f}"
    elif attack == 1:  # one row moved far away in time
        rows[i][0] = f"{_epoch(rows[0][0]) + rng.choice([1e6, 1e8, 1e9, 3e9, -1e9]):.0f}"
    elif attack == 2:
        rows[i][0] = rng.choice(TIMES)
    elif attack == 3:
        rows[i][1:2] = [rng.choice(VALUES)]  # a row cut short by an earlier attack gets its value back
    elif attack == 4:  # a field too many or too few
        rows[i] = rows[i] + ["extra"] if rng.random() < 0.5 else rows[i][:1]
    elif attack == 5:  # zone offsets and ISO forms
        for row in rows:
            row[0] = row[0].replace(" ", "T") + rng.choice(["Z", "+05:30", "-12:00", "+14:00"])
    elif attack == 6:  # shuffled, duplicated
        rng.shuffle(rows)
        rows.extend(rows[: rng.randint(0, 3)])
    else:
        del rows[rng.randrange(len(rows)):]


def mutate(rng: random.Random, seed: list[tuple[str, str]]) -> bytes:
    """One hostile CSV file."""
    rows = [list(r) for r in seed]
    header = "timestamp,value"
    for _ in range(rng.randint(1, 3)):
        if rows:
            _rewrite(rng, rows)
    if rng.random() < 0.1:
        header = rng.choice(["timestamp,value,host", "Timestamp , VALUE", "value,timestamp", "timestamp", ""])
        if header.endswith("host"):
            rows = [[*r, f"h{k}"] for k, r in enumerate(rows)]
    newline = "\r\n" if rng.random() < 0.1 else "\n"
    text = header + newline + "".join(",".join(r) + newline for r in rows)
    if rng.random() < 0.3:
        text = mutate_text(rng, text, rng.randint(1, 3))
    bom = "\ufeff" if rng.random() < 0.1 else ""
    return (bom + text).encode("utf-8", errors="surrogatepass")


def run(case: bytes) -> Verdict:
    """Load the case; a TraceError naming the file is clean, an accepted trace must satisfy the invariants."""
    path = scratch() / "trace.csv"
    path.write_bytes(case)
    try:
        trace = load_trace(path)
    except TraceError as exc:
        if not str(exc).startswith(str(path)) or len(str(exc)) > MAX_MESSAGE_CHARS:
            return Verdict("wrong", f"error does not name the file or is long: {str(exc)[:200]}")
        return Verdict("clean", str(exc).removeprefix(str(path))[:200])
    return verdict(trace_problems(trace))


SURFACE = Surface("csv", seeds, mutate, run)
