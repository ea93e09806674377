"""Grafana dashboards for forecastscale, generated with the official ``grafana-foundation-sdk``.

Two dashboards, committed as JSON under ``deploy/grafana/`` (never edited by hand: regenerate with
``python -m forecastscale.dashboards deploy/grafana``; a unit test checks the files equal this
code's output):

* **forecastscale** (``forecastscale-live.json``): the live service's own metrics
  (:mod:`forecastscale.service.metrics` is the contract). One row per target (repeated over the
  ``target`` variable): demand, median forecast and its upper quantile against ready capacity;
  desired replicas by source and current replicas; forecast error, surprise and the model in use;
  events in force; under-provisioning. One row per pool (``pool`` variable): desired and current
  nodes, GPUs used and allocatable. A fleet row: GPU-hours per day, under-provisioned minutes.
* **forecastscale what-if** (``forecastscale-whatif.json``): the OpenMetrics series a
  ``backtest``/``replay`` run writes (``forecastscale_replay_*`` with ``run`` and ``policy``
  labels), backfilled into Prometheus with ``promtool``: every policy side by side per run.

Every query selects its datasource through the ``datasource`` variable. Service replicas in HA
mode all export the same series, so per-target and per-pool queries take ``max by`` the labels.
Only this package imports the SDK: the service never imports it at run time.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from grafana_foundation_sdk.builders import common as common_b
from grafana_foundation_sdk.builders import dashboard as dash_b
from grafana_foundation_sdk.builders import prometheus as prom_b
from grafana_foundation_sdk.builders import stat as stat_b
from grafana_foundation_sdk.builders import statetimeline as state_b
from grafana_foundation_sdk.builders import timeseries as ts_b
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common as common_m
from grafana_foundation_sdk.models import dashboard as dash_m

__all__ = ["FILES", "LIVE_UID", "PROVISIONING", "WHATIF_UID", "dashboards", "render", "write"]

LIVE_UID = "forecastscale-live"
WHATIF_UID = "forecastscale-whatif"
DS = dash_m.DataSourceRef(type_val="prometheus", uid="${datasource}")
T = 'target=~"$target"'  # the per-target selector (a single value inside the repeated row)
P = 'pool=~"$pool"'
R = 'run=~"$run", target=~"$target"'
RP = 'run=~"$run", target=~"$target", policy=~"$policy"'

FILES = {"forecastscale-live.json": LIVE_UID, "forecastscale-whatif.json": WHATIF_UID}

# Grafana file provisioning: the dashboards from a folder, and a Prometheus datasource.
PROVISIONING = {
    "provisioning/dashboards/forecastscale.yaml": """\
# Grafana provisioning: load the forecastscale dashboards from this folder's JSON files.
# Mount deploy/grafana at /var/lib/grafana/dashboards/forecastscale and this file under
# /etc/grafana/provisioning/dashboards/ (see the README, "Dashboards").
apiVersion: 1
providers:
  - name: forecastscale
    folder: forecastscale
    type: file
    disableDeletion: false
    allowUiUpdates: false
    updateIntervalSeconds: 60
    options:
      path: /var/lib/grafana/dashboards/forecastscale
      foldersFromFilesStructure: false
""",
    "provisioning/datasources/prometheus.yaml": """\
# Grafana provisioning: the Prometheus that scrapes forecastscale's /metrics (and holds
# backfilled what-if runs). Change the URL to yours; the dashboards pick it by the datasource variable.
apiVersion: 1
datasources:
  - name: Prometheus
    uid: prometheus
    type: prometheus
    access: proxy
    url: http://prometheus:9090
    isDefault: true
    jsonData:
      timeInterval: 30s   # the scrape interval: Grafana's $__rate_interval is at least 4x this
