"""Typed configuration, validated once at the edge (pydantic, YAML).

Every field is documented where it is declared; units are in the name (``_s`` seconds,
``_per_s`` per second). A bad file raises :class:`ConfigError` with one line per bad
field, e.g. ``targets[0].capacity_per_replica: must be > 0, got -3`` (the value shown short).
Every number is finite and of a sane size (:mod:`forecastscale.config_base`), the YAML is read
strictly (:mod:`forecastscale.config_yaml`: no anchors, aliases or duplicate keys, at most 4 MiB),
and what the live loop allocates per target is bounded in ticks (:data:`MAX_HISTORY_STEPS`,
:data:`MAX_HORIZON_STEPS`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any, Literal

from pydantic import Field, ValidationError, model_validator

from forecastscale.config_backtest import BacktestSettings
from forecastscale.config_base import _Model
from forecastscale.config_events import BurstSettings, CronEvent
from forecastscale.config_rules import MetricRule
from forecastscale.config_scheduling import (
    BalloonSettings,
    HealthSettings,
    NodeSelectorRequirementSpec,
    TaintSpec,
    TolerationSpec,
)
from forecastscale.config_yaml import parse_yaml, read_text
from forecastscale.edge import shown
from forecastscale.errors import ConfigError


class ScalingPolicy(_Model):
    """One HPA v2 ``HPAScalingPolicy``: change at most ``value`` Pods or Percent per period."""

    type: Literal["Pods", "Percent"]
    value: int = Field(gt=0)
    period_seconds: int = Field(gt=0, le=1800)


class ScalingRules(_Model):
    """HPA v2 ``HPAScalingRules`` for one direction (scale up or scale down)."""

    stabilization_window_seconds: int = Field(ge=0, le=3600)
    select_policy: Literal["Max", "Min", "Disabled"] = "Max"
    policies: tuple[ScalingPolicy, ...]


def _default_scale_up() -> ScalingRules:
    # Kubernetes default: no stabilisation, max(+4 pods, +100 %) every 15 s.
    return ScalingRules(
        stabilization_window_seconds=0,
        policies=(
            ScalingPolicy(type="Pods", value=4, period_seconds=15),
            ScalingPolicy(type="Percent", value=100, period_seconds=15),
        ),
    )


def _default_scale_down() -> ScalingRules:
    # Kubernetes default: recommendations stabilised over 300 s, then down to any count.
    return ScalingRules(
        stabilization_window_seconds=300,
        policies=(ScalingPolicy(type="Percent", value=100, period_seconds=15),),
    )


class Behavior(_Model):
    """HPA v2 ``behavior``; the defaults are those of Kubernetes."""

    scale_up: ScalingRules = Field(default_factory=_default_scale_up)
    scale_down: ScalingRules = Field(default_factory=_default_scale_down)


ModelName = Literal["seasonal_naive", "holt_winters", "mstl", "sarimax", "gbm", "ensemble", "auto"]


class ForecastSettings(_Model):
    """How the predictive policy forecasts demand."""

    model: ModelName = Field(default="holt_winters", description="a forecaster, or auto (chosen per target)")
    quantile: float = Field(default=0.9, gt=0, lt=1, description="upper quantile provisioned for")
    refit_interval_s: float = Field(default=3600, gt=0, description="how often the model is refit")
    step_s: float = Field(default=300, ge=1, description="fit step; coarser trace steps win")
    season_s: float = Field(default=86400, gt=0, description="seasonal period")
    window_s: float = Field(default=7 * 86400, gt=0, description="history span fitted")
    damped_trend: bool = Field(default=False, description="holt_winters: add a damped trend")
    transform: Literal["none", "sqrt", "log"] = Field(
        default="none", description="fit on this scale: margins grow with the level (counts)"
    )
    extra_season_s: float | None = Field(
        default=7 * 86400, gt=0, description="mstl/ensemble: a second seasonal period (weekly); dropped if too long"
    )
    candidates: tuple[ModelName, ...] = Field(
        default=("seasonal_naive", "holt_winters", "mstl", "sarimax", "gbm"), min_length=1,
        description="auto: the models compared",
    )
    selection_interval_s: float = Field(default=86400, gt=0, description="auto: how often the choice is re-made")
    selection_origins: int = Field(default=6, ge=1, le=50, description="auto: rolling origins scored")
    level_shift: float | None = Field(
        default=None, gt=0, description="move history before a lasting level shift (> k robust sigmas of the "
        "seasonal differences) onto the new level before fitting; off: models adapt at their own pace",
    )
    clip_outliers: float | None = Field(
        default=None, gt=0, description="clip fitted values above median + k·MAD (robust z > k); off: spikes are "
        "demand an autoscaler must see",
    )

    def history_s(self) -> float:
        """Seconds of history a refit reads: the window, and for ``auto`` the selection span before it
        (two seasons), so every rolling origin's fit sees a whole window as the real fit will."""
        return self.window_s + (2 * self.season_s if self.model == "auto" else 0.0)

    @model_validator(mode="after")
    def _candidates(self) -> ForecastSettings:
        if "auto" in self.candidates:
            raise ValueError("candidates: auto cannot be its own candidate")
        return self


