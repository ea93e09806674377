"""Request logs (the Azure LLM inference traces) → requests/s and tokens/s per step: the documented rules."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from forecastscale.errors import TraceError
from forecastscale.sources.requestlog import MAX_STEPS, aggregate, load_request_log
from tests.conftest import DATA

Writer = Callable[[str, str], Path]
HEAD = "TIMESTAMP,ContextTokens,GeneratedTokens\n"


def test_each_request_counts_in_the_step_of_its_arrival(write_csv: Writer) -> None:
    text = HEAD + "\n".join([
        "2023-11-16 18:15:46.6805900,374,44",  # seven fractional digits, as the traces have: step 18:15:40
        "2023-11-16 18:15:49.9999999,100,10",  # the same step, to the microsecond
        "2023-11-16 18:16:05.0000000,1000,100",  # 18:16:00 (18:15:50 has no arrival: zero, not a gap)
        "2023-11-16 18:15:41+00:00,6,6",  # out of order, with a zone: counted where it belongs
        "",  # a blank line is skipped
    ]) + "\n"
    series = load_request_log(write_csv("log.csv", text), step_s=10)
    assert series.name == "log.csv" and series.rows == 4 and series.unsorted_rows == 1
    assert series.start_s == 1700158540.0  # 2023-11-16T18:15:40Z, a multiple of the step
    np.testing.assert_allclose(series.requests_per_s, [0.3, 0.0, 0.1])
    np.testing.assert_allclose(series.prompt_tokens_per_s, [48.0, 0.0, 100.0])
    np.testing.assert_allclose(series.generated_tokens_per_s, [6.0, 0.0, 10.0])
    np.testing.assert_allclose(series.tokens_per_s, [54.0, 0.0, 110.0])
    np.testing.assert_allclose(series.times(), 1700158540.0 + np.array([0.0, 10.0, 20.0]))


@pytest.mark.parametrize("name", ["AzureLLMInferenceTrace_conv.csv", "AzureLLMInferenceTrace_code.csv"])
def test_the_bundled_traces_keep_every_request_and_token(name: str) -> None:
    series = load_request_log(DATA / name, step_s=10)
    with (DATA / name).open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert series.rows == len(rows) and series.unsorted_rows == 0
    assert series.requests_per_s.sum() * 10 == pytest.approx(len(rows))
    assert series.prompt_tokens_per_s.sum() * 10 == pytest.approx(sum(int(r["ContextTokens"]) for r in rows))
    assert series.generated_tokens_per_s.sum() * 10 == pytest.approx(sum(int(r["GeneratedTokens"]) for r in rows))
    assert len(series.requests_per_s) < 400  # one hour at 10 s


@pytest.mark.parametrize(("text", "message"), [
    ("", r":1: empty file; expected a 'TIMESTAMP,ContextTokens,GeneratedTokens' header"),
    ("timestamp,value\n1700000000,1\n", r":1: header must be 'TIMESTAMP,ContextTokens,GeneratedTokens'"),
    (HEAD, r"no requests"),
    (HEAD + "1700000000,1\n", r":2: expected 'TIMESTAMP,ContextTokens,GeneratedTokens', got 2 field"),
    (HEAD + "1700000000,1,2\nyesterday,1,2\n", r":3: not a timestamp: 'yesterday'"),
    (HEAD + "1700000000000,1,2\n", r":2: .*looks like epoch milliseconds"),
    (HEAD + "1800-01-01T00:00:00,1,2\n", r":2: timestamp: .* is not between 1990 and 2200"),
    (HEAD + "1700000000,-1,2\n", r":2: ContextTokens: must be a whole number of tokens, got '-1'"),
    (HEAD + "1700000000,1,2.5\n", r":2: GeneratedTokens: must be a whole number of tokens, got '2.5'"),
    (HEAD + "1700000000,1,nan\n", r":2: GeneratedTokens: must be a whole number"),
    (HEAD + "1700000000,99999999,2\n", r":2: ContextTokens: must be within \[0, 1e\+07\]"),
    (HEAD + "1700000000,1," + "9" * 500 + "\n", r":2: GeneratedTokens: must be a whole number .*chars\)"),
    (HEAD + "1700000000,\u00b2,1\n", r":2: ContextTokens: must be a whole number"),  # a Unicode digit
    (HEAD + "1700000000,1,2\n7000000000,1,2\n", r"5,300,000,000 s, 530,000,001 steps of 10 s \(at most 5,000,000"),
], ids=["empty", "other-header", "no-rows", "two-fields", "bad-time", "milliseconds", "too-early",
        "negative-tokens", "fractional-tokens", "nan-tokens", "too-many-tokens", "huge-number", "unicode-digit",
        "too-many-steps"])
def test_not_a_request_log_names_the_file_and_line(write_csv: Writer, text: str, message: str) -> None:
    path = write_csv("log.csv", text)
    with pytest.raises(TraceError, match=message) as caught:
        load_request_log(path)
    assert str(caught.value).startswith(str(path)) and len(str(caught.value)) < 400


def test_a_binary_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "b.csv"
    path.write_bytes(HEAD.encode() + b"\xff\xfe\x00garbage\n")
    with pytest.raises(TraceError, match="not a text CSV"):
        load_request_log(path)


def test_the_step_count_is_bounded_before_anything_is_allocated() -> None:
    times = np.array([1.7e9, 1.7e9 + MAX_STEPS * 10.0])  # one step too many
    with pytest.raises(TraceError, match="at most 5,000,000"):
        aggregate("far", times, np.ones(2), np.ones(2), step_s=10)
