"""One self-contained ``index.html`` per report directory: the tables, the one-line verdicts and the plots of a
``backtest --report``, ``backtest --sweep --report``, ``backtest --shared-pool --report``, ``tune --report`` or
``replay --report`` run.

The page opens from disk with no server and no network: plots are embedded as base64 ``data:`` URIs, the style is
inline, there is no script, and a Content-Security-Policy forbids fetching anything else. Every text (trace,
target and config names are user input) goes through Jinja2's autoescaping. The tables are the very ``rich``
tables the terminal shows (:func:`section` reads their cells), so the page and the terminal cannot disagree.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from forecastscale import __version__
from forecastscale.backtest import frontier_report, report, shared_report

if TYPE_CHECKING:  # rich and the report types only annotate here: nothing heavy at import time
    from rich.table import Table

    from forecastscale.backtest.frontier_report import SweepResult
    from forecastscale.backtest.suite import TraceResult
    from forecastscale.backtest.tune import Slo, TuneResult

INDEX = "index.html"
# No fetch of any kind (default-src 'none'): images only from data: URIs, style only inline, no script at all.
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="@CSP@">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<style>
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 72em;
       padding: 0 1em; color: #1b1b1b; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; }
th { background: #f2f2f2; text-align: left; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
p.legend { color: #555; font-size: 0.9em; margin: 0.2em 0; }
p.verdict { background: #eef5ff; border-left: 4px solid #2a6fdb; padding: 0.5em 0.8em; }
p.note { background: #fff4e0; border-left: 4px solid #d98a00; padding: 0.5em 0.8em; }
figure { margin: 2em 0; } img { max-width: 100%; height: auto; border: 1px solid #ddd; }
footer { margin-top: 3em; color: #666; font-size: 0.85em; }
</style>
</head>
<body>
<h1>{{ title }}</h1>
{% for line in intro %}<p class="intro">{{ line }}</p>
{% endfor %}
{% for s in sections %}<section>
<h2>{{ s.title }}</h2>
<table>
<thead><tr>{% for c in s.columns %}<th>{{ c }}</th>{% endfor %}</tr></thead>
<tbody>
{% for row in s.rows %}<tr>
{%- for text, right in row %}<td{% if right %} class="num"{% endif %}>{{ text }}</td>{% endfor -%}
</tr>
{% endfor %}</tbody>
</table>
{% if s.legend %}<p class="legend">{{ s.legend }}</p>{% endif %}
{% if s.verdict %}<p class="verdict"><strong>Verdict:</strong> {{ s.verdict }}</p>{% endif %}
{% for n in s.notes %}<p class="note">{{ n }}</p>
{% endfor %}</section>
{% endfor %}
{% for f in figures %}<figure><img src="{{ f.uri }}" alt="{{ f.alt }}"><figcaption>{{ f.alt }}</figcaption></figure>
{% endfor %}
<footer>Written by forecastscale {{ version }}.{% if files %} Beside it:
{% for name in files %}<a href="{{ name }}">{{ name }}</a>{% if not loop.last %}, {% endif %}{% endfor %}.{% endif %}
</footer>
</body>
</html>
""".replace("@CSP@", CSP)  # written as is: the policy's quotes must not be escaped


@dataclass(frozen=True)
class Section:
    """One table of the page: its title, headers, cells (text, right-aligned), legend, notes and verdict."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[tuple[str, bool], ...], ...]
    verdict: str | None = None
    notes: tuple[str, ...] = ()
    legend: str | None = None


@dataclass(frozen=True)
class Figure:
    """A plot: its caption (also the image's alt text) and the PNG as a ``data:`` URI."""

    alt: str
    uri: str


def section(table: Table, verdict: str | None, notes: Sequence[str | None] = ()) -> Section:
    """The page's copy of a terminal ``table`` (its caption becomes the legend), with ``verdict`` under it."""
    right = [c.justify == "right" for c in table.columns]
    rows = zip(*([str(cell) for cell in c.cells] for c in table.columns), strict=True)
    return Section(str(table.title or ""), tuple(str(c.header) for c in table.columns),
                   tuple(tuple(zip(row, right, strict=True)) for row in rows), verdict,
                   tuple(n for n in notes if n), str(table.caption) if table.caption else None)


def figure(path: Path, alt: str) -> Figure:
    """``path`` (a PNG) embedded: the page must not depend on the file beside it."""
    return Figure(alt, "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii"))


def render(title: str, sections: Sequence[Section], figures: Sequence[Figure] = (), intro: Sequence[str] = (),
           files: Sequence[str] = ()) -> str:
    """The page as a string (every value autoescaped)."""
    import jinja2  # only when a report is written: the CLI's start-up stays light

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return env.from_string(TEMPLATE).render(title=title, sections=sections, figures=figures, intro=intro,
                                            files=files, version=__version__)


def write(directory: Path, title: str, sections: Sequence[Section], figures: Sequence[Figure] = (),
          intro: Sequence[str] = ()) -> Path:
    """Write ``directory/index.html`` (listing the other files already there) and return its path."""
    directory.mkdir(parents=True, exist_ok=True)
    files = sorted(p.name for p in directory.iterdir() if p.is_file() and p.name != INDEX)
    path = directory / INDEX
    path.write_text(render(title, sections, figures, intro, files), encoding="utf-8")
    return path


def sweep_tables(swept: SweepResult) -> list[tuple[Table, str]]:
    """A trace's sweep: the frontier table and the matched-SLO table, each with its verdict."""
    return [(frontier_report.frontier_table(swept), frontier_report.frontier_verdict(swept)),
            (frontier_report.matched_table(swept), frontier_report.matched_verdict(swept))]


def backtest_sections(results: Sequence[TraceResult], swept: Sequence[SweepResult] = ()) -> list[Section]:
    """Each trace's table with its verdict and fallback note, and with a sweep its frontier and matched tables."""
    out = []
    for k, r in enumerate(results):
        out.append(section(report.rich_table(r), report.verdict(r), [report.fallback_note(r)]))
        out += [section(table, verdict) for table, verdict in (sweep_tables(swept[k]) if swept else [])]
    return out


def write_backtest(directory: Path, title: str, results: Sequence[TraceResult], swept: Sequence[SweepResult] = (),
                   plots: Sequence[tuple[Path, str]] = (), intro: Sequence[str] = ()) -> Path:
    """The page of a backtest or replay run: its tables and verdicts, then ``plots`` (path, caption)."""
    return write(directory, title, backtest_sections(results, swept),
                 [figure(path, alt) for path, alt in plots], intro)


def write_tune(directory: Path, result: TuneResult, slo: Slo, plot: Path, intro: Sequence[str] = ()) -> Path:
    """The page of a ``tune`` run: the chosen setting on both parts, its verdict, the tuning sweep's plot."""
    table = section(frontier_report.tune_table(result, slo), frontier_report.tune_verdict(result, slo))
    caption = f"every {result.policy} setting tried on the tuning part: GPU-hours against {slo.metric}"
    return write(directory, f"forecastscale tune: {result.policy}, {slo}", [table], [figure(plot, caption)], intro)


def write_shared(directory: Path, results: Sequence[shared_report.PoolResult], intro: Sequence[str] = ()) -> Path:
    """The page of a ``backtest --shared-pool`` run: each fleet's table, its verdict and arbitration messages."""
    sections = [section(shared_report.rich_table(r), shared_report.verdict(r), shared_report.message_lines(r))
                for r in results]
    return write(directory, "forecastscale backtest --shared-pool", sections, intro=intro)
