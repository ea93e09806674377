from __future__ import annotations

import pytest

from forecastscale.sources.prometheus import parse_duration


@pytest.mark.parametrize(("text", "seconds"), [
    ("90s", 90.0),
    ("30m", 1800.0),
    ("6h", 21600.0),
    ("14d", 1_209_600.0),
    ("2w", 1_209_600.0),
    ("1h30m", 5400.0),
    ("1.5m", 90.0),
    (" 5m ", 300.0),
], ids=["seconds", "minutes", "hours", "days", "weeks", "compound", "decimal", "padded"])
def test_good_durations_in_seconds(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", [
    "", "14", "m", "-5m", "5 m", "5M", "100ms", "1y", "5m extra", "0s", "0h0m", "nan", "1e3s",
], ids=["empty", "no-unit", "no-number", "negative", "inner-space", "upper-case", "millis", "years",
        "trailing-text", "zero", "zero-compound", "nan", "exponent"])
def test_bad_durations_name_the_value(text: str) -> None:
    with pytest.raises(ValueError, match=f"{text!r}".replace("(", r"\(")) as info:
        parse_duration(text)
    assert "duration" in str(info.value)
