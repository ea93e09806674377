"""The status → error table, ApiException translation, Retry-After parsing and the retry policy."""

from __future__ import annotations

import json

import pytest
from kubernetes.client.exceptions import ApiException

from forecastscale.errors import PermanentError, TemporaryError
from forecastscale.kube.calls import from_api_exception, parse_retry_after
from forecastscale.kube.errors import (
    Conflict,
    Forbidden,
    KubeApiError,
    NotFound,
    Rejected,
    TooManyRequests,
    Unavailable,
    error_for_status,
)
from forecastscale.kube.retry import RetryPolicy

TARGET = "Deployment default/web"


@pytest.mark.parametrize(
    ("status", "cls", "temporary"),
    [
        pytest.param(409, Conflict, True, id="409-conflict"),
        pytest.param(429, TooManyRequests, True, id="429-throttled"),
        pytest.param(500, Unavailable, True, id="500-internal"),
        pytest.param(503, Unavailable, True, id="503-unavailable"),
        pytest.param(504, Unavailable, True, id="504-timeout"),
        pytest.param(0, Unavailable, True, id="0-no-response"),
        pytest.param(403, Forbidden, False, id="403-forbidden"),
        pytest.param(404, NotFound, False, id="404-not-found"),
        pytest.param(400, Rejected, False, id="400-bad-request"),
        pytest.param(401, Rejected, False, id="401-unauthorised"),
        pytest.param(422, Rejected, False, id="422-invalid"),
    ],
)
def test_status_table(status: int, cls: type[KubeApiError], temporary: bool) -> None:
    error = error_for_status(status, target=TARGET, detail="server says no")
    assert type(error) is cls
    assert isinstance(error, TemporaryError) is temporary
    assert isinstance(error, PermanentError) is not temporary
    assert (error.target, error.status) == (TARGET, status)
    assert str(error).startswith(f"{TARGET}: ") and str(error).endswith(": server says no")


def test_retry_after_is_kept_only_on_429() -> None:
    throttled = error_for_status(429, target=TARGET, retry_after_s=2.0)
    assert isinstance(throttled, TooManyRequests) and throttled.retry_after_s == 2.0
    assert not hasattr(error_for_status(409, target=TARGET, retry_after_s=2.0), "retry_after_s")


def _api_exception(status: int, body: object, headers: dict[str, str] | None = None) -> ApiException:
    exc = ApiException(status=status, reason="HTTP phrase", body=json.dumps(body) if body is not None else None)
    exc.headers = headers
    return exc


def test_from_api_exception_uses_status_body_reason_message_and_retry_after() -> None:
    body = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "TooManyRequests",
            "message": "slow down", "code": 429}
    error = from_api_exception(_api_exception(429, body, {"Retry-After": "2"}), TARGET)
    assert isinstance(error, TooManyRequests)
    assert (error.reason, error.retry_after_s) == ("TooManyRequests", 2.0)
    assert str(error) == f"{TARGET}: HTTP 429 TooManyRequests: slow down"


def test_from_api_exception_without_status_body_falls_back_to_http_reason() -> None:
    error = from_api_exception(_api_exception(502, None), TARGET)
    assert isinstance(error, Unavailable) and error.reason == "HTTP phrase"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        pytest.param({"Retry-After": "2"}, 2.0, id="seconds"),
        pytest.param({"retry-after": "0.5"}, 0.5, id="lowercase-fraction"),
        pytest.param({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, None, id="http-date"),
        pytest.param({"Retry-After": "-1"}, None, id="negative"),
        pytest.param({"Retry-After": "nan"}, None, id="nan"),
        pytest.param({}, None, id="absent"),
        pytest.param(None, None, id="no-headers"),
    ],
)
def test_parse_retry_after(headers: dict[str, str] | None, expected: float | None) -> None:
    assert parse_retry_after(headers) == expected


@pytest.mark.parametrize(
    ("retry_after_s", "expected"),
    [pytest.param(2.0, 2.0, id="server-value"), pytest.param(None, 1.0, id="default"),
     pytest.param(3600.0, 30.0, id="capped")],
)
def test_policy_wait(retry_after_s: float | None, expected: float) -> None:
    assert RetryPolicy().wait_s(retry_after_s) == expected


def test_policy_rejects_zero_attempts() -> None:
    with pytest.raises(ValueError, match="attempts"):
        RetryPolicy(attempts=0)
