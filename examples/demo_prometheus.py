"""A local Prometheus holding two bundled real traces as live-looking metrics, for trying `run`.

The ELB request trace (×0.1 → requests/s) becomes ``demand_requests_per_second{target="chat"}``
and the NYC taxi trace (÷1800 → requests/s) ``{target="batch"}``, both time-shifted so their
last 16 days end ``--ahead`` hours from now (Prometheus answers queries "now" for that long).
Runs until Ctrl-C; needs the Debian ``prometheus`` package (promtool + prometheus).

    python examples/demo_prometheus.py --port 9090
    forecastscale run --once --dry-run --config examples/service.yaml
"""

from __future__ import annotations

import argparse
import signal
import tempfile
import time
from pathlib import Path

from forecastscale.devtools.prometheus import LocalPrometheus, Series, write_openmetrics
from forecastscale.sources.csvtrace import load_trace

DATA = Path(__file__).resolve().parent.parent / "data"
SPAN_S = 16 * 86400  # two weekly seasons before now, whatever --ahead is
TRACES = {"chat": ("elb_request_count_8c0756.csv", 0.1), "batch": ("nyc_taxi.csv", 1 / 1800)}


def shifted(target: str, end_s: int) -> Series:
    """The trace's last 16 days, × its scale, with the last sample at ``end_s``."""
    file, scale = TRACES[target]
    trace = load_trace(DATA / file)
    step = int(trace.step_s)
    values = trace.values[-(SPAN_S // step):] * scale
    start = (end_s - (len(values) - 1) * step) // step * step
    return Series({"target": target}, start, step, [round(float(v), 4) for v in values])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=9090, help="port on 127.0.0.1")
    parser.add_argument("--ahead", type=float, default=6, help="hours of data after now")
    args = parser.parse_args()
    end = int(time.time() + args.ahead * 3600)
    stop = {signal.SIGINT, signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop)  # sigwait below takes them, so the cleanup runs
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_openmetrics(root / "h.om", "demand_requests_per_second", [shifted(t, end) for t in TRACES],
                          "Requests per second arriving for a target (bundled trace, time-shifted).")
        server = LocalPrometheus(root, root / "h.om", lookback_delta="30m")
        server.backfill()
        server.start(args.port)
        print(f"Prometheus on {server.url} with {', '.join(TRACES)}; data until {args.ahead:g} h from now. "
              "Ctrl-C stops it.", flush=True)
        try:
            signal.sigwait(stop)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
