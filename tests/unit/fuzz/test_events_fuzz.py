"""Property: whatever a client sends to ``/v1/events`` — hostile bodies, methods in any case, lying lengths, wrong
tokens — every answer is a documented status with a JSON body, nothing is stored that was not persisted, every
booked event holds the edge rules and the listing still answers: never a 500, never an exception, never a hang.

The oracle is the campaign's (:mod:`benchmarks.fuzz.events`), so the suite and ``benchmarks/fuzz_campaign.py``
judge alike."""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.fuzz.events import METHODS, TOKEN, run, seeds
from tests.unit.fuzz.strategies import edited, spliced

SEEDS = seeds()
SLOW = [HealthCheck.too_slow, HealthCheck.data_too_large]


def _post(body: bytes, method: str = "POST", length: str | None = None) -> tuple[str, str, str, str, bytes, str]:
    return method, "/v1/events", "", TOKEN, body, str(len(body)) if length is None else length


def check(*requests: tuple[str, str, str, str | None, bytes, str]) -> None:
    verdict = run(list(requests))
    assert verdict.kind in ("clean", "ok"), verdict.detail


@settings(max_examples=300, suppress_health_check=SLOW)
@given(st.data())
def test_announcements_with_hostile_values(data: st.DataObject) -> None:
    body: dict[str, Any] = data.draw(edited(copy.deepcopy(data.draw(st.sampled_from(SEEDS)))))
    check(_post(json.dumps(body, default=str).encode(), data.draw(st.sampled_from(METHODS))))


@settings(max_examples=150, suppress_health_check=SLOW)
@given(st.sampled_from(SEEDS), st.data())
def test_edited_text_and_raw_bytes(seed: dict[str, Any], data: st.DataObject) -> None:
    text = data.draw(spliced(json.dumps(seed)))
    check(_post(text.encode("utf-8", errors="surrogatepass")), _post(data.draw(st.binary(max_size=300))))


@settings(max_examples=150, suppress_health_check=SLOW)
@given(st.sampled_from(SEEDS), st.sampled_from(["0", "-1", "x", "999999999", "7"]),
       st.sampled_from(["DELETE", "delete", "GET", "PUT"]), st.text(max_size=80))
def test_a_booking_then_lying_lengths_and_other_methods_on_its_id(seed: dict[str, Any], length: str, method: str,
                                                                  junk: str) -> None:
    body = json.dumps(seed).encode()
    check(_post(body), _post(body, length=length), (method, "/v1/events/{id}", junk, TOKEN, b"", "0"))
