"""The APScheduler loop around a :class:`~forecastscale.service.core.Service`.

Two interval jobs: the tick every ``service.tick_s`` seconds and, with leader election, one
election round every ``retry_period_s``. Both coalesce and never overlap themselves (a slow
tick delays the next instead of piling up). SIGTERM/SIGINT stop the scheduler; on the way out
the leader releases its Lease so a standby takes over at once instead of after lease expiry.
"""

from __future__ import annotations

import logging
import signal
from datetime import UTC, datetime
from types import FrameType

from apscheduler.schedulers.blocking import BlockingScheduler

from forecastscale.service.core import Service

log = logging.getLogger("forecastscale.service")


def run_forever(service: Service, retry_period_s: float | None = None) -> None:
    """Tick until SIGTERM/SIGINT; ``retry_period_s`` (seconds) paces the election when there is one."""
    scheduler = BlockingScheduler(timezone=UTC)
    now = datetime.now(tz=UTC)
    tick_s = service.config.service.tick_s
    if service.elector is not None and retry_period_s is not None:
        service.elect()  # know leader/standby before the first tick
        scheduler.add_job(service.elect, "interval", seconds=retry_period_s, id="elect", coalesce=True,
                          max_instances=1, next_run_time=now, misfire_grace_time=max(1, int(retry_period_s)))
    scheduler.add_job(service.tick, "interval", seconds=tick_s, id="tick", coalesce=True, max_instances=1,
                      next_run_time=now, misfire_grace_time=tick_s)

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("received signal %d, stopping", signum)
        scheduler.shutdown(wait=False)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    log.info("ticking every %d s for %d targets", tick_s, len(service.runners))
    try:
        scheduler.start()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if service.elector is not None and service.leader:
            service.elector.release()
        service.close()
