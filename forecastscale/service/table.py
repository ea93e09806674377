"""The ``run --once`` decision table (rich), one row per target and per managed node pool."""

from __future__ import annotations

from rich.table import Table

from forecastscale.service.core import TickReport


def _num(value: float | int | None, fmt: str = "{:g}") -> str:
    return "–" if value is None else fmt.format(value)


def decision_table(report: TickReport, dry_run: bool) -> Table:
    """Targets: demand, current, each source's replicas, final, pods planned over the node lead, action and
    reason; then pools: nodes as read and as planned (the pools' column ``nodes``)."""
    mode = "dry-run" if dry_run else ("leader" if report.leader else "standby")
    table = Table(title=f"forecastscale decisions ({mode})", title_justify="left")
    for column in ("target", "demand", "current", "forecast", "reactive", "desired", "ahead", "nodes", "action",
                   "reason"):
        table.add_column(column, justify="right" if column not in ("target", "action", "reason") else "left")
    for o in report.targets:
        d = o.decision
        cand = d.candidates if d else {}
        table.add_row(o.target, _num(o.demand, "{:.4g}"), _num(o.current), _num(cand.get("forecast")),
                      _num(cand.get("reactive")), _num(d.replicas if d else None), _num(d.planned if d else None), "",
                      o.action, (o.error or (d.reason if d else "")) if o.status != "ok" else (d.reason if d else ""))
    for p in report.pools:
        table.add_row(f"pool {p.pool}", "", _num(p.current), "", "", "", "", _num(p.desired), p.action, p.error or "")
    return table