class ObjectRef(_Model):
    """A namespaced Kubernetes object by name."""

    name: str = Field(min_length=1)
    namespace: str = Field(default="default", min_length=1)


class WorkloadRef(ObjectRef):
    """The ``apps/v1`` workload whose ``scale`` subresource a target patches."""

    kind: Literal["Deployment", "StatefulSet"] = "Deployment"


class NodePool(_Model):
    """A pool of identical GPU nodes."""

    name: str = Field(min_length=1)
    gpus_per_node: int = Field(gt=0)
    node_startup_s: float = Field(default=420, ge=0, description="node request → node Ready")
    min_nodes: int = Field(default=0, ge=0)
    max_nodes: int = Field(gt=0)
    gpu_hour_cost: float = Field(default=0.0, ge=0, description="price of one GPU for one hour")
    scale_down_unneeded_s: float = Field(
        default=600, ge=0, description="reactive: a node is removed after this long unneeded"
    )
    machine_deployment: ObjectRef | None = Field(
        default=None, description="run: the Cluster API MachineDeployment whose replicas are this pool's nodes"
    )
    balloon: BalloonSettings | None = Field(
        default=None, description="run: reserve the pool's spare nodes with low-priority headroom pods instead"
    )
    cpu_per_node: float = Field(default=1e6, gt=0, description="allocatable cores per node (default: not binding)")
    memory_gib_per_node: float = Field(default=1e6, gt=0, description="allocatable GiB per node (not binding)")
    labels: dict[str, str] = Field(default_factory=dict, description="node labels, for selectors and affinity")
    taints: tuple[TaintSpec, ...] = ()
    headroom_nodes: int = Field(default=0, ge=0, description="spare nodes kept on top of the bin-packed need")
    health: HealthSettings = Field(default_factory=HealthSettings)

    @model_validator(mode="after")
    def _bounds(self) -> NodePool:
        if self.min_nodes > self.max_nodes:
            raise ValueError(f"min_nodes ({self.min_nodes}) > max_nodes ({self.max_nodes})")
        if self.machine_deployment is not None and self.balloon is not None:
            raise ValueError("set one node backend: machine_deployment or balloon, not both")
        if self.health.enabled and not self.labels:
            raise ValueError("health.enabled needs the pool's labels (they select its nodes; without them "
                             "every node of the cluster would count)")
        return self


