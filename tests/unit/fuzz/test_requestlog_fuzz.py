"""Property: whatever a request log holds, ``load_request_log`` gives a TraceError naming the file, or series
that keep every request (rates × step sum to the row count), finite and non-negative, at most MAX_STEPS long and
starting on the step grid within the time horizon — never another exception, never a hang."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forecastscale.edge import EARLIEST_S, LATEST_S
from forecastscale.errors import TraceError
from forecastscale.sources import requestlog
from forecastscale.sources.requestlog import load_request_log

SLOW = [HealthCheck.too_slow, HealthCheck.data_too_large]
SANE = st.floats(EARLIEST_S, LATEST_S - 1e6)
HEAD = "TIMESTAMP,ContextTokens,GeneratedTokens"


@pytest.fixture(scope="module")
def file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield tmp_path_factory.mktemp("log") / "log.csv"


@pytest.fixture(scope="module", autouse=True)
def small_grid() -> Iterator[None]:
    """The step bound lowered to 100,000: the same refusal without 40-MB series in every other example."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(requestlog, "MAX_STEPS", 100_000)
        yield


def check(path: Path, text: str, step_s: float) -> None:
    """The property itself."""
    path.write_bytes(text.encode("utf-8", errors="surrogatepass"))
    try:
        s = load_request_log(path, step_s)
    except TraceError as exc:
        assert str(exc).startswith(str(path)) and len(str(exc)) < 1000, str(exc)[:300]
        return
    arrays = (s.requests_per_s, s.prompt_tokens_per_s, s.generated_tokens_per_s)
    assert len({len(a) for a in arrays}) == 1 and 0 < len(arrays[0]) <= requestlog.MAX_STEPS
    assert all(np.isfinite(a).all() and (a >= 0).all() for a in arrays)
    assert round(float(s.requests_per_s.sum()) * s.step_s) == s.rows
    assert EARLIEST_S - s.step_s <= s.start_s <= LATEST_S and s.start_s % s.step_s == 0


hostile = st.sampled_from(["", "nan", "-1", "1e999", "2.5", "\u00b2", "9" * 60, "yesterday", "2024-02-30",
                           "1700000000000", " 7 ", "0x10"]) | st.text(max_size=12)


@st.composite
def rows(draw: st.DrawFn) -> list[list[str]]:
    """Mostly requests at sane times (epoch or ISO, any order), with hostile fields, odd field counts and a far
    request."""
    start, n = draw(SANE), draw(st.integers(0, 30))
    iso = draw(st.booleans())
    out = []
    for _ in range(n):
        t = start + draw(st.floats(0, 3600))
        stamp = datetime.fromtimestamp(t, UTC).isoformat() if iso else f"{t:.3f}"
        out.append([stamp, str(draw(st.integers(0, 20000))), str(draw(st.integers(0, 2000)))])
    for _ in range(draw(st.integers(0, 3))):
        row = [draw(hostile) for _ in range(draw(st.sampled_from([3, 3, 3, 1, 4])))]
        out.insert(draw(st.integers(0, len(out))), row)
    if out and draw(st.booleans()):  # a request far away: the series between would be long
        out.append([f"{min(LATEST_S, start + draw(st.floats(1e5, 1e10))):.0f}", "1", "1"])
    return out


@settings(max_examples=300, suppress_health_check=SLOW)
@given(rows(), st.sampled_from([HEAD, HEAD.lower(), " TIMESTAMP , ContextTokens,GeneratedTokens", "timestamp,value"]),
       st.sampled_from([1.0, 10.0, 60.0]), st.sampled_from(["\n", "\r\n"]))
def test_generated_logs(file: Path, body: list[list[str]], header: str, step_s: float, newline: str) -> None:
    check(file, newline.join([header, *(",".join(r) for r in body)]) + newline, step_s)


@settings(max_examples=100, suppress_health_check=SLOW)
@given(st.text(max_size=300))
def test_arbitrary_text_after_the_header(file: Path, text: str) -> None:
    check(file, HEAD + "\n" + text, 10.0)
