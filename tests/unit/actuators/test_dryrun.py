"""DryRun: nothing is written; without a cluster it follows its own last decision."""

from __future__ import annotations

import pytest

from forecastscale.actuators import Outcome
from forecastscale.actuators.dryrun import DryRun


def test_without_a_cluster_current_follows_the_last_apply() -> None:
    a = DryRun("Deployment default/web", initial=2)
    assert a.current().spec_replicas == 2
    result = a.apply(5)
    assert (result.outcome, result.from_replicas, result.to_replicas) == (Outcome.DRY_RUN, 2, 5)
    assert a.current().spec_replicas == 5 and a.writes == [5]
    assert a.apply(5).outcome is Outcome.UNCHANGED and a.writes == [5]


def test_negative_replicas_rejected_naming_the_target() -> None:
    with pytest.raises(ValueError, match=r"web.*-1"):
        DryRun("Deployment default/web").apply(-1)
