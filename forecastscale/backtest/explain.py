"""Plain words for the backtest's numbers: a header with unit and better direction for every score, and the one
line of verdict printed under each table — computed from the numbers, never canned, and honest when predictive
loses (more GPU-hours, or fewer only by serving worse).

Pure functions of floats: the report modules (report, frontier_report, shared_report) feed them their scores.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LEGEND = "↓ lower is better · ↑ higher is better"

# Score name → column header: what it is, its unit, and which way is better (JSON keeps the bare names).
LABELS: dict[str, str] = {
    "gpu_hours": "GPU-h ↓",
    "cost": "cost, gpu_hour_cost × GPU-h ↓",
    "underprovisioned_pct": "under-provisioned, % of minutes ↓",
    "unserved_pct": "unserved, % of demand ↓",
    "queued_pct": "queued, % of demand ↓",
    "p99_wait_s": "p99 wait, s ↓",
    "mean_utilisation": "utilisation of ready capacity, 0–1 ↑",
    "scale_events": "replica changes, count ↓",
    "node_events": "node-count changes, count ↓",
    "gpu_hours_vs_oracle": "GPU-h ÷ oracle's, × ↓",
    "underprovisioned_min": "under-provisioned, minutes ↓",
}

# SLO metric → (words, unit) as a verdict says them.
_METRIC_WORDS: dict[str, tuple[str, str]] = {
    "underprovisioned_pct": ("under-provisioned", "% of minutes"),
    "unserved_pct": ("unserved", "% of demand"),
    "queued_pct": ("queued", "% of demand"),
    "p99_wait_s": ("p99 wait", "s"),
}
GPU_TIE_PCT = 1.0  # GPU-hours within 1 % of each other are "the same"
SLO_SAME_REL = 0.10  # an SLO metric within 10 % (or the absolute slack below) is "the same SLO"
_SLO_SAME_ABS = {"p99_wait_s": 0.5}  # seconds; the percentage metrics: 0.05 points
_SLO_SAME_ABS_DEFAULT = 0.05


def label(name: str) -> str:
    """The header of score ``name`` (its bare name if it has no label)."""
    return LABELS.get(name, name)


def num(x: float) -> str:
    """A number as a verdict writes it: 0, three significant digits, or whole with separators from 100."""
    if x == 0:
        return "0"
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"


def pct(x: float) -> str:
    """A percentage's magnitude: one decimal under 10, whole above (``31``, ``4.2``)."""
    x = round(abs(x), 1)  # 9.96 shows as 10, not 10.0
    return f"{x:.1f}" if x < 10 else f"{x:.0f}"


def metric_words(metric: str) -> tuple[str, str]:
    """(words, unit) of an SLO metric, e.g. ``("under-provisioned", "% of minutes")``."""
    return _METRIC_WORDS.get(metric, (metric, ""))


def metric_pair(metric: str, ours: float, theirs: float) -> str:
    """``under-provisioned 34.8 vs 33.7 % of minutes``."""
    words, unit = metric_words(metric)
    return f"{words} {num(ours)} vs {num(theirs)} {unit}".rstrip()


def metric_value(metric: str, value: float) -> str:
    """``under-provisioned 0 % of minutes``."""
    words, unit = metric_words(metric)
    return f"{words} {num(value)} {unit}".rstrip()


def slo_side(metric: str, ours: float, theirs: float) -> int:
    """-1 when ``ours`` is the better SLO (lower), 0 when about the same, 1 when worse."""
    slack = max(SLO_SAME_REL * max(abs(ours), abs(theirs)), _SLO_SAME_ABS.get(metric, _SLO_SAME_ABS_DEFAULT))
    if abs(ours - theirs) <= slack:
        return 0
    return -1 if ours < theirs else 1


def saving_pct(ours: float, theirs: float) -> float | None:
    """GPU-hours saved against ``theirs``, in % (negative: more); None when ``theirs`` used none."""
    return 100.0 * (1.0 - ours / theirs) if theirs > 0 else None


@dataclass(frozen=True)
class Side:
    """One policy's GPU-hours and its value of the SLO metric compared on."""

    gpu_hours: float
    slo: float


_JUDGEMENT = {  # (cost: -1 cheaper, 0 same, 1 dearer; SLO side) → what it amounts to
    (-1, -1): "wins", (-1, 0): "wins", (-1, 1): "trades SLO for GPU-hours",
    (0, -1): "wins on SLO", (0, 0): "ties", (0, 1): "loses on SLO",
    (1, -1): "buys SLO with GPU-hours", (1, 0): "loses", (1, 1): "loses",
}
_SLO_WORDS = {-1: "for a better SLO", 0: "at the same SLO", 1: "for a worse SLO"}


def _cost_words(saving: float, other: str) -> tuple[int, str]:
    if abs(saving) < GPU_TIE_PCT:
        return 0, f"GPU-hours within {GPU_TIE_PCT:g} % of {other}'s"
    more = "fewer" if saving > 0 else "more"
    return (-1 if saving > 0 else 1), f"{pct(saving)} % {more} GPU-hours than {other}"


