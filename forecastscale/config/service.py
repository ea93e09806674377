"""``service:``: the live loop (``forecastscale run``): where it reads, how often it decides, what it serves."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from forecastscale.config.base import _Model
from forecastscale.config.queries import ServiceQueries


class LeaderElection(_Model):
    """``coordination.k8s.io/v1`` Lease settings (client-go semantics; seconds)."""

    enabled: bool = False
    lease_name: str = Field(default="forecastscale", min_length=1)
    lease_duration_s: float = Field(default=15, gt=0)
    renew_deadline_s: float = Field(default=10, gt=0)
    retry_period_s: float = Field(default=2, gt=0)

    @model_validator(mode="after")
    def _order(self) -> LeaderElection:
        if not self.lease_duration_s > self.renew_deadline_s > self.retry_period_s:
            raise ValueError(
                f"need lease_duration_s > renew_deadline_s > retry_period_s, got {self.lease_duration_s:g}, "
                f"{self.renew_deadline_s:g}, {self.retry_period_s:g}"
            )
        return self


class ServiceSettings(_Model):
    """The live loop (``forecastscale run``)."""

    prometheus_url: str | None = Field(default=None, description="Prometheus base URL (or --prometheus)")
    tick_s: int = Field(default=30, ge=1, le=3600, description="seconds between ticks; also the history step")
    policy: Literal["predictive", "reactive"] = "predictive"
    queries: ServiceQueries = Field(default_factory=ServiceQueries)
    fallback_after_ticks: int = Field(default=3, ge=1, description="failed ticks before fallback_replicas")
    stale_after_ticks: int = Field(default=5, ge=1, le=10_000, description="/readyz fails while a target has not "
                                   "decided for this many ticks (it holds: no data, or an error)")
    query_timeout_s: float = Field(default=10, gt=0, description="per Prometheus request")
    fetch_concurrency: int = Field(default=8, ge=1, le=64, description="parallel Prometheus requests")
    error_window: int = Field(default=60, ge=1, description="forecast errors averaged (ticks)")
    http_host: str = "0.0.0.0"
    http_port: int = Field(default=8080, ge=0, le=65535, description="/metrics /healthz /readyz (0 = any)")
    http_threads: int = Field(default=8, ge=1, le=64, description="HTTP requests handled at once (worker threads); "
                              "more wait without holding a thread")
    http_timeout_s: float = Field(default=10, gt=0, le=300, description="seconds an HTTP client has for each of: "
                                  "the TLS handshake, the request head, the body, taking the answer")
    tls_cert_file: Path | None = Field(default=None, description="serve HTTPS: PEM certificate chain (tls.crt of a "
                                       "mounted kubernetes.io/tls Secret; relative to the config), re-read on change")
    tls_key_file: Path | None = Field(default=None, description="the certificate's PEM private key (tls.key); "
                                      "set both or neither")
    namespace: str = Field(default="default", min_length=1, description="where the Lease and plan ConfigMap live")
    plan_configmap: str = Field(default="forecastscale-plan", min_length=1)
    models_dir: Path | None = Field(default=None, description="trained artifacts (forecastscale train), "
                                                                 "relative to the config file")
    leader_election: LeaderElection = Field(default_factory=LeaderElection)
    webhook_token_file: Path | None = Field(
        default=None, description="bearer token for POST/GET/DELETE /v1/events (a mounted Secret; relative to the "
        "config); unset: no events API")

    @model_validator(mode="after")
    def _tls_pair(self) -> ServiceSettings:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            given = "tls_cert_file" if self.tls_key_file is None else "tls_key_file"
            raise ValueError(f"tls_cert_file and tls_key_file: set both or neither, got only {given}")
        return self
