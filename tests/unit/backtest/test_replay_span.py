"""``replay``'s history span and its command-line errors (the Prometheus round trip is in integration)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from forecastscale.backtest.replay import parse_until, replay_span, scored_hours
from forecastscale.cli import app
from forecastscale.config import Config
from forecastscale.errors import ConfigError
from tests.conftest import BASE_CONFIG, DATA

NOW = datetime(2026, 11, 29, 7, 57, 21, tzinfo=UTC)


@pytest.mark.parametrize(("text", "expected"), [
    (None, NOW),
    ("now", NOW),
    ("3h", NOW - timedelta(hours=3)),
    ("1d12h", NOW - timedelta(days=1, hours=12)),
    ("2026-11-20T06:00", datetime(2026, 11, 20, 6, tzinfo=UTC)),  # no zone: UTC
    ("2026-11-20T08:00+02:00", datetime(2026, 11, 20, 6, tzinfo=UTC)),
])
def test_until(text: str | None, expected: datetime) -> None:
    assert parse_until(text, NOW) == expected


def test_until_rejects_other_text() -> None:
    with pytest.raises(ConfigError, match="--until"):
        parse_until("yesterday", NOW)


def test_span_is_whole_steps_ending_before_until() -> None:
    span = replay_span("7d", NOW, 60.0)
    assert span.end == datetime(2026, 11, 29, 7, 57, tzinfo=UTC)
    assert span.start == span.end - timedelta(days=7)
    assert span.last == span.end - timedelta(minutes=1)  # the last evaluation; it holds until `end`
    assert span.steps == 7 * 1440
    odd = replay_span("1h30s", NOW, 60.0)  # a part-step is dropped at the start
    assert odd.steps == 60 and odd.end == span.end


@pytest.mark.parametrize(("since", "message"), [("7 days", "not a duration"), ("1m", "shorter than two")])
def test_span_errors(since: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        replay_span(since, NOW, 60.0)


def test_scored_hours_follow_the_warm_up(make_config: Callable[..., Config]) -> None:
    span = replay_span("7d", NOW, 60.0)
    assert scored_hours(make_config(), span) == pytest.approx(0.8 * 7 * 24)  # default: 20 % of a short span
    assert scored_hours(make_config(backtest={"warmup_s": 86400}), span) == pytest.approx(6 * 24)
    assert scored_hours(make_config(), replay_span("14d", NOW, 60.0)) == pytest.approx(12 * 24)  # 2 days


def _config(tmp_path: Path, query: bool = True) -> Path:
    raw = yaml.safe_load(yaml.safe_dump(BASE_CONFIG))
    if query:
        raw["targets"][0]["queries"] = {"demand": "sum(rate(requests_total[5m]))"}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


@pytest.mark.parametrize(("args", "message"), [
    (["--since", "soon"], "not a duration: 'soon'"),
    (["--until", "later"], "expected 'now', a duration"),
    (["--target", "nobody"], "no target named 'nobody'"),
    (["--policy", "magic"], "unknown policy 'magic'"),
], ids=["since", "until", "target", "policy"])
def test_replay_bad_input_is_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    # Port 9 (discard) refuses: checks that need no answer must fail before any fetch.
    result = CliRunner().invoke(app, ["replay", "--config", str(_config(tmp_path)),
                                      "--prometheus", "http://127.0.0.1:9", *args, "--quiet"])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_replay_needs_a_demand_query_and_a_prometheus(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["replay", "--config", str(_config(tmp_path, query=False)),
                                      "--prometheus", "http://127.0.0.1:9"])
    assert result.exit_code == 2
    assert "error: replay: invalid configuration" in result.output
    assert "targets[llm].queries.demand: required with --prometheus" in result.output
    assert "fetching" not in result.output
    result = CliRunner().invoke(app, ["replay", "--config", str(_config(tmp_path)), "--prometheus",
                                      "http://127.0.0.1:9", "--quiet"])
    assert result.exit_code == 2
    assert "cannot reach Prometheus" in result.output


def test_backtest_openmetrics_refuses_what_it_cannot_label(tmp_path: Path) -> None:
    config, trace = DATA / "elb_request_count.yaml", DATA / "elb_request_count_8c0756.csv"
    result = CliRunner().invoke(app, ["backtest", "--config", str(config), "--trace", str(trace), "--trace", str(trace),
                                      "--openmetrics", str(tmp_path / "x.om")])
    assert result.exit_code == 2
    assert "'chat-llm' is replayed more than once" in result.output
    result = CliRunner().invoke(app, ["backtest", "--config", str(DATA / "scenarios" / "shared_pool.yaml"),
                                      "--shared-pool", "--openmetrics", str(tmp_path / "x.om")])
    assert result.exit_code == 2
    assert "not with --shared-pool" in result.output
    assert not (tmp_path / "x.om").exists()
