"""Typed configuration, validated once at the edge (pydantic, YAML).

Every field is documented where it is declared; units are in the name (``_s`` seconds, ``_per_s`` per
second). A bad file raises :class:`~forecastscale.errors.ConfigError` with one line per bad field, e.g.
``targets[0].workload.capacity_per_replica: must be > 0, got -3`` (the value shown short); a target in the
flat form of before config format 2 gets one line per old key naming its new place (:mod:`.migration`).

One module per concern:

* :mod:`.base` — the model every section derives from: unknown fields refused, frozen, sane numbers;
* :mod:`.yaml_loader` — the YAML read strictly (no anchors, aliases or duplicate keys, at most 4 MiB);
* :mod:`.target` — ``targets[]`` and its ``workload``/``backtest`` sections; the other sections in
  :mod:`.scaling` (with :mod:`.rules`: HPA metrics), :mod:`.forecast` (with :mod:`.guardrail`), :mod:`.queries`,
  :mod:`.scheduling` and :mod:`.events` (cron floors, announced events, burst);
* :mod:`.pool` — ``node_pools[]``; :mod:`.backtest` — ``backtest:``; :mod:`.service` — ``service:``;
* :mod:`.leadtimes` — ``workload.lead`` (learned lead times) and ``backtest.startup`` (drawn start-up times);
* :mod:`.root` — the whole file (:class:`Config`): references between sections, per-target buffer bounds
  (:data:`MAX_HISTORY_STEPS`, :data:`MAX_HORIZON_STEPS`), lead times (:class:`Leads`);
* :mod:`.messages` — validation errors as lines; :mod:`.migration` — the old flat keys and their new places;
  :mod:`.loader` — :func:`load_config` and :func:`parse_config`.
"""

from forecastscale.config.backtest import BacktestSettings
from forecastscale.config.events import EventSettings
from forecastscale.config.forecast import ForecastSettings, ModelName
from forecastscale.config.guardrail import GuardrailSettings
from forecastscale.config.leadtimes import LeadSettings, Spread, StartupDraws
from forecastscale.config.loader import load_config, parse_config
from forecastscale.config.messages import format_validation_error
from forecastscale.config.pool import NodePool, ObjectRef
from forecastscale.config.queries import TEMPLATE_VARIABLES, Queries, QueryKind, ServiceQueries
from forecastscale.config.root import MAX_HISTORY_STEPS, MAX_HORIZON_STEPS, Config, Leads, leads
from forecastscale.config.scaling import Behavior, ScalingPolicy, ScalingRules, ScalingSettings
from forecastscale.config.scheduling import SchedulingSettings
from forecastscale.config.service import LeaderElection, ServiceSettings
from forecastscale.config.slo import SloMetric, SloSettings
from forecastscale.config.target import Alternative, Target, TargetBacktest, WorkloadSettings

__all__ = [
    "MAX_HISTORY_STEPS",
    "MAX_HORIZON_STEPS",
    "TEMPLATE_VARIABLES",
    "Alternative",
    "BacktestSettings",
    "Behavior",
    "Config",
    "EventSettings",
    "ForecastSettings",
    "GuardrailSettings",
    "LeadSettings",
    "LeaderElection",
    "Leads",
    "ModelName",
    "NodePool",
    "ObjectRef",
    "Queries",
    "QueryKind",
    "ScalingPolicy",
    "ScalingRules",
    "ScalingSettings",
    "SchedulingSettings",
    "ServiceQueries",
    "ServiceSettings",
    "SloMetric",
    "SloSettings",
    "Spread",
    "StartupDraws",
    "Target",
    "TargetBacktest",
    "WorkloadSettings",
    "format_validation_error",
    "leads",
    "load_config",
    "parse_config",
]
