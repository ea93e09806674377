"""The service's own metrics (prometheus-client), on a registry passed in: no global state.

Names and labels are the contract with the shipped Grafana dashboards:

==========================================================  =============================================
``forecastscale_demand{target}``                            last usable demand sample (target units/s)
``forecastscale_queue{target}``                             requests waiting (the queue query), if set
``forecastscale_gpu_utilisation{target}``                   GPU utilisation % (the GPU query), if set
``forecastscale_kv_cache{target}``                          KV cache in use %, 0–100 (the KV-cache query), if set
``forecastscale_forecast{target,horizon_s,quantile}``       forecast demand ``horizon_s`` seconds ahead
``forecastscale_desired_replicas{target,source}``           replicas per source (forecast, reactive, event,
                                                            fallback) and ``final`` after behaviour/bounds
``forecastscale_current_replicas{target}``                  ``spec.replicas`` as read from the cluster
``forecastscale_desired_nodes{pool}``                       nodes wanted per pool
``forecastscale_forecast_abs_pct_error{target}``            rolling mean |forecast − actual| / actual, %
``forecastscale_degraded{target}``                          1 while the target holds for lack of data
``forecastscale_samples_dropped_total{target,reason}``      unusable samples (missing, nan, inf, negative)
``forecastscale_tick_seconds``                              histogram of one tick's wall time
``forecastscale_errors_total{kind}``                        errors by kind (prometheus, kube_conflict, internal:
                                                            an unexpected error contained to one target, tick:
                                                            a whole tick failed, not_leader: a write fenced,
                                                            plan, plan_corrupt, plan_invalid, …)
``forecastscale_leader``                                    1 on the replica that may patch, else 0
``forecastscale_patches_total{kind}``                       writes made (replicas, nodes, plan)
``forecastscale_model_info{target,model}``                  1 for the forecaster in use (``auto``'s choice)
``forecastscale_forecast_surprise{target}``                 last demand / the forecast's upper quantile for it
``forecastscale_panic{target}``                             1 while burst (panic) mode holds the target
``forecastscale_slo_margin{target}``                        with an SLO: the calibrated margin (band widths above
                                                            the median forecast)
``forecastscale_slo_level{target}``                         the quantile that margin amounts to (Gaussian reading)
``forecastscale_slo_miss_ratio{target}``                    the measured share of steps (or demand) missing the SLO
                                                            over its window, 0–1
``forecastscale_slo_miss_ratio_allowed{target}``            the share the SLO allows, 0–1
``forecastscale_guardrail{target}``                          with guardrail.enabled: 1 while a stand-in (a shadow,
                                                            or reactive with a margin) provisions instead of the
                                                            model, else 0
``forecastscale_guardrail_switches_total{target}``          guardrail switches (each logged with its reason)
``forecastscale_forecast_pinball{target,model}``            rolling pinball loss at forecast.quantile of ``model``
                                                            (``model``, ``seasonal_naive``, ``persistence``), one
                                                            pod lead ahead, demand units/s
``forecastscale_forecast_coverage{target,model}``           rolling share of steps its upper quantile covered, 0–1
``forecastscale_unplaced_pods{target}``                     planned pods that fit no node pool (logged why)
``forecastscale_gpus_excluded{pool}``                       GPUs not counted: unhealthy, NotReady, cordoned
``forecastscale_ready_capacity{target}``                    ready replicas × ``capacity_per_replica`` (demand
                                                            units/s the running pods serve at 100 %)
``forecastscale_underprovisioned{target}``                  1 while demand > ready capacity, else 0
``forecastscale_underprovisioned_seconds_total{target}``    ticks under-provisioned × ``tick_s``
``forecastscale_events_active{target}``                     event windows in force (cron and announced)
``forecastscale_current_nodes{pool}``                       the pool's nodes as read (MachineDeployment), else
                                                            the nodes the running pods occupy (bin-packed)
``forecastscale_gpus_used{pool}``                           running pods placed on the pool × ``gpus_per_pod``
``forecastscale_gpus_allocatable{pool}``                    current nodes × ``gpus_per_node``
``forecastscale_gpu_seconds_total{pool}``                   GPUs used × ``tick_s``, summed every tick
``forecastscale_pool_stocked_out{pool}``                    1 while the pool is stocked out (nodes asked for, none
                                                            Ready for ``stockout_factor`` × its node lead), else 0
``forecastscale_alternative_replicas{target,pool}``         replicas of the target's alternative on ``pool``
                                                            (``workload.alternatives``): its shortfall while its
                                                            own pool is stocked out, else 0
``forecastscale_lead_seconds{target|pool,quantile}``        measured lead times: a target's pod lead (scale-up
                                                            write → ready count reaching it; ``pool`` empty) or
                                                            a pool's node lead (``target`` empty), at 0.5 and
                                                            the quantile planned over; ``quantile="planned"``:
                                                            the lead planned over now (learned, or the prior)
``forecastscale_lead_samples{target|pool}``                 lead measurements in the rolling window
==========================================================  =============================================

The dashboards in ``deploy/grafana`` are generated from these names by
:mod:`forecastscale.dashboards` (``python -m forecastscale.dashboards deploy/grafana``).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from forecastscale.errors import NotLeader, PermanentError
from forecastscale.kube.errors import KubeApiError

TICK_BUCKETS_S = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class ServiceMetrics:
    """Every metric the service exports, registered on ``registry``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        r = registry
        self.demand = Gauge("forecastscale_demand", "Last usable demand sample.", ["target"], registry=r)
        self.queue = Gauge("forecastscale_queue", "Requests waiting (queue query).", ["target"], registry=r)
        self.gpu = Gauge("forecastscale_gpu_utilisation", "GPU utilisation in % (GPU query).", ["target"],
                         registry=r)
        self.kv_cache = Gauge("forecastscale_kv_cache", "KV cache in use in %, 0-100 (KV-cache query).", ["target"],
                              registry=r)
        self.forecast = Gauge("forecastscale_forecast", "Forecast demand horizon_s seconds ahead at a quantile.",
                              ["target", "horizon_s", "quantile"], registry=r)
        self.desired = Gauge("forecastscale_desired_replicas", "Replicas asked for, per source and final.",
                             ["target", "source"], registry=r)
        self.current = Gauge("forecastscale_current_replicas", "spec.replicas as read from the cluster.",
                             ["target"], registry=r)
        self.nodes = Gauge("forecastscale_desired_nodes", "Nodes wanted per pool.", ["pool"], registry=r)
        self.ape = Gauge("forecastscale_forecast_abs_pct_error",
                         "Rolling mean absolute percentage error of the median forecast at the pod lead time.",
                         ["target"], registry=r)
        self.degraded = Gauge("forecastscale_degraded", "1 while the target holds for lack of data.", ["target"],
                              registry=r)
        self.dropped = Counter("forecastscale_samples_dropped", "Unusable samples, by reason.",
                               ["target", "reason"], registry=r)
        self.tick = Histogram("forecastscale_tick_seconds", "Wall time of one tick.", buckets=TICK_BUCKETS_S,
                              registry=r)
        self.errors = Counter("forecastscale_errors", "Errors by kind.", ["kind"], registry=r)
        self.leader = Gauge("forecastscale_leader", "1 if this replica holds the Lease (may patch).", registry=r)
        self.patches = Counter("forecastscale_patches", "Writes made to the cluster, by kind.", ["kind"],
                               registry=r)
        self.model = Gauge("forecastscale_model_info", "1 for the forecaster a target uses now, 0 for others.",
                           ["target", "model"], registry=r)
        self.surprise = Gauge("forecastscale_forecast_surprise", "Last demand over the forecast's upper quantile "
                              "for that step.", ["target"], registry=r)
        self.gpus_excluded = Gauge("forecastscale_gpus_excluded", "GPUs not counted as capacity (unhealthy, "
                                   "NotReady or cordoned nodes).", ["pool"], registry=r)
        self.unplaced = Gauge("forecastscale_unplaced_pods", "Planned pods that fit no node pool.", ["target"],
                              registry=r)
        self.slo_margin = Gauge("forecastscale_slo_margin", "The SLO's calibrated margin (band widths above the "
                                "median forecast).", ["target"], registry=r)
        self.slo_level = Gauge("forecastscale_slo_level", "The quantile the SLO margin amounts to (Gaussian "
                               "reading).", ["target"], registry=r)
        self.slo_miss = Gauge("forecastscale_slo_miss_ratio", "Measured share of steps (or demand) missing the "
                              "SLO over its window, 0-1.", ["target"], registry=r)
        self.slo_allowed = Gauge("forecastscale_slo_miss_ratio_allowed", "Share of steps (or demand) the SLO "
                                 "allows to miss, 0-1.", ["target"], registry=r)
        self.guardrail = Gauge("forecastscale_guardrail", "1 while the forecast guardrail has a stand-in provision "
                               "instead of the model, else 0.", ["target"], registry=r)
        self.guardrail_switches = Counter("forecastscale_guardrail_switches", "Forecast guardrail switches.",
                                          ["target"], registry=r)
        self.pinball = Gauge("forecastscale_forecast_pinball", "Rolling pinball loss at the configured quantile, one "
                             "pod lead ahead (demand units/s), per forecaster.", ["target", "model"], registry=r)
        self.coverage = Gauge("forecastscale_forecast_coverage", "Rolling share of steps the forecaster's upper "
                              "quantile covered, 0-1.", ["target", "model"], registry=r)
        self.panic = Gauge("forecastscale_panic", "1 while burst (panic) mode holds the target.", ["target"],
                           registry=r)
        self.ready_capacity = Gauge("forecastscale_ready_capacity", "Ready replicas × capacity_per_replica "
                                    "(demand units/s served at 100 %).", ["target"], registry=r)
        self.under = Gauge("forecastscale_underprovisioned", "1 while demand exceeds the ready capacity, else 0.",
                           ["target"], registry=r)
        self.under_s = Counter("forecastscale_underprovisioned_seconds", "Ticks with demand above the ready "
                               "capacity × tick_s.", ["target"], registry=r)
        self.events_active = Gauge("forecastscale_events_active", "Event windows in force (cron schedules and "
                                   "announced events, pre-warmed by the pod startup time).", ["target"], registry=r)
        self.current_nodes = Gauge("forecastscale_current_nodes", "Nodes of the pool as read (MachineDeployment), "
                                   "else the nodes its running pods occupy (bin-packed).", ["pool"], registry=r)
        self.gpus_used = Gauge("forecastscale_gpus_used", "GPUs requested by the running pods placed on the pool.",
                               ["pool"], registry=r)
        self.gpus_allocatable = Gauge("forecastscale_gpus_allocatable", "Current nodes × gpus_per_node.", ["pool"],
                                      registry=r)
        self.gpu_seconds = Counter("forecastscale_gpu_seconds", "GPUs used × tick_s, summed every tick.", ["pool"],
                                   registry=r)
        self.stocked_out = Gauge("forecastscale_pool_stocked_out", "1 while the pool is stocked out (nodes asked "
                                 "for, none Ready for stockout_factor × its node lead), else 0.", ["pool"], registry=r)
        self.alternative_replicas = Gauge("forecastscale_alternative_replicas", "Replicas of the target's "
                                          "alternative accelerator on pool (its shortfall while its own pool is "
                                          "stocked out).", ["target", "pool"], registry=r)
        self.lead = Gauge("forecastscale_lead_seconds", "Measured lead time (a target's pods, or a pool's nodes) at "
                          "a quantile; quantile=planned: the lead planned over now.", ["target", "pool", "quantile"],
                          registry=r)
        self.lead_samples = Gauge("forecastscale_lead_samples", "Lead-time measurements in the rolling window.",
                                  ["target", "pool"], registry=r)


def error_kind(exc: BaseException) -> str:
    """The ``kind`` label of ``forecastscale_errors_total`` for ``exc`` (kube_conflict, prometheus, …)."""
    if isinstance(exc, KubeApiError):
        name = type(exc).__name__
        return "kube_" + {"TooManyRequests": "throttled", "NotFound": "not_found"}.get(name, name.lower())
    if isinstance(exc, NotLeader):
        return "not_leader"
    return "prometheus_query" if isinstance(exc, PermanentError) else "prometheus"
