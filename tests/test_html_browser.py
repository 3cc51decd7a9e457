"""The HTML reports in a real browser: ``rrsim run``, ``rrsim replay`` and ``rrsim compare`` write
them, headless Chromium opens each from disk, and every chart must have drawn, with no console
error; a screenshot of each is saved beside it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from helpers import assert_nothing_left, run_rrsim

pytestmark = pytest.mark.system

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed here (Debian's package "
                                    "`chromium`; .ci/run installs it): the pages cannot be opened in a browser")
# Appended to a copy of a page (the report itself has no script): each figure's chart as laid out.
PROBE = """<script>
document.body.insertAdjacentHTML("beforeend", "<pre id=probe hidden>" + JSON.stringify(
  [...document.querySelectorAll("figure")].map(f => { const svg = f.querySelector("svg");
    const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
    return {width: box.width, height: box.height, drawn: svg ? svg.querySelectorAll("path, use, image, text").length : 0}; }))
  + "</pre>");  // hidden: the same load gives the screenshot, which should show the page alone
</script>"""


@dataclass(frozen=True)
class Rendered:
    charts: list[dict[str, float]]  # each figure's chart: its size on the page and its drawn elements
    console: list[str]  # what the page said on the console
    screenshot: Path


def chromium(*args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr",
                           "--v=0", *args], capture_output=True, text=True, timeout=90, check=True)


def render(page: Path) -> Rendered:
    probe = page.with_suffix(".probe.html")
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    # One load does both: the DOM as the probe left it, and the screenshot.
    shown = chromium("--window-size=1280,2400", "--dump-dom", f"--screenshot={page.with_suffix('.png')}", probe.as_uri())
    found = re.search(r'<pre id="probe" hidden="">(.*?)</pre>', shown.stdout, flags=re.S)
    assert found, f"the probe did not run in {page.name}: {shown.stderr[-800:]}"
    console = [line for line in shown.stderr.splitlines() if ":CONSOLE" in line]
    return Rendered(json.loads(found.group(1)), console, page.with_suffix(".png"))


def assert_drawn(page: Path, least_charts: int) -> None:
    rendered = render(page)
    assert rendered.console == [], f"{page.name} said on the console: {rendered.console}"
    assert len(rendered.charts) >= least_charts, rendered.charts
    assert len(rendered.charts) == page.read_text(encoding="utf-8").count("<figure>")
    for chart in rendered.charts:
        assert chart["width"] > 200 and chart["height"] > 50 and chart["drawn"] > 10, f"{page.name}: {chart}"
    picture = Image.open(rendered.screenshot)
    assert picture.size == (1280, 2400)
    assert len(picture.convert("RGB").getcolors(maxcolors=1 << 20) or ()) > 50  # not a blank page


@needs_chromium
def test_console_errors_are_caught(tmp_path: Path) -> None:
    """The check itself: a page whose script fails is seen failing."""
    page = tmp_path / "broken.html"
    page.write_text("<html><body><figure><svg width=300 height=100></svg></figure>"
                    "<script>notAFunction();</script></body></html>")
    assert any("notAFunction" in line for line in render(page).console)


@needs_chromium
def test_run_replay_and_compare_reports_draw_in_a_browser(tmp_path: Path) -> None:
    run = run_rrsim("run", "seed", "--rate", "50", "--html", "run.html", "--events", "run.jsonl", tmp=tmp_path)
    assert run.returncode == 0, run.stderr
    replay = run_rrsim("replay", "run.jsonl", "--html", "replay.html", tmp=tmp_path)
    assert replay.returncode == 0, replay.stderr
    compare = run_rrsim("compare", "seed", "--rate", "50", "--vary", "workers=2,3", "--html", "compare.html",
                        tmp=tmp_path)
    assert compare.returncode == 0, compare.stderr
    assert_nothing_left(tmp_path)
    # timeline, received, share, queue, wait, sojourn, message map (a timeline: no theory)
    assert_drawn(tmp_path / "run.html", least_charts=7)
    assert_drawn(tmp_path / "replay.html", least_charts=7)
    assert_drawn(tmp_path / "compare.html", least_charts=5)  # wait, sojourn, throughput, lost, over time
    assert "replay of run.jsonl" in (tmp_path / "replay.html").read_text(encoding="utf-8")
