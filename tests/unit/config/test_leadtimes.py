"""``workload.lead``: validated at the edge, one line naming the field and the value."""

from __future__ import annotations

from typing import Any

import pytest

from forecastscale.config import parse_config
from forecastscale.errors import ConfigError
from tests.conftest import BASE_CONFIG, merged


def _problems(lead: Any) -> list[str]:
    raw = {**BASE_CONFIG, "targets": [merged(BASE_CONFIG["targets"][0], {"workload": {"lead": lead}})]}
    try:
        parse_config(raw)
    except ConfigError as exc:
        return exc.problems
    return []


@pytest.mark.parametrize(("lead", "problem"), [
    ({"quantile": 1.0}, "targets[0].workload.lead.quantile: "),
    ({"quantile": 0}, "targets[0].workload.lead.quantile: "),
    ({"min_samples": 0}, "targets[0].workload.lead.min_samples: "),
    ({"window": 5000}, "targets[0].workload.lead.window: "),
    ({"min_samples": 10, "window": 5}, "targets[0].workload.lead: min_samples (10) must be at most window (5)"),
    ({"ceiling": 0.5}, "targets[0].workload.lead.ceiling: "),
    ({"learn": "maybe"}, "targets[0].workload.lead.learn: "),
    ({"lern": True}, "targets[0].workload.lead.lern: unknown field"),
], ids=["q-1", "q-0", "min-0", "window-huge", "min>window", "ceiling<1", "learn-text", "typo"])
def test_a_bad_lead_setting_is_one_line_naming_it(lead: dict[str, Any], problem: str) -> None:
    [line] = _problems(lead)
    assert line.startswith(problem), line


def test_learning_is_off_by_default_and_plans_over_p90_once_on() -> None:
    assert _problems({}) == []
    lead = parse_config(BASE_CONFIG).targets[0].workload.lead
    assert (lead.learn, lead.quantile, lead.min_samples, lead.window) == (False, 0.9, 5, 50)