class Target(_Model):
    """One scaled workload (a Deployment of GPU model servers)."""

    name: str = Field(min_length=1)
    demand_unit: str = Field(default="requests_per_s", min_length=1)
    capacity_per_replica: float = Field(gt=0, description="demand one ready replica serves at 100 %")
    target_utilisation: float = Field(default=0.7, gt=0, le=1)
    tolerance: float = Field(default=0.1, ge=0, lt=1, description="HPA tolerance")
    min_replicas: int = Field(default=1, ge=1)
    max_replicas: int = Field(gt=0)
    pod_startup_s: float = Field(default=180, ge=0, description="decision → replica ready")
    gpus_per_pod: int = Field(default=1, gt=0)
    node_pool: str | None = Field(default=None, description="pool name; optional with one pool")
    behavior: Behavior = Field(default_factory=Behavior)
    forecast: ForecastSettings = Field(default_factory=ForecastSettings)
    max_wait_s: float = Field(default=60, ge=0, description="a queued request is dropped after this long")
    demand_query: str | None = Field(
        default=None, description="PromQL template for demand (before demand_scale); default service.queries.demand"
    )
    queue_query: str | None = Field(default=None, description="PromQL template: requests waiting (exported, logged)")
    gpu_utilisation_query: str | None = Field(
        default=None, description="PromQL template: GPU utilisation in % (exported, logged)"
    )
    workload: WorkloadRef | None = Field(default=None, description="run: what to scale; default Deployment <name>")
    fallback_replicas: int | None = Field(
        default=None, ge=0, description="run: replicas floor after service.fallback_after_ticks failed ticks"
    )
    metrics: tuple[MetricRule, ...] = Field(
        default=(), description="HPA v2 metrics (largest recommendation wins); default: demand at target_utilisation"
    )
    schedules: tuple[CronEvent, ...] = Field(default=(), description="recurring events: replicas floors on a cron")
    burst: BurstSettings = Field(default_factory=BurstSettings)
    share: float = Field(default=1.0, gt=0, description="weight when a full pool is shared (× unmet demand)")
    cpu: float = Field(default=0.0, ge=0, description="cores requested per pod")
    memory_gib: float = Field(default=0.0, ge=0, description="GiB requested per pod")
    node_selector: dict[str, str] = Field(default_factory=dict)
    affinity: tuple[NodeSelectorRequirementSpec, ...] = Field(default=(), description="required node affinity")
    tolerations: tuple[TolerationSpec, ...] = ()
    trace: Path | None = Field(default=None, description="backtest CSV, relative to the config")
    demand_scale: float = Field(default=1.0, gt=0, description="trace value × this = demand")

    def workload_ref(self) -> WorkloadRef:
        """What ``run`` scales: ``workload``, or the Deployment named like the target in ``default``."""
        return self.workload or WorkloadRef(name=self.name)

    @model_validator(mode="after")
    def _bounds(self) -> Target:
        if self.min_replicas > self.max_replicas:
            raise ValueError(
                f"min_replicas ({self.min_replicas}) > max_replicas ({self.max_replicas})"
            )
        return self


class Queries(_Model):
    """Default PromQL templates for targets that set none (``$target``, ``$namespace``, ``$workload``)."""

    demand: str | None = None
    queue: str | None = None
    gpu_utilisation: str | None = None
    gpu_health: str | None = Field(default=None, description="instant PromQL, one series per unhealthy GPU labelled "
                                   "by node and gpu (e.g. DCGM_FI_DEV_XID_ERRORS > 0)")


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
    queries: Queries = Field(default_factory=Queries)
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


TEMPLATE_VARIABLES = ("target", "namespace", "workload")
MAX_HISTORY_STEPS = 3_000_000  # per target, at service.tick_s: a 48 MB buffer (the history is kept twice over)
MAX_HORIZON_STEPS = 1_000_000  # per fit: forecast paths of 8 MB each
QueryKind = Literal["demand", "queue", "gpu_utilisation"]


def _template_problem(text: str) -> str | None:
    """Why ``text`` is not a usable query template, or None."""
    try:
        Template(text).substitute(dict.fromkeys(TEMPLATE_VARIABLES, "x"))
    except KeyError as exc:
        return f"unknown variable ${exc.args[0]}; have " + ", ".join(f"${v}" for v in TEMPLATE_VARIABLES)
    except ValueError as exc:
        return f"bad template ({exc}); write $$ for a literal $"
    return None


