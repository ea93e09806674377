"""``forecastscale run``: the live service from the command line."""

from __future__ import annotations

import logging
import os
import socket
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from forecastscale.cli.app import err, fail, http_url, prometheus_url
from forecastscale.edge import escaped, shown
from forecastscale.errors import ConfigError, ForecastscaleError, UsageError

if TYPE_CHECKING:  # the service layer (kubernetes, prometheus_client, statsmodels) loads when `run` runs
    from kubernetes.client import ApiClient

    from forecastscale.config import Config
    from forecastscale.service.core import Service
    from forecastscale.service.http import HttpServer

LOG_LEVELS = ("debug", "info", "warning", "error")
AT_EXAMPLE = "2024-01-01T00:00Z"


class OneLineFormatter(logging.Formatter):
    """Every record on one line: control characters (newlines, ESC …) in the message, its arguments or its
    traceback are escaped (``\\n``), so a client's text (an event's ``reason``) cannot forge log lines or
    colour a terminal. Cut at :data:`LOG_RECORD_CHARS` characters."""

    def format(self, record: logging.LogRecord) -> str:
        return escaped(super().format(record), LOG_RECORD_CHARS)


LOG_RECORD_CHARS = 16_000  # a traceback fits; a megabyte of hostile text does not


def _setup_logging(level: str) -> None:
    if level.lower() not in LOG_LEVELS:
        raise UsageError(f"--log-level: expected one of {', '.join(LOG_LEVELS)}, got {shown(level)}")
    # Decision lines are JSON already (and stay as they are); everything else gets a time and a logger name.
    handler = logging.StreamHandler()
    handler.setFormatter(OneLineFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logging.basicConfig(level=level.upper(), handlers=[handler])


def run_command(
    config: Annotated[Path, typer.Option(metavar="PATH", help="YAML config: targets (with workload and "
                                                              "queries.demand), pools, service settings.")],
    prometheus: Annotated[str | None, typer.Option(
        metavar="URL", callback=prometheus_url,
        help="Prometheus base URL, e.g. http://prometheus:9090 (default: service.prometheus_url in the config).")]
        = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Forecast and decide, log and export, but patch nothing. Reads the cluster if a "
                          "kubeconfig is found; without one, current replicas follow the previous decision.")] = False,
    once: Annotated[bool, typer.Option(
        "--once", help="One tick, print the decision table, exit 0 if every target decided (1 if not).")] = False,
    kubeconfig: Annotated[Path | None, typer.Option(
        metavar="PATH", help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config).")] = None,
    in_cluster: Annotated[bool, typer.Option("--in-cluster", help="Use the pod's service account.")] = False,
    identity: Annotated[str | None, typer.Option(
        metavar="NAME", help="Leader-election identity (default: $POD_NAME, else the host name).")] = None,
    port: Annotated[int | None, typer.Option(metavar="PORT", help="HTTP port for /metrics /healthz /readyz "
                                                                  "(default: service.http_port).")] = None,
    at: Annotated[str | None, typer.Option(
        metavar="TIME", help=f"With --once: decide as if the clock read this time, e.g. to see what a past peak "
        f"would have got. ISO 8601, UTC if no offset: {AT_EXAMPLE}, 2024-01-01T09:30:00+02:00.")] = None,
    log_level: Annotated[str, typer.Option(metavar="LEVEL", help=f"{', '.join(LOG_LEVELS[:-1])} or "
                                                                 f"{LOG_LEVELS[-1]}.")] = "info",
) -> None:
    """Run the live autoscaler: every tick, pull Prometheus, forecast, decide, patch Kubernetes.

    Exit 2 on bad input (config, kubeconfig, URL). With --once: exit 1 if any target failed or held.
    """
    from prometheus_client import CollectorRegistry

    from forecastscale.config import load_config
    from forecastscale.service.loop import run_forever
    from forecastscale.service.table import decision_table
    from forecastscale.service.wiring import build_service

    try:
        _setup_logging(log_level)
        when = _decision_time(at, once)
        cfg = load_config(config)
        url = prometheus or _configured_prometheus(config, cfg.service.prometheus_url)
        api = _run_client(kubeconfig, in_cluster, dry_run)
        clock = time.time if when is None else when.timestamp
        service = build_service(cfg, prometheus_url=url, api=api, dry_run=dry_run, registry=CollectorRegistry(),
                                identity=identity or os.environ.get("POD_NAME") or socket.gethostname(), clock=clock)
    except ForecastscaleError as exc:
        raise fail(exc) from exc
    if once:
        service.elect()
        report_ = service.tick()
        service.close()
        Console(width=160).print(decision_table(report_, dry_run))
        raise typer.Exit(0 if report_.ok else 1)
    try:
        server = _http_server(cfg, service, port).start()
    except ForecastscaleError as exc:  # port taken, certificate unreadable
        service.close()
        raise fail(exc) from exc
    err.print(f"serving /metrics /healthz /readyz{' /v1/events' if cfg.service.webhook_token_file else ''} "
              f"on port {server.port} ({server.scheme})", highlight=False)
    try:
        run_forever(service, cfg.service.leader_election.retry_period_s)
    finally:
        server.stop()


def _decision_time(at: str | None, once: bool) -> datetime | None:
    """``--at`` as an aware time (UTC if it has no offset); None without it."""
    if at is None:
        return None
    if not once:
        raise ConfigError("--at", ["only with --once (a running loop follows the real clock)"])
    try:
        when = datetime.fromisoformat(at)
    except ValueError:
        raise UsageError(f"--at: expected an ISO 8601 time such as {AT_EXAMPLE} (UTC if no offset), "
                         f"got {shown(at)}") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _configured_prometheus(config: Path, url: str | None) -> str:
    """The config's Prometheus URL (without --prometheus, which is checked as it is parsed): required and
    well-formed, or a ConfigError naming the config."""
    if not url:
        raise ConfigError(str(config), ["service.prometheus_url: required (or pass --prometheus URL)"])
    try:
        return http_url("service.prometheus_url", url)
    except ValueError as exc:
        raise ConfigError(str(config), [str(exc)]) from None


def _http_server(cfg: Config, service: Service, port: int | None) -> HttpServer:
    """The service's HTTP(S) endpoint as ``cfg.service`` configures it (``port`` overrides ``http_port``)."""
    from forecastscale.service.http import HttpServer
    from forecastscale.service.readiness import readiness
    from forecastscale.service.wiring import events_mount

    s = cfg.service
    return HttpServer(s.http_host, s.http_port if port is None else port, service.metrics.registry,
                      lambda: readiness(service), events_mount(cfg, service), threads=s.http_threads,
                      timeout_s=s.http_timeout_s, tls_cert_file=s.tls_cert_file, tls_key_file=s.tls_key_file)


def _run_client(kubeconfig: Path | None, in_cluster: bool, dry_run: bool) -> ApiClient | None:
    from forecastscale.service.wiring import kube_client

    try:
        return kube_client(kubeconfig, in_cluster)
    except ConfigError as exc:
        if dry_run and kubeconfig is None and not in_cluster:
            err.print("no Kubernetes credentials found: dry-run without a cluster", highlight=False)
            return None
        raise exc
