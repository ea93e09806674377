from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from forecastscale.errors import TraceError
from forecastscale.sources.csvtrace import load_trace
from tests.conftest import DATA

Writer = Callable[[str, str], Path]


@pytest.mark.parametrize(("text", "message"), [
    ("", r":1: empty file"),
    ("2024-01-01T00:00:00,1\n2024-01-01T00:01:00,2\n", r":1: header must start with 'timestamp,value'"),
    ("timestamp,value\n2024-01-01T00:00:00,1\nyesterday,2\n", r":3: not a timestamp: 'yesterday'"),
    ("timestamp,value\n2024-01-01T00:00:00,1\n2024-01-01T00:01:00,lots\n", r":3: not a number: 'lots'"),
    ("timestamp,value\n2024-01-01T00:00:00\n", r":2: expected 'timestamp,value'"),
    ("timestamp,value\n2024-01-01T00:00:00,1\n2024-01-01T00:01:00,2\n", r"2 data rows; need at least 3"),
    ("timestamp,value\n0,1\n0,2\n0,3\n", r"all samples share one timestamp"),
    ("timestamp,value\n0,-1\n60,nan\n120,\n", r"0 valid \(non-negative, non-NaN\)"),
], ids=["empty", "no-header", "bad-time", "bad-value", "one-field", "too-short", "one-time", "no-valid"])
def test_not_a_trace_names_the_problem(write_csv: Writer, text: str, message: str) -> None:
    with pytest.raises(TraceError, match=message):
        load_trace(write_csv("t.csv", text))


def test_binary_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "b.csv"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(TraceError, match="not a text CSV"):
        load_trace(path)


def test_every_repair_is_counted_and_documented_rule_applied(write_csv: Writer) -> None:
    text = "\n".join([
        "timestamp,value",
        "1970-01-01T00:00:00Z,10",
        "1970-01-01T00:02:00Z,30",   # out of order (after 00:03)
        "1970-01-01T00:01:00Z,20",
        "1970-01-01T00:03:00Z,-5",   # negative → missing → interpolated
        "1970-01-01T00:04:00Z,50",
        "1970-01-01T00:04:00Z,60",   # duplicate: the later row wins
        "1970-01-01T00:05:00Z,",     # empty → missing
        "1970-01-01T00:06:00Z,0",    # zero is real demand
        # 00:07 is a gap
        "1970-01-01T00:08:00Z,80",
    ]) + "\n"
    trace = load_trace(write_csv("t.csv", text))
    r = trace.report
    assert (r.rows, r.unsorted_rows, r.duplicates, r.missing_values, r.negative_values, r.zero_values) == (
        9, 1, 1, 1, 1, 1)
    assert r.filled_slots == 3  # 00:03 (negative), 00:05 (empty), 00:07 (gap)
    assert trace.step_s == 60
    np.testing.assert_allclose(trace.values, [10, 20, 30, 45, 60, 30, 0, 40, 80])


def test_epoch_seconds_and_zone_offsets_agree(write_csv: Writer) -> None:
    epoch = load_trace(write_csv("a.csv", "timestamp,value\n3600,1\n3900,2\n4200,3\n"))
    iso = load_trace(write_csv("b.csv", "timestamp,value\n"
                               "1970-01-01T02:00:00+01:00,1\n1970-01-01T01:05:00Z,2\n1970-01-01 01:10:00,3\n"))
    assert epoch.start == iso.start
    assert epoch.step_s == iso.step_s == 300
    np.testing.assert_array_equal(epoch.values, iso.values)


def test_bundled_trace_reports_its_known_gaps() -> None:
    trace = load_trace(DATA / "elb_request_count_8c0756.csv")
    assert trace.step_s == 300
    assert trace.report.filled_slots == 8  # PROVENANCE.md: 8 gaps of 10 min
    assert trace.report.rows == 4032