def compare(metric: str, ours: Side, theirs: Side, names: tuple[str, str] = ("predictive", "reactive"),
            scope: str = "") -> str:
    """One clause: which way ``ours`` beats (or loses to) ``theirs`` on GPU-hours and the SLO metric, e.g.
    ``predictive wins: 31 % fewer GPU-hours than reactive at the same SLO (under-provisioned 34.8 vs 33.7 %
    of minutes)``. ``scope`` (e.g. ``"worst target: "``) goes before the metric pair."""
    me, other = names
    pair = scope + metric_pair(metric, ours.slo, theirs.slo)
    saving = saving_pct(ours.gpu_hours, theirs.gpu_hours)
    if saving is None:
        return f"{me}: {ours.gpu_hours:,.1f} GPU-h, {other} none ({pair})"
    cost, words = _cost_words(saving, other)
    side = slo_side(metric, ours.slo, theirs.slo)
    return f"{me} {_JUDGEMENT[cost, side]}: {words} {_SLO_WORDS[side]} ({pair})"


def oracle_clause(gpu_hours: float, metric: str, value: float) -> str:
    """``oracle (perfect foresight) needs 4,112.7 GPU-h at under-provisioned 0 % of minutes, the lower bound``."""
    return f"oracle (perfect foresight) needs {gpu_hours:,.1f} GPU-h at {metric_value(metric, value)}, the lower bound"


def summary(name: str, gpu_hours: float, metric: str, value: float) -> str:
    """``reactive: 1,230.7 GPU-h, under-provisioned 34.5 % of minutes``."""
    return f"{name}: {gpu_hours:,.1f} GPU-h, {metric_value(metric, value)}"


def _levels(items: Sequence[str]) -> str:
    return ", ".join(f"≤ {x}" for x in items)


def matched(metric: str, levels: dict[str, tuple[float | None, float | None]]) -> str:
    """The verdict of a matched-SLO table: ``levels`` maps a level to (reactive, predictive) GPU-hours at it
    (None: not reached). Savings where both reach it; which levels only one policy reaches."""
    words, unit = metric_words(metric)
    both = {lv: saving_pct(p, r) for lv, (r, p) in levels.items() if r is not None and p is not None}
    only_p = [lv for lv, (r, p) in levels.items() if p is not None and r is None]
    only_r = [lv for lv, (r, p) in levels.items() if r is not None and p is None]
    parts = [_savings(both, f"{words} {unit}".rstrip())] if both else []
    parts += [f"only predictive reaches {words} {_levels(only_p)}"] if only_p else []
    parts += [f"only reactive reaches {words} {_levels(only_r)}"] if only_r else []
    return "; ".join(parts) or f"neither policy reaches {words} {_levels(list(levels))} {unit}".rstrip()


def _savings(both: dict[str, float | None], what: str) -> str:
    """Savings at the levels both policies reach: a range when they agree in sign, each level when mixed."""
    values = [s for s in both.values() if s is not None]
    at = f"at the same {what} ({_levels(list(both))})"
    if values and all(s >= GPU_TIE_PCT for s in values):
        return f"predictive wins: {_span(values)} % fewer GPU-hours than reactive {at}"
    if values and all(s <= -GPU_TIE_PCT for s in values):
        return f"predictive loses: {_span(values)} % more GPU-hours than reactive {at}"
    if values and all(abs(s) < GPU_TIE_PCT for s in values):
        return f"predictive ties: GPU-hours within {GPU_TIE_PCT:g} % of reactive's {at}"
    each = ", ".join(f"{'–' if s is None else f'{s:+.1f} %'} at ≤ {lv}" for lv, s in both.items())
    return f"predictive's saving against reactive varies with the level: {each} ({what})"


def _span(values: Sequence[float]) -> str:
    lo, hi = sorted((pct(min(values, key=abs)), pct(max(values, key=abs))), key=float)
    return lo if lo == hi else f"{lo}–{hi}"


def frontier(metric: str, pred: Sequence[tuple[float, float]], reac: Sequence[tuple[float, float]]) -> str:
    """The verdict of a frontier table, from each frontier's (metric, GPU-hours) points, lowest metric first: how
    many of one policy's settings the other beats on both, and the best SLO each reaches."""
    words, unit = metric_words(metric)
    what = f"{words} {unit}".rstrip()
    if not pred or not reac:
        return f"only one policy was swept: nothing to compare ({what})"
    p_beats, r_beats = _beaten(reac, pred), _beaten(pred, reac)
    best = f"lowest {words} reached: predictive {num(pred[0][0])}, reactive {num(reac[0][0])} {unit}".rstrip()
    return (f"predictive beats {p_beats} of {len(reac)} reactive frontier settings on both GPU-h and {what} "
            f"(reactive beats {r_beats} of {len(pred)} predictive ones); {best}")


def _beaten(targets: Sequence[tuple[float, float]], by: Sequence[tuple[float, float]]) -> int:
    """How many of ``targets`` some point of ``by`` matches or betters on both coordinates, one strictly."""
    return sum(any(b[0] <= t[0] and b[1] <= t[1] and b != t for b in by) for t in targets)


def save_figure(fig: Any, path: Path) -> None:
    """Lay ``fig`` out, write it to ``path`` (folders made) at the reports' resolution, and free it."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
