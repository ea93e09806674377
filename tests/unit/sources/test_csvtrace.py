from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from forecastscale.errors import TraceError
from forecastscale.sources.csvtrace import MAX_SLOTS, load_trace
from tests.conftest import DATA

Writer = Callable[[str, str], Path]


@pytest.mark.parametrize(("text", "message"), [
    ("", r":1: empty file"),
    ("2024-01-01T00:00:00,1\n2024-01-01T00:01:00,2\n", r":1: header must start with 'timestamp,value'"),
    ("timestamp,value\n2024-01-01T00:00:00,1\nyesterday,2\n", r":3: not a timestamp: 'yesterday'"),
    ("timestamp,value\n2024-01-01T00:00:00,1\n2024-01-01T00:01:00,lots\n", r":3: not a number: 'lots'"),
    ("timestamp,value\n2024-01-01T00:00:00\n", r":2: expected 'timestamp,value'"),
    ("timestamp,value\n2024-01-01T00:00:00,1\n2024-01-01T00:01:00,2\n", r"2 data rows; need at least 3"),
    ("timestamp,value\n1704067200,1\n1704067200,2\n1704067200,3\n", r"all samples share one timestamp"),
    ("timestamp,value\n1704067200,-1\n1704067260,nan\n1704067320,\n", r"0 valid \(non-negative, non-NaN\)"),
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
        "2024-01-01T00:00:00Z,10",
        "2024-01-01T00:02:00Z,30",   # out of order (after 00:03)
        "2024-01-01T00:01:00Z,20",
        "2024-01-01T00:03:00Z,-5",   # negative → missing → interpolated
        "2024-01-01T00:04:00Z,50",
        "2024-01-01T00:04:00Z,60",   # duplicate: the later row wins
        "2024-01-01T00:05:00Z,",     # empty → missing
        "2024-01-01T00:06:00Z,0",    # zero is real demand
        # 00:07 is a gap
        "2024-01-01T00:08:00Z,80",
    ]) + "\n"
    trace = load_trace(write_csv("t.csv", text))
    r = trace.report
    assert (r.rows, r.unsorted_rows, r.duplicates, r.missing_values, r.negative_values, r.zero_values) == (
        9, 1, 1, 1, 1, 1)
    assert r.filled_slots == 3  # 00:03 (negative), 00:05 (empty), 00:07 (gap)
    assert trace.step_s == 60
    np.testing.assert_allclose(trace.values, [10, 20, 30, 45, 60, 30, 0, 40, 80])


def test_epoch_seconds_and_zone_offsets_agree(write_csv: Writer) -> None:
    epoch = load_trace(write_csv("a.csv", "timestamp,value\n1704070800,1\n1704071100,2\n1704071400,3\n"))
    iso = load_trace(write_csv("b.csv", "timestamp,value\n"
                               "2024-01-01T02:00:00+01:00,1\n2024-01-01T01:05:00Z,2\n2024-01-01 01:10:00,3\n"))
    assert epoch.start == iso.start
    assert epoch.step_s == iso.step_s == 300
    np.testing.assert_array_equal(epoch.values, iso.values)


def test_bundled_trace_reports_its_known_gaps() -> None:
    trace = load_trace(DATA / "elb_request_count_8c0756.csv")
    assert trace.step_s == 300
    assert trace.report.filled_slots == 8  # PROVENANCE.md: 8 gaps of 10 min
    assert trace.report.rows == 4032


# --- issue 14: hostile CSV is a TraceError naming the file and line, refused before any big allocation ------

T0 = 1704067200  # 2024-01-01T00:00:00Z


def rows(*lines: str) -> str:
    return "timestamp,value\n" + "".join(f"{line}\n" for line in lines)


@pytest.mark.parametrize(("text", "message"), [
    (rows(f"{T0}000,1", f"{T0 + 60}000,2", f"{T0 + 120}000,3"),
     r":2: timestamp: 1704067200000.0 is after 2200-01-01T00:00:00Z; it looks like epoch milliseconds "
     r"\(2024-01-01T00:00:00Z\): give seconds"),
    (rows(f"{T0},1", "55840-01-01T00:00:00,2"), r":3: not a timestamp: '55840-01-01T00:00:00'"),
    (rows(f"{T0},1", "9999-12-31T23:59:59,2"), r":3: timestamp: '9999-12-31T23:59:59' is not between 1990 and 2200"),
    (rows(f"{T0},1", "0001-01-01T00:00:00+05:00,2"), r":3: timestamp: '0001-01-01T00:00:00\+05:00' is not between"),
    (rows(f"{T0},1", "1e18,2"), r":3: timestamp: must be a time between 1990-01-01T00:00:00Z and 2200"),
    (rows(f"{T0},1", "0,2"), r":3: timestamp: must be a time between"),
    (rows("nan,1"), r":2: timestamp: must be a finite number, got nan"),
    (rows("-inf,1"), r":2: timestamp: must be a finite number, got -inf"),
    (rows(f"{T0},1", f"{T0 + 1},2", f"{T0 + 2},3", f"{T0 + 10**9},4"),
     r":5: the rows span 1,000,000,000 s at the inferred step of 1 s, which needs 1,000,000,001 slots "
     r"\(at most 5,000,000\); the largest gap is 999,999,998 s, between lines 4 and 5"),
    (rows(f"{T0},1,extra", f"{T0 + 60},2", f"{T0 + 120},3"), r":2: expected 'timestamp,value', got 3 field\(s\)"),
    (rows(f"{T0},1,", f"{T0 + 60},2", f"{T0 + 120},3"), r":2: expected 'timestamp,value', got 3 field\(s\)"),
    ("timestamp,value,host\n" + f"{T0},1,a\n{T0 + 60},2\n", r":3: expected 3 fields like the header, got 2"),
    (rows(f"{T0}," + "1" * 200_000), r":2: not a text CSV file: field larger than field limit"),
], ids=["epoch-ms", "year-55840", "year-9999", "year-1-offset", "1e18-seconds", "1970", "nan-time", "inf-time",
        "far-apart", "extra-field", "trailing-comma", "short-row-with-header-columns", "huge-field"])
