"""``--report DIR`` of backtest, backtest --shared-pool, tune and the sweep's page: one self-contained index.html
(tables, verdicts, embedded plots, no fetch of anything), every user-given name escaped. The rendering in a real
browser is tests/integration/test_html_report.py."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from forecastscale.backtest import html_report
from forecastscale.backtest.frontier_report import SweepResult, plot_frontiers
from forecastscale.backtest.scores import Scores
from forecastscale.backtest.sweep import Point
from forecastscale.cli import app
from tests.conftest import DATA, small_shared_config

runner = CliRunner()
ODD = "a<b>&'c\".csv"  # a trace name that is HTML if not escaped


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled ELB config on the first 3 days of its trace, also saved under a name full of HTML."""
    folder = tmp_path_factory.mktemp("reports")
    lines = (DATA / "elb_request_count_8c0756.csv").read_text(encoding="utf-8").splitlines()
    for name in ("elb3d.csv", ODD):
        (folder / name).write_text("\n".join(lines[: 1 + 3 * 288]) + "\n", encoding="utf-8")
    config = (DATA / "elb_request_count.yaml").read_text(encoding="utf-8")
    (folder / "small.yaml").write_text(config.replace("trace: elb_request_count_8c0756.csv", "trace: elb3d.csv"),
                                       encoding="utf-8")
    return folder


def _self_contained(page: str) -> None:
    """No script, nothing fetched: every src is a data: URI, every href a file beside the page."""
    assert f'content="{html_report.CSP}"' in page
    assert "<script" not in page.lower()
    assert all(src.startswith("data:image/png;base64,") for src in re.findall(r'src="([^"]*)"', page))
    assert not re.search(r'href="[a-z]+:', page)


def test_backtest_report_writes_one_page_with_tables_verdicts_and_plots(small: Path) -> None:
    folder = small / "bt"
    result = runner.invoke(app, ["backtest", "--config", str(small / "small.yaml"), "--trace", str(small / ODD),
                                 "--report", str(folder), "--quiet"])
    assert result.exit_code == 0, result.output
    page = (folder / "index.html").read_text(encoding="utf-8")
    _self_contained(page)
    [trace] = json.loads((folder / "results.json").read_text())["traces"]
    gpu = trace["policies"]["predictive"]["gpu_hours"]
    assert f">{gpu:,.1f}</td>" in page  # the headline number, as the terminal prints it
    assert "<th>score, unit</th>" in page and "GPU-h ↓" in page
    stdout_verdict = next(line for line in result.stdout.splitlines() if line.startswith("verdict: "))
    assert "<strong>Verdict:</strong>" in page
    assert page.count('class="verdict"') == 1
    assert page.count("<img ") == 1 and len(page) > 50_000  # backtest.png, embedded
    assert "a&lt;b&gt;&amp;&#39;c&#34;.csv" in page and ODD not in page  # escaped, never raw
    assert stdout_verdict.removeprefix("verdict: ") in html.unescape(page)  # the terminal's verdict, word for word
    md = (folder / "results.md").read_text(encoding="utf-8")
    assert md.rstrip().splitlines()[-1].startswith("**Verdict**")


def test_tune_report(small: Path) -> None:
    folder = small / "tune"
    result = runner.invoke(app, ["tune", "--config", str(small / "small.yaml"), "--trace", str(small / "elb3d.csv"),
                                 "--policy", "reactive", "--slo", "underprovisioned_pct<=60", "--jobs", "1",
                                 "--report", str(folder), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "verdict: reactive at target_utilisation=" in result.stdout
    saved = json.loads((folder / "results.json").read_text())
    assert saved["met"] == {"tuning_part": True, "report_part": True} and len(saved["points"]) == 12
    page = (folder / "index.html").read_text(encoding="utf-8")
    _self_contained(page)
    assert "tuning part (earlier)" in page and page.count("<img ") == 1
    assert saved["verdict"] in html.unescape(page)


def test_shared_pool_report(tmp_path: Path) -> None:
    small_shared_config(tmp_path, 2)
    result = runner.invoke(app, ["backtest", "--shared-pool", "--config", str(tmp_path / "shared.yaml"),
                                 "--policy", "reactive,oracle", "--report", str(tmp_path / "r"), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "verdict: 2 targets, GPU-h summed: reactive: " in result.stdout
    page = (tmp_path / "r" / "index.html").read_text(encoding="utf-8")
    _self_contained(page)
    assert "GPU-h ↓" in page and "2 targets, GPU-h summed" in page
    assert json.loads((tmp_path / "r" / "results.json").read_text())["shared_pools"]


def _point(policy: str, gpu: float, under: float, u: float) -> Point:
    return Point(policy, {"target_utilisation": u}, Scores(gpu, gpu, under, 0.0, 0.0, 0.0, 0.5, 0, 0))


def test_the_sweep_page_has_both_sweep_tables_and_their_verdicts(tmp_path: Path) -> None:
    points = [_point("reactive", 300, 1.0, 0.3), _point("reactive", 200, 3.0, 0.5),
              _point("predictive", 220, 0.5, 0.6), _point("predictive", 150, 2.0, 0.8)]
    swept = SweepResult("t<1>.csv", points, 100.0, "underprovisioned_pct", (1.0, 2.0))
    plot_frontiers([swept], tmp_path / "frontier.png")
    sections = [html_report.section(t, v) for t, v in html_report.sweep_tables(swept)]
    page = html_report.write(tmp_path, "sweep", sections, [html_report.figure(tmp_path / "frontier.png", "f")])
    text = page.read_text(encoding="utf-8")
    _self_contained(text)
    assert text.count('class="verdict"') == 2
    assert "t&lt;1&gt;.csv: Pareto frontiers" in text and "GPU-hours at matched" in text
    # ≤ 1 %: 1 − 196.7/300 (predictive interpolated from 220 at 0.5 % to 150 at 2 %); ≤ 2 %: 1 − 150/250
    assert "predictive wins: 34–40 % fewer GPU-hours than reactive" in text
