"""LeaseSettings validation: every bad value is refused with the field and the value in the message."""

from __future__ import annotations

import math
import re
from typing import Any

import pytest

from forecastscale.service.leader import LeaseSettings


def test_defaults_are_client_gos() -> None:
    s = LeaseSettings("forecastscale", "default", "pod-0")
    assert (s.lease_duration_s, s.renew_deadline_s, s.retry_period_s) == (15.0, 10.0, 2.0)


def test_fractions_of_a_second_are_allowed() -> None:
    s = LeaseSettings("l", "ns", "a", lease_duration_s=1.5, renew_deadline_s=1.0, retry_period_s=0.25)
    assert s.retry_period_s == 0.25


@pytest.mark.parametrize(("changes", "message"), [
    ({"lease_duration_s": 0}, "lease_duration_s must be a finite number > 0, got 0"),
    ({"renew_deadline_s": -1.0}, "renew_deadline_s must be a finite number > 0, got -1.0"),
    ({"retry_period_s": 0.0}, "retry_period_s must be a finite number > 0, got 0.0"),
    ({"lease_duration_s": math.nan}, "lease_duration_s must be a finite number > 0, got nan"),
    ({"lease_duration_s": math.inf}, "lease_duration_s must be a finite number > 0, got inf"),
    ({"renew_deadline_s": 15.0}, "lease_duration_s=15, renew_deadline_s=15, retry_period_s=2"),
    ({"renew_deadline_s": 20.0}, "lease_duration_s=15, renew_deadline_s=20, retry_period_s=2"),
    ({"retry_period_s": 10.0}, "lease_duration_s=15, renew_deadline_s=10, retry_period_s=10"),
    ({"identity": ""}, "identity must not be empty, got ''"),
    ({"name": ""}, "name must not be empty, got ''"),
    ({"namespace": ""}, "namespace must not be empty, got ''"),
], ids=["zero-duration", "negative-deadline", "zero-retry", "nan-duration", "infinite-duration",
        "deadline-equals-duration", "deadline-above-duration", "retry-equals-deadline", "empty-identity",
        "empty-name", "empty-namespace"])
def test_bad_settings_name_the_field_and_value(changes: dict[str, Any], message: str) -> None:
    fields: dict[str, Any] = {"name": "forecastscale", "namespace": "default", "identity": "pod-0", **changes}
    with pytest.raises(ValueError, match=re.escape(message)):
        LeaseSettings(**fields)
