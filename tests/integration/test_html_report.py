"""The ``--report`` page as a person sees it: ``index.html`` opened from disk by a real headless browser (Debian's
``chromium``) with every network route closed, then read back — the headline numbers and verdicts as rendered text,
and every plot decoded (natural size of the PNG) and laid out at a non-zero width.

The browser runs on a copy of the page in another folder (it must not need the files beside it) that adds one
inline script: on ``load`` it writes each image's natural and laid-out size into the DOM, which ``--dump-dom``
prints. The copy's Content-Security-Policy allows that script and nothing more; the page itself has none.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from forecastscale.cli import app
from tests.conftest import small_elb_config

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="renders the page in Debian's chromium, not installed here (apt-get install chromium; "
    ".ci/run installs it)")
BROWSER_TIMEOUT_S = 120  # a cold start of chromium on a busy 2-core machine takes a few seconds; never hang

PROBE = """<script>
addEventListener("load", () => {
  const seen = [...document.images].map(i => {
    const box = i.getBoundingClientRect();
    return {natural: [i.naturalWidth, i.naturalHeight], shown: [box.width, box.height]};
  });
  const out = document.createElement("pre");
  out.id = "probe";
  out.textContent = JSON.stringify(seen);
  document.body.appendChild(out);
});
</script>
"""
runner = CliRunner()


def render(page: Path, work: Path) -> tuple[str, list[dict[str, Any]]]:
    """Open a copy of ``page`` from ``work/`` in headless chromium, no network: the body's text and the images."""
    text = page.read_text(encoding="utf-8")
    assert "default-src 'none';" in text
    probe = work / "probe.html"
    probe.write_text(text.replace("default-src 'none';", "default-src 'none'; script-src 'unsafe-inline';", 1)
                     .replace("</body>", PROBE + "</body>", 1), encoding="utf-8")
    argv = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            f"--user-data-dir={work / 'profile'}", "--proxy-server=http://127.0.0.1:9",
            "--host-resolver-rules=MAP * ~NOTFOUND", "--window-size=1280,2000", "--virtual-time-budget=10000",
            "--dump-dom", probe.as_uri()]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=BROWSER_TIMEOUT_S, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    match = re.search(r'<pre id="probe">(.*?)</pre>', done.stdout, re.S)
    assert match is not None, "the page's load event never fired: " + done.stdout[-2000:]
    body = done.stdout.split("<body>", 1)[1].replace(match.group(0), "")
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split()), json.loads(html.unescape(match.group(1)))


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    width, height = struct.unpack(">II", path.read_bytes()[16:24])
    return width, height


def assert_plots_shown(images: list[dict[str, Any]], pngs: list[Path]) -> None:
    assert [tuple(i["natural"]) for i in images] == [png_size(p) for p in pngs]  # decoded, every pixel of it
    assert all(i["shown"][0] > 300 and i["shown"][1] > 100 for i in images)  # laid out where a person looks


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled ELB config on 3 days of its trace (the first 2 days warm up; 1 is scored)."""
    return small_elb_config(tmp_path_factory.mktemp("html"), "  warmup_s: 172800\n")


def test_the_backtest_page_shows_the_numbers_the_verdict_and_the_plot(small: Path, tmp_path: Path) -> None:
    out = small / "backtest"
    result = runner.invoke(app, ["backtest", "--config", str(small / "small.yaml"), "--report", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    text, images = render(out / "index.html", tmp_path)
    [trace] = json.loads((out / "results.json").read_text())["traces"]
    for policy in ("reactive", "predictive", "oracle"):
        assert f"{trace['policies'][policy]['gpu_hours']:,.1f}" in text, policy  # the headline numbers
    verdict = next(line for line in result.stdout.splitlines() if line.startswith("verdict: "))
    assert "Verdict: " + verdict.removeprefix("verdict: ") in text
    assert "GPU-h ↓" in text and "under-provisioned, % of minutes ↓" in text
    assert_plots_shown(images, [out / "backtest.png"])


def test_the_tune_page(small: Path, tmp_path: Path) -> None:
    out = small / "tune"
    result = runner.invoke(app, ["tune", "--config", str(small / "small.yaml"), "--trace", str(small / "elb3d.csv"),
                                 "--policy", "reactive", "--slo", "underprovisioned_pct<=60", "--split", "0.5",
                                 "--jobs", "1", "--report", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    text, images = render(out / "index.html", tmp_path)
    saved = json.loads((out / "results.json").read_text())
    assert f"{saved['report_scores']['gpu_hours']:,.3f}" in text
    assert "Verdict: " + saved["verdict"] in text
    assert_plots_shown(images, [out / "tune.png"])


def test_the_sweep_page_shows_both_frontier_tables_and_both_plots(small: Path, tmp_path: Path) -> None:
    out = small / "sweep"
    result = runner.invoke(app, ["backtest", "--config", str(small / "small.yaml"), "--sweep", "--jobs", "2",
                                 "--levels", "20,40", "--report", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    text, images = render(out / "index.html", tmp_path)
    verdicts = [line.removeprefix("verdict: ") for line in result.stdout.splitlines() if line.startswith("verdict: ")]
    assert len(verdicts) == 3  # the policies' table, the frontiers, GPU-hours at matched SLO
    assert all("Verdict: " + v in text for v in verdicts)
    [trace] = json.loads((out / "results.json").read_text())["traces"]
    cheapest = min(p["gpu_hours"] for p in trace["frontier"]["predictive"])
    assert f"{cheapest:,.1f}" in text
    assert_plots_shown(images, [out / "backtest.png", out / "frontier.png"])
