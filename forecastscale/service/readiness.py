"""``/readyz`` checks of a running service (named booleans)."""

from __future__ import annotations

from forecastscale.service.core import Service

TICKS_LATE = 3  # ticks may be this many periods apart before the loop counts as stuck


def readiness(service: Service) -> dict[str, bool]:
    """``config`` (loaded: always, once the service exists), ``prometheus`` (answered the last tick),
    ``leadership`` (an election round has said leader or standby; always without election), ``ticks`` (the
    last tick ran to its end, less than three tick periods ago), ``decisions`` (every target decided within
    ``service.stale_after_ticks`` ticks) and, when that fails, one ``decided:<target>`` check per stale target."""
    elector = service.elector
    last = service.last_tick_at
    late = last is None or service.clock() - last > TICKS_LATE * service.config.service.tick_s
    stale = service.stale_targets()
    return {
        "config": True,
        "prometheus": service.prometheus_ok is True,
        "leadership": elector is None or elector.rounds > 0,
        "ticks": service.failed_ticks == 0 and not late,
        "decisions": not stale,
        **{f"decided:{name}": False for name in stale[:20]},
    }