@dataclass(frozen=True)
class Leads:
    """Lead times of one target (seconds): a pod asked for now is Ready after ``pod_s``; capacity that needs a
    new node after ``node_s + pod_s`` (:attr:`total_s`). :meth:`steps` turns a lead into whole decision steps."""

    pod_s: float
    node_s: float

    @property
    def total_s(self) -> float:
        """A new node, then the pod on it."""
        return self.node_s + self.pod_s

    @staticmethod
    def steps(seconds: float, step_s: float) -> int:
        """Whole steps of ``step_s`` seconds covering ``seconds`` (capacity asked at a step is ready by then)."""
        return math.ceil(seconds / step_s - 1e-9)


def leads(target: Target, pool: NodePool) -> Leads:
    """``target``'s lead times on ``pool``: the one place they are worked out."""
    return Leads(pod_s=target.pod_startup_s, node_s=pool.node_startup_s)


class Config(_Model):
    """The whole file: targets, the node pools they run on, backtest and service settings."""

    targets: list[Target] = Field(min_length=1)
    node_pools: list[NodePool] = Field(min_length=1)
    backtest: BacktestSettings = Field(default_factory=BacktestSettings)
    service: ServiceSettings = Field(default_factory=ServiceSettings)

    @model_validator(mode="after")
    def _references(self) -> Config:
        names = [p.name for p in self.node_pools]
        problems = [f"duplicate node pool name {shown(n)}" for n in sorted(set(names)) if names.count(n) > 1]
        for i, t in enumerate(self.targets):
            pool_name = t.node_pool or (names[0] if len(names) == 1 else None)
            if pool_name is None:
                problems.append(f"targets[{i}].node_pool: required with several pools {shown(names)}")
            elif pool_name not in names:
                problems.append(f"targets[{i}].node_pool: unknown pool {shown(pool_name)}; have {shown(names)}")
            elif t.gpus_per_pod > self.pool(pool_name).gpus_per_node:
                problems.append(
                    f"targets[{i}].gpus_per_pod: {t.gpus_per_pod} exceeds gpus_per_node "
                    f"{self.pool(pool_name).gpus_per_node} of pool {shown(pool_name)}"
                )
            for field in ("demand_query", "queue_query", "gpu_utilisation_query"):
                text = getattr(t, field)
                if text is not None and (why := _template_problem(text)) is not None:
                    problems.append(f"targets[{i}].{field}: {why}, got {shown(text)}")
        for field in ("demand", "queue", "gpu_utilisation"):
            text = getattr(self.service.queries, field)
            if text is not None and (why := _template_problem(text)) is not None:
                problems.append(f"service.queries.{field}: {why}, got {shown(text)}")
        names_t = [t.name for t in self.targets]
        problems += [f"duplicate target name {shown(n)}" for n in sorted(set(names_t)) if names_t.count(n) > 1]
        problems += self.backtest.references(names_t, names)
        if problems:
            raise ValueError("\n".join(problems))
        return self

    @model_validator(mode="after")
    def _buffer_sizes(self) -> Config:
        # After _references (so every pool resolves). The live loop allocates a target's history and forecast
        # paths in ticks: seconds bounded each on its own can still multiply into gigabytes at tick_s 1.
        tick = self.service.tick_s
        problems = []
        for i, t in enumerate(self.targets):
            steps = math.ceil(t.forecast.history_s() / tick)
            if steps > MAX_HISTORY_STEPS:
                problems.append(f"targets[{i}].forecast: keeps {steps:,} steps of history at service.tick_s {tick} "
                                f"(window_s, plus two seasons for auto); at most {MAX_HISTORY_STEPS:,}")
            lead = t.forecast.refit_interval_s + self.leads(t).total_s
            if (ahead := math.ceil(lead / max(t.forecast.step_s, tick))) > MAX_HORIZON_STEPS:
                problems.append(f"targets[{i}].forecast: forecasts {ahead:,} steps ahead (refit_interval_s + pod "
                                f"and node startup, per fit step); at most {MAX_HORIZON_STEPS:,}")
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def pool(self, name: str) -> NodePool:
        """The pool called ``name``."""
        return next(p for p in self.node_pools if p.name == name)

    def pool_for(self, target: Target) -> NodePool:
        """The pool ``target`` runs on (its ``node_pool``, or the only pool)."""
        return self.pool(target.node_pool or self.node_pools[0].name)

    def leads(self, target: Target) -> Leads:
        """How long capacity asked for now takes to serve ``target`` on its own pool."""
        return leads(target, self.pool_for(target))

    def query(self, target: Target, kind: QueryKind) -> str | None:
        """``target``'s PromQL of ``kind`` (its own, else the service default), variables filled in."""
        own = {"demand": target.demand_query, "queue": target.queue_query,
               "gpu_utilisation": target.gpu_utilisation_query}[kind]
        text = own if own is not None else getattr(self.service.queries, kind)
        if text is None:
            return None
        ref = target.workload_ref()
        return Template(text).substitute(target=target.name, namespace=ref.namespace, workload=ref.name)