def test_hostile_rows_are_refused_with_file_and_line(write_csv: Writer, text: str, message: str) -> None:
    path = write_csv("t.csv", text)
    with pytest.raises(TraceError, match=f"^{path}{message}") as info:
        load_trace(path)
    assert len(str(info.value)) < 400


def test_a_bom_and_named_extra_columns_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("\ufefftimestamp,value,host\n" + "".join(f"{T0 + 60 * i},{i},h{i}\n" for i in range(4)),
                    encoding="utf-8")
    trace = load_trace(path)
    assert trace.step_s == 60 and trace.start.timestamp() == T0
    np.testing.assert_array_equal(trace.values, [0, 1, 2, 3])


def test_queue_and_gpu_utilisation_columns_are_kept_and_repaired_like_value(write_csv: Writer) -> None:
    rows = ["timestamp,value,host,Queue,gpu_utilisation", f"{T0},1,h,4,50", f"{T0 + 60},2,h,,nan",
            f"{T0 + 120},3,h,-1,70", f"{T0 + 240},4,h,10,90"]  # a missing slot at T0 + 180 too
    trace = load_trace(write_csv("t.csv", "\n".join(rows) + "\n"))
    np.testing.assert_allclose(trace.columns["queue"], [4, 5.5, 7, 8.5, 10])  # empty, negative: interpolated
    np.testing.assert_allclose(trace.columns["gpu_utilisation"], [50, 60, 70, 80, 90])
    assert trace.report.columns_filled == {"queue": 3, "gpu_utilisation": 2}
    assert "queue: 3 slots filled" in trace.report.summary()


def test_kv_cache_column_is_kept_and_a_percentage_above_100_is_missing(write_csv: Writer) -> None:
    rows = ["timestamp,value,kv_cache,gpu_utilisation", f"{T0},1,20,50", f"{T0 + 60},2,140,101",
            f"{T0 + 120},3,40,70"]  # 140 % and 101 % are not readings (a 0–1 fraction × 100 is at most 100)
    trace = load_trace(write_csv("t.csv", "\n".join(rows) + "\n"))
    np.testing.assert_allclose(trace.columns["kv_cache"], [20, 30, 40])
    np.testing.assert_allclose(trace.columns["gpu_utilisation"], [50, 60, 70])
    assert trace.report.columns_filled == {"gpu_utilisation": 1, "kv_cache": 1}


@pytest.mark.parametrize(("rows", "message"), [
    (["timestamp,value,queue", f"{T0},1,1", f"{T0 + 60},1,lots", f"{T0 + 120},1,1"], r":3: queue not a number: 'lots'"),
    (["timestamp,value,queue,queue", f"{T0},1,1,1"], r":1: column 'queue' named more than once"),
    (["timestamp,value,gpu_utilisation", f"{T0},1,", f"{T0 + 60},1,-3", f"{T0 + 120},1,inf"],
     r"column 'gpu_utilisation' holds no valid"),
    (["timestamp,value,kv_cache", f"{T0},1,101", f"{T0 + 60},1,-3", f"{T0 + 120},1,nan"],
     r"column 'kv_cache' holds no valid \(finite, within 0–100\)"),
], ids=["not-a-number", "named-twice", "no-valid-value", "kv-none-within-0-100"])
def test_bad_kept_columns_are_errors(write_csv: Writer, rows: list[str], message: str) -> None:
    with pytest.raises(TraceError, match=message):
        load_trace(write_csv("t.csv", "\n".join(rows) + "\n"))


def test_a_path_with_a_nul_byte_is_a_trace_error(tmp_path: Path) -> None:
    with pytest.raises(TraceError, match="cannot read"):
        load_trace(tmp_path / "a\x00b.csv")


def test_the_widest_grid_allowed_still_loads(write_csv: Writer) -> None:
    step = 60
    far = T0 + (MAX_SLOTS - 1) * step
    trace = load_trace(write_csv("t.csv", rows(f"{T0},1", f"{T0 + step},2", f"{T0 + 2 * step},3", f"{far},4")))
    assert len(trace.values) == MAX_SLOTS and np.isfinite(trace.values).all()
