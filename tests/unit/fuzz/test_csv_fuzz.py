"""Property: whatever a trace file holds, ``load_trace`` gives a TraceError naming the file, or a trace with
finite non-negative values, a positive finite step, at most MAX_SLOTS slots and a start within the horizon —
never another exception, never a hang (far-apart rows are refused before the grid is allocated)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.fuzz.invariants import trace_problems
from forecastscale.edge import EARLIEST_S, LATEST_S
from forecastscale.errors import TraceError
from forecastscale.sources import csvtrace
from forecastscale.sources.csvtrace import load_trace
from tests.conftest import DATA
from tests.unit.fuzz.strategies import spliced

SLOW = [HealthCheck.too_slow, HealthCheck.data_too_large]
ZONES = [None, UTC, timezone(timedelta(hours=14)), timezone(-timedelta(hours=12)), timezone(timedelta(minutes=330))]
SANE = st.floats(EARLIEST_S, LATEST_S)


@pytest.fixture(scope="module")
def file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield tmp_path_factory.mktemp("csv") / "t.csv"


@pytest.fixture(scope="module", autouse=True)
def small_grid() -> Iterator[None]:
    """The slot bound lowered to 100,000: the same refusal, reached without 40-MB grids in every other example
    (the real bound's widest grid is tested in tests/unit/sources)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(csvtrace, "MAX_SLOTS", 100_000)
        yield


def check(path: Path, text: str | bytes) -> None:
    """The property itself."""
    path.write_bytes(text.encode("utf-8", errors="surrogatepass") if isinstance(text, str) else text)
    try:
        trace = load_trace(path)
    except TraceError as exc:
        assert str(exc).startswith(str(path)) and len(str(exc)) < 1000, str(exc)[:300]
        return
    assert trace_problems(trace) == []


times = st.one_of(
    SANE.map(lambda t: f"{t:.0f}"),  # epoch seconds
    SANE.map(lambda t: f"{t * 1000:.0f}"),  # epoch milliseconds
    st.floats().map(repr),  # anything, NaN and inf included
    st.datetimes(timezones=st.sampled_from(ZONES)).map(datetime.isoformat),  # years 1 to 9999, zones
    st.sampled_from(["", "nan", "-inf", "1e999", "2024-02-30", "55840-01-01", "0", "1e18", "yesterday"]),
)
values = st.one_of(st.floats().map(repr), st.integers(-(10**30), 10**30).map(str),
                   st.sampled_from(["", "nan", "inf", "-1", "1e999", "9" * 400, "1,5", "x", " 3 "]))


@st.composite
def rows(draw: st.DrawFn) -> list[list[str]]:
    """Mostly a regular series (epoch seconds or ISO), with hostile rows, far-apart rows and odd field counts."""
    start, step, n = draw(SANE), draw(st.floats(1, 86400)), draw(st.integers(0, 40))
    iso = draw(st.booleans())
    out = [[datetime.fromtimestamp(start + k * step, UTC).isoformat() if iso else f"{start + k * step:.3f}",
            f"{k % 7}"] for k in range(n) if start + k * step <= LATEST_S]
    for _ in range(draw(st.integers(0, 4))):
        row = [draw(times), draw(values)]
        if draw(st.integers(0, 9)) == 0:
            row = row[: draw(st.integers(0, 1))] if draw(st.booleans()) else [*row, "extra"]
        out.insert(draw(st.integers(0, len(out))), row)
    if out and draw(st.booleans()):  # one row far away: the grid between would be huge
        out.append([f"{min(LATEST_S, start + draw(st.floats(1e5, 1e10))):.0f}", "1"])
    return out


@settings(max_examples=500, suppress_health_check=SLOW)
@given(rows(), st.sampled_from(["timestamp,value", "timestamp,value,host", "Timestamp , VALUE", "value,timestamp"]),
       st.booleans(), st.sampled_from(["\n", "\r\n"]))
def test_generated_rows(file: Path, body: list[list[str]], header: str, bom: bool, newline: str) -> None:
    if header.endswith("host"):
        body = [[*r, "h"] for r in body]
    check(file, ("\ufeff" if bom else "") + newline.join([header, *(",".join(r) for r in body)]) + newline)


PIECES = [p.read_text(encoding="utf-8").splitlines()[:40] for p in sorted(DATA.glob("*.csv"))]


@settings(max_examples=250, suppress_health_check=SLOW)
@given(st.sampled_from(PIECES).map(lambda lines: "\n".join(lines) + "\n").flatmap(spliced))
def test_blindly_edited_real_traces(file: Path, text: str) -> None:
    check(file, text)


@settings(max_examples=150, suppress_health_check=SLOW)
@given(st.binary(max_size=300) | st.text(max_size=300).map(lambda t: "timestamp,value\n" + t))
def test_arbitrary_bytes_and_text(file: Path, raw: bytes | str) -> None:
    check(file, raw)