_MESSAGES = {
    "greater_than": "must be > {gt}",
    "greater_than_equal": "must be >= {ge}",
    "less_than": "must be < {lt}",
    "less_than_equal": "must be <= {le}",
    "missing": "required field missing",
    "extra_forbidden": "unknown field",
    "literal_error": "must be one of {expected}",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_parsing": "must be a number",
    "bool_parsing": "must be true or false",
    "too_short": "must have at least {min_length} item(s)",
}


def _plain(value: Any) -> Any:
    """``5.0`` → ``5`` so messages read like the config a person wrote."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _location(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def format_validation_error(exc: ValidationError) -> list[str]:
    """One ``path: message, got value`` line per problem pydantic found."""
    lines: list[str] = []
    for err in exc.errors():
        template = _MESSAGES.get(err["type"])
        ctx = err.get("ctx", {})
        if template is not None:
            msg = template.format(**{k: _plain(v) for k, v in ctx.items()})
        else:
            msg = str(ctx.get("error", err["msg"])).removeprefix("Value error, ")
        with_input = err["type"] not in ("missing", "model_type") and not isinstance(err.get("input"), dict)
        if with_input and "input" in err:
            msg += f", got {shown(err['input'])}"  # short: the input may be huge or deeply nested
        where = _location(tuple(err["loc"]))
        lines.extend(f"{where}: {m}" if where else m for m in msg.split("\n"))
    return lines


def parse_config(data: Any, source: str = "<config>", base_dir: Path | None = None) -> Config:
    """Validate ``data`` (a parsed YAML mapping); trace paths resolve against ``base_dir``."""
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(source, format_validation_error(exc)) from exc
    if base_dir is None:
        return config
    targets = [
        t.model_copy(update={"trace": base_dir / t.trace}) if t.trace is not None else t
        for t in config.targets
    ]
    service = config.service
    for field in ("models_dir", "webhook_token_file", "tls_cert_file", "tls_key_file"):
        if getattr(service, field) is not None:
            service = service.model_copy(update={field: base_dir / getattr(service, field)})
    return config.model_copy(update={"targets": targets, "service": service})


def load_config(path: Path) -> Config:
    """Read and validate a YAML config file; any problem raises :class:`ConfigError` (see :mod:`config_yaml`
    for what the reader refuses: over 4 MiB, anchors/aliases, duplicate keys, deep nesting)."""
    data = parse_yaml(read_text(path), str(path))
    if not isinstance(data, dict):
        raise ConfigError(str(path), [f"top level must be a mapping, got {type(data).__name__}"])
    return parse_config(data, str(path), path.parent)
