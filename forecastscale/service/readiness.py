"""``/readyz`` checks of a running service (named booleans)."""

from __future__ import annotations

from forecastscale.service.core import Service


def readiness(service: Service) -> dict[str, bool]:
    """``config`` (loaded: always, once the service exists), ``prometheus`` (answered the last tick),
    ``leadership`` (an election round has said leader or standby; always without election)."""
    elector = service.elector
    return {
        "config": True,
        "prometheus": service.prometheus_ok is True,
        "leadership": elector is None or elector.rounds > 0,
    }