""",
}


@dataclass(frozen=True)
class Query:
    """One PromQL target of a panel: the expression and the legend."""

    expr: str
    legend: str
    instant: bool = False


def _target(q: Query, ref: str) -> prom_b.Dataquery:
    b = prom_b.Dataquery().expr(q.expr).legend_format(q.legend).ref_id(ref).datasource(DS)
    return b.instant() if q.instant else b.range()


class _Queried(Protocol):
    def with_target(self, target: Any) -> Any: ...


PanelT = TypeVar("PanelT", bound=_Queried)


def _with_queries(panel: PanelT, queries: list[Query]) -> PanelT:
    for i, q in enumerate(queries):
        panel.with_target(_target(q, chr(ord("A") + i)))  # builders change in place (and return themselves)
    return panel


def _legend() -> common_b.VizLegendOptions:
    return (common_b.VizLegendOptions().display_mode(common_m.LegendDisplayMode.TABLE)
            .placement(common_m.LegendPlacement.BOTTOM).show_legend(True).calcs(["lastNotNull", "max"]))


def _timeseries(title: str, description: str, queries: list[Query], unit: str = "short", *, w: int = 12,
                h: int = 8, interval: str | None = None, bars: bool = False) -> ts_b.Panel:
    p = (ts_b.Panel().title(title).description(description).datasource(DS).unit(unit).span(w).height(h)
         .legend(_legend()).tooltip(common_b.VizTooltipOptions().mode(common_m.TooltipDisplayMode.MULTI)
                                    .sort(common_m.SortOrder.DESCENDING)).line_width(1).fill_opacity(0))
    if interval is not None:
        p = p.interval(interval)
    if bars:
        p = p.draw_style(common_m.GraphDrawStyle.BARS).fill_opacity(60)
    return _with_queries(p, queries)


def _stat(title: str, description: str, queries: list[Query], unit: str = "short", *, w: int = 6,
          h: int = 8, text_name: bool = False) -> stat_b.Panel:
    p = (stat_b.Panel().title(title).description(description).datasource(DS).unit(unit).span(w).height(h)
         .graph_mode(common_m.BigValueGraphMode.NONE)
         .reduce_options(common_b.ReduceDataOptions().calcs(["lastNotNull"]).values(False)))
    if text_name:
        p = p.text_mode(common_m.BigValueTextMode.NAME)
    return _with_queries(p, queries)


def _state(title: str, description: str, queries: list[Query], *, w: int = 24, h: int = 5) -> state_b.Panel:
    p = (state_b.Panel().title(title).description(description).datasource(DS).span(w).height(h)
         .show_value(common_m.VisibilityMode.NEVER).min(0).max(1)
         .thresholds(dash_b.ThresholdsConfig().mode(dash_m.ThresholdsMode.ABSOLUTE).steps([
             dash_m.Threshold(value=None, color="green"), dash_m.Threshold(value=0.5, color="red")]))
         .color_scheme(dash_b.FieldColor().mode(dash_m.FieldColorModeId.THRESHOLDS)))
    return _with_queries(p, queries)


def _datasource_var() -> dash_b.DatasourceVariable:
    return dash_b.DatasourceVariable("datasource").label("Prometheus").type("prometheus")


def _query_var(name: str, label: str, query: str, *, multi: bool = True) -> dash_b.QueryVariable:
    v = (dash_b.QueryVariable(name).label(label).datasource(DS).query(query)
         .refresh(dash_m.VariableRefresh.ON_TIME_RANGE_CHANGED).sort(dash_m.VariableSort.ALPHABETICAL_ASC))
    return v.multi(True).include_all(True) if multi else v


def _base(uid: str, title: str, description: str, tags: list[str], time_from: str) -> dash_b.Dashboard:
    return (dash_b.Dashboard(title).uid(uid).description(description).tags(tags).timezone("utc")
            .time(time_from, "now").refresh("1m").tooltip(dash_m.DashboardCursorSync.CROSSHAIR).editable()
            .with_variable(_datasource_var()))


# --- live -----------------------------------------------------------------------------------------
def _target_row() -> list[Any]:
    return [
        _timeseries(
            "Demand, forecast and ready capacity — $target",
            "Demand (last usable sample), the median forecast and its configured upper quantile at the pod "
            "lead and at the node+pod lead (plotted when made, for that many seconds ahead), and the ready "
            "capacity: ready replicas × capacity_per_replica. Demand above capacity is under-provisioning.",
            [Query(f"max by (target) (forecastscale_demand{{{T}}})", "demand"),
             Query(f'max by (target, horizon_s) (forecastscale_forecast{{{T}, quantile="0.5"}})',
                   "median forecast +{{horizon_s}}s"),
             Query(f'max by (target, horizon_s, quantile) (forecastscale_forecast{{{T}, quantile!="0.5"}})',
                   "q{{quantile}} forecast +{{horizon_s}}s"),
             Query(f"max by (target) (forecastscale_ready_capacity{{{T}}})", "ready capacity")],
            w=24, h=9)
        .override_by_regexp("/^q.*/", [dash_m.DynamicConfigValue("custom.fillOpacity", 12),
                                       dash_m.DynamicConfigValue("custom.lineStyle",
                                                                 {"fill": "dash", "dash": [6, 4]})])
        .override_by_name("ready capacity", [dash_m.DynamicConfigValue("custom.lineWidth", 2),
                                             dash_m.DynamicConfigValue("custom.lineInterpolation", "stepAfter")]),
        _timeseries(
            "Desired replicas by source, current replicas — $target",
            "Replicas each source asks for (forecast, reactive = the HPA rules, event floor, burst = panic, "
            "fallback, capped = a full pool's share), final after behaviour and bounds, and spec.replicas "
            "as read from the cluster.",
            [Query(f"max by (target, source) (forecastscale_desired_replicas{{{T}}})", "{{source}}"),
             Query(f"max by (target) (forecastscale_current_replicas{{{T}}})", "current")])
        .line_interpolation(common_m.LineInterpolation.STEP_AFTER)
        .override_by_name("final", [dash_m.DynamicConfigValue("custom.lineWidth", 2)]),
        _timeseries(
            "Forecast error and surprise — $target",
            "Rolling mean absolute percentage error of the median forecast at the pod lead against what "
            "arrived (service.error_window ticks), and the surprise: last demand over the forecast's upper "
            "quantile for that step (above burst.factor, panic mode).",
            [Query(f"max by (target) (forecastscale_forecast_abs_pct_error{{{T}}})", "abs % error"),
             Query(f"100 * max by (target) (forecastscale_forecast_surprise{{{T}}})", "surprise × 100")],
            "percent"),
        _timeseries(
            "SLO: measured against allowed, calibrated margin — $target",
            "With targets[].slo: the share of steps (or demand) missing the SLO over its window against the "
            "share it allows (both in %), and the margin the calibration holds it with (band widths above the "
            "median forecast) with the quantile it amounts to.",
            [Query(f"100 * max by (target) (forecastscale_slo_miss_ratio{{{T}}})", "missing %"),
             Query(f"100 * max by (target) (forecastscale_slo_miss_ratio_allowed{{{T}}})", "allowed %"),
             Query(f"max by (target) (forecastscale_slo_margin{{{T}}})", "margin"),
             Query(f"100 * max by (target) (forecastscale_slo_level{{{T}}})", "level %")]),
        _timeseries(
            "Forecast guardrail: model against its shadows — $target",
            "With guardrail.enabled: each forecaster's rolling pinball loss at the configured quantile one pod lead "
            "ahead (demand units/s; the model, seasonal_naive, persistence), the share of steps its upper quantile "
            "covered (%), and 1 while a stand-in provisions instead of the model (switches are logged with why).",
            [Query(f"max by (target, model) (forecastscale_forecast_pinball{{{T}}})", "pinball {{model}}"),
             Query(f"100 * max by (target, model) (forecastscale_forecast_coverage{{{T}}})", "covered % {{model}}"),
             Query(f"max by (target) (forecastscale_guardrail{{{T}}})", "fallen back")]),
        _timeseries(
            "Pod lead time: measured and planned — $target",
            "Seconds from a scale-up's write to the ready replicas reaching it (kube-state-metrics' ready count): "
            "the median and the quantile planned over (workload.lead.quantile) of the measured leads, and the "
            "lead the policy plans over now (learned with workload.lead.learn once min_samples exist, else "
            "workload.pod_startup_s), with the measurements in the rolling window.",
            [Query(f'max by (target, quantile) (forecastscale_lead_seconds{{{T}, pool=""}})', "q{{quantile}}"),
             Query(f'max by (target) (forecastscale_lead_samples{{{T}, pool=""}})', "samples")], "s")
        .line_interpolation(common_m.LineInterpolation.STEP_AFTER),
        _stat("Forecaster in use — $target", "The model the target forecasts with now (auto's choice).",
              [Query(f"max by (target, model) (forecastscale_model_info{{{T}}}) == 1", "{{model}}", instant=True)],
              w=6, text_name=True),
        _stat("Under-provisioned minutes — $target", "Minutes with demand above the ready capacity in the "
              "dashboard's time range (ticks under-provisioned × tick_s).",
              [Query(f"max by (target) (increase(forecastscale_underprovisioned_seconds_total{{{T}}}[$__range])) "
                     "/ 60", "minutes", instant=True)], "m", w=6),
        _timeseries(
            "Events in force — $target",
            "Event windows in force (cron schedules and announced events, pre-warmed by the pod startup "
            "time) and the replicas floor they set.",
            [Query(f"max by (target) (forecastscale_events_active{{{T}}})", "events in force"),
             Query(f'max by (target) (forecastscale_desired_replicas{{{T}, source="event"}})', "event floor")])
        .line_interpolation(common_m.LineInterpolation.STEP_AFTER),
        _state(
            "Under-provisioned, degraded, panic — $target",
            "1 (red) while demand is above the ready capacity, while the target holds for lack of data, "
            "and while burst (panic) mode holds it.",
            [Query(f"max by (target) (forecastscale_underprovisioned{{{T}}})", "under-provisioned"),
             Query(f"max by (target) (forecastscale_degraded{{{T}}})", "degraded"),
             Query(f"max by (target) (forecastscale_panic{{{T}}})", "panic")]),
    ]


def _pool_row() -> list[Any]:
    return [
        _timeseries(
            "Nodes: desired vs current — $pool",
            "Nodes wanted (bin-packed planned pods, plus headroom and replacements) and the pool's nodes: "
            "as read from its MachineDeployment, else the nodes its running pods occupy.",
            [Query(f"max by (pool) (forecastscale_desired_nodes{{{P}}})", "desired"),
             Query(f"max by (pool) (forecastscale_current_nodes{{{P}}})", "current")])
        .line_interpolation(common_m.LineInterpolation.STEP_AFTER),
        _timeseries(
            "GPUs: used vs allocatable — $pool",
            "GPUs the running pods placed on the pool request, GPUs its current nodes have, and GPUs not "
            "counted as capacity (unhealthy, NotReady or cordoned: 0 without health.enabled).",
            [Query(f"max by (pool) (forecastscale_gpus_used{{{P}}})", "used"),
             Query(f"max by (pool) (forecastscale_gpus_allocatable{{{P}}})", "allocatable"),
             Query(f"max by (pool) (forecastscale_gpus_excluded{{{P}}}) "
                   f"or 0 * max by (pool) (forecastscale_gpus_allocatable{{{P}}})", "excluded")])
        .line_interpolation(common_m.LineInterpolation.STEP_AFTER),
        _timeseries(
            "Node lead time: measured and planned — $pool",
            "Seconds from a MachineDeployment write asking for more nodes to the pool's Ready nodes reaching it: the "
            "median and the quantile planned over of the measured leads, and the node lead planned over now "
            "(learned, else node_startup_s), with the measurements in the rolling window.",
            [Query(f'max by (pool, quantile) (forecastscale_lead_seconds{{{P}, target=""}})', "q{{quantile}}"),
             Query(f'max by (pool) (forecastscale_lead_samples{{{P}, target=""}})', "samples")], "s")
        .line_interpolation(common_m.LineInterpolation.STEP_AFTER),
        _timeseries(
            "Stockout and spill-over — $pool",
            "1 while the pool is stocked out (nodes asked for and none Ready for stockout_factor × its node lead: "
            "its request withdrawn), and the replicas alternatives (workload.alternatives) run on the pool.",
            [Query(f"max by (pool) (forecastscale_pool_stocked_out{{{P}}})", "stocked out"),
             Query(f"sum by (target, pool) (forecastscale_alternative_replicas{{{P}}}) "
                  f"or 0 * max by (pool) (forecastscale_pool_stocked_out{{{P}}})", "{{target}} alternative replicas")],
            w=24, h=6)
        .line_interpolation(common_m.LineInterpolation.STEP_AFTER),
    ]


def _fleet_row() -> list[Any]:
    gpu_h = "sum(max by (pool) (increase(forecastscale_gpu_seconds_total[{w}]))) / 3600"
    under = "sum(max by (target) (increase(forecastscale_underprovisioned_seconds_total[{w}]))) / 60"
    return [
        _timeseries("GPU-hours per day", "GPUs used × time, summed over the pools, per day (one bar a day).",
                    [Query(gpu_h.format(w="1d"), "GPU-hours")], w=8, interval="1d", bars=True),
        _timeseries("Under-provisioned minutes per day", "Minutes any target had demand above its ready "
                    "capacity, summed over the targets, per day.",
                    [Query(under.format(w="1d"), "minutes"),
                     Query("max by (target) (increase(forecastscale_underprovisioned_seconds_total[1d])) / 60",
                           "{{target}}")], w=8, interval="1d", bars=True),
        _stat("GPU-hours (time range)", "GPU-hours used over the dashboard's time range, all pools.",
              [Query(gpu_h.format(w="$__range"), "GPU-hours", instant=True)], w=4),
        _stat("Under-provisioned minutes (time range)", "Target-minutes with demand above ready capacity over "
              "the dashboard's time range.", [Query(under.format(w="$__range"), "minutes", instant=True)], "m",
              w=4),
        _timeseries("Tick time p95 and leader", "95th percentile of one tick's wall time, and which replica "
                    "leads (1).",
                    [Query("histogram_quantile(0.95, sum by (le) "
                           "(rate(forecastscale_tick_seconds_bucket[$__rate_interval])))", "tick p95 (s)"),
                     Query("max by (instance) (forecastscale_leader)", "leader {{instance}}")], "s", w=24),
    ]


def live() -> dash_m.Dashboard:
    """The live service dashboard (per target, per pool, fleet)."""
    d = (_base(LIVE_UID, "forecastscale", "Predictive GPU autoscaler: demand, forecast, capacity, replicas, nodes "
                                          "and GPUs, from the service's /metrics.", ["forecastscale"], "now-6h")
         .with_variable(_query_var("target", "Target", "label_values(forecastscale_demand, target)"))
         .with_variable(_query_var("pool", "Node pool", "label_values(forecastscale_desired_nodes, pool)"))
         .link(dash_b.DashboardLink("What-if replays").type(dash_m.DashboardLinkType.DASHBOARDS)
               .tags(["forecastscale-whatif"]).keep_time(True)))
    d = d.with_row(dash_b.Row("Target $target").repeat("target"))
    for p in _target_row():
        d = d.with_panel(p)
    d = d.with_row(dash_b.Row("Node pool $pool").repeat("pool"))
    for p in _pool_row():
        d = d.with_panel(p)
    d = d.with_row(dash_b.Row("Fleet"))
    for p in _fleet_row():
        d = d.with_panel(p)
    return d.build()


# --- what-if --------------------------------------------------------------------------------------
def _whatif_panels() -> list[Any]:
    return [
        _timeseries(
            "Demand and forecast — $target",
            "The replayed demand and the forecast quantiles the predictive policy provisioned from.",
            [Query(f"max by (run, target) (forecastscale_replay_demand{{{R}}})", "demand {{run}}"),
             Query(f"max by (run, target, quantile) (forecastscale_replay_forecast{{{R}}})",
                   "q{{quantile}} forecast {{run}}")], w=24, h=9),
        _timeseries(
            "Ready capacity per policy vs demand — $target",
            "Each policy's ready capacity (ready replicas × capacity_per_replica) against the replayed "
            "demand: demand above a line is that policy under-provisioned.",
            [Query(f"max by (run, target) (forecastscale_replay_demand{{{R}}})", "demand {{run}}"),
             Query(f"max by (run, target, policy) (forecastscale_replay_ready_capacity{{{RP}}})",
                   "{{policy}} {{run}}")]),
        _timeseries(
            "Desired replicas per policy — $target", "The replicas each policy asked for at each decision.",
            [Query(f"max by (run, target, policy) (forecastscale_replay_desired_replicas{{{RP}}})",
                   "{{policy}} {{run}}")])
        .line_interpolation(common_m.LineInterpolation.STEP_AFTER),
        _state(
            "Under-provisioned per policy — $target", "1 (red) while demand was above the policy's ready capacity.",
            [Query(f"max by (run, target, policy) (forecastscale_replay_underprovisioned{{{RP}}})",
                   "{{policy}} {{run}}")], w=16),
        _stat("Under-provisioned % of the time range per policy — $target",
              "Share of the replayed steps in the time range with demand above the policy's ready capacity.",
              [Query(f"100 * max by (run, target, policy) "
                     f"(avg_over_time(forecastscale_replay_underprovisioned{{{RP}}}[$__range]))",
                     "{{policy}} {{run}}", instant=True)], "percent", w=8, h=5),
    ]


def whatif() -> dash_m.Dashboard:
    """The what-if dashboard: backfilled ``backtest``/``replay`` runs, every policy side by side."""
    d = (_base(WHATIF_UID, "forecastscale what-if", "What-if replays (forecastscale backtest/replay --openmetrics, "
                                                   "backfilled with promtool): policies side by side per run.",
               ["forecastscale", "forecastscale-whatif"], "now-7d")
         .with_variable(_query_var("run", "Run", "label_values(forecastscale_replay_demand, run)"))
         .with_variable(_query_var("target", "Target",
                                   'label_values(forecastscale_replay_demand{run=~"$run"}, target)'))
         .with_variable(_query_var("policy", "Policy",
                                   'label_values(forecastscale_replay_desired_replicas{run=~"$run"}, policy)'))
         .link(dash_b.DashboardLink("Live").type(dash_m.DashboardLinkType.DASHBOARDS).tags(["forecastscale"])
               .keep_time(True)))
    d = d.with_row(dash_b.Row("Target $target").repeat("target"))
    for p in _whatif_panels():
        d = d.with_panel(p)
    return d.build()


# --- output ---------------------------------------------------------------------------------------
def _number_panels(data: dict[str, Any]) -> dict[str, Any]:
    for i, panel in enumerate(data.get("panels", []), start=1):
        panel["id"] = i
    return data


def dashboards() -> dict[str, dict[str, Any]]:
    """File name → dashboard JSON (as a dict), for every dashboard shipped."""
    built = {"forecastscale-live.json": live(), "forecastscale-whatif.json": whatif()}
    return {name: _number_panels(json.loads(json.dumps(d, cls=JSONEncoder))) for name, d in built.items()}


def render() -> dict[str, str]:
    """Relative path → file text, for everything under ``deploy/grafana``: dashboards and provisioning."""
    out = {name: json.dumps(d, indent=2, sort_keys=True, ensure_ascii=False) + "\n" for name, d in dashboards().items()}
    out.update(PROVISIONING)
    return out


def write(directory: Path) -> list[Path]:
    """Write :func:`render` under ``directory``; returns the paths written."""
    written = []
    for rel, text in render().items():
        path = directory / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def panel_queries(data: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(panel title, expression) for every query of every panel of a dashboard's JSON."""
    for panel in data.get("panels", []):
        for target in panel.get("targets") or []:
            yield panel.get("title", ""), target.get("expr", "")
