"""The HTML report in a real browser: headless Chromium opens the archived page, the page's
own DOM says whether any script failed and how many charts and marks it drew, and a
screenshot is kept under artifacts/report/ (CI keeps that folder as an artifact).

Without Chromium the test is skipped locally, but fails when CI is set.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest
from tests.helpers import Cli

from qbo_backfill.sandbox import Sandbox

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "report"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    "--virtual-time-budget=5000",
)
CHARTS = ("request-rate", "rows-per-window", "source-vs-loaded")


def chromium() -> str:
    found = next(filter(None, map(shutil.which, ("chromium", "/usr/bin/chromium"))), None)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is required in CI (Debian: apt-get install -y chromium)")
        pytest.skip("chromium is not installed (Debian: apt-get install -y chromium)")
    return found


@dataclass
class PageState:
    """What the page recorded about itself in its DOM after loading."""

    body: dict[str, str] = field(default_factory=dict)
    script_errors: list[str] = field(default_factory=list)
    charts: list[tuple[str, int]] = field(default_factory=list)  # (name, marks drawn)


class _DomReader(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.state = PageState()
        self._in_errors = False
        self._in_error_item = False
        self._chart: tuple[str, int] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "body":
            self.state.body = values
        elif tag == "ul" and values.get("id") == "script-errors":
            self._in_errors = True
        elif tag == "li" and self._in_errors:
            self._in_error_item = True
            self.state.script_errors.append("")
        elif tag == "svg" and "chart" in values.get("class", "").split():
            self._chart = (values.get("data-chart", "?"), 0)
        elif self._chart is not None and "mark" in values.get("class", "").split():
            self._chart = (self._chart[0], self._chart[1] + 1)

    def handle_endtag(self, tag: str) -> None:
        if tag == "ul":
            self._in_errors = False
        elif tag == "li":
            self._in_error_item = False
        elif tag == "svg" and self._chart is not None:
            self.state.charts.append(self._chart)
            self._chart = None

    def handle_data(self, data: str) -> None:
        if self._in_error_item:
            self.state.script_errors[-1] += data


def open_in_chromium(page: Path, profile: Path) -> PageState:
    """Load the page headless and read back its DOM after its scripts ran."""
    result = subprocess.run(
        [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    reader = _DomReader()
    reader.feed(result.stdout)
    return reader.state


def screenshot(page: Path, profile: Path, target: Path) -> tuple[int, int]:
    """A full-width screenshot of the page; its (width, height) in pixels."""
    target.unlink(missing_ok=True)
    result = subprocess.run(
        [
            chromium(),
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            "--window-size=1280,2400",
            f"--screenshot={target}",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    header = target.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def problems(state: PageState, runs: int) -> list[str]:
    """Everything wrong with a loaded report page; empty when it works."""
    found = [f"script error: {e}" for e in state.script_errors]
    if state.body.get("data-ready") != "yes":
        found.append("the page's script did not run to the end")
    if state.body.get("data-script-errors"):
        found.append(f"{state.body['data-script-errors']} script errors recorded")
    expected_charts = 1 + 2 * runs  # the request rate, then two charts per run
    if len(state.charts) != expected_charts:
        found.append(f"{len(state.charts)} charts, expected {expected_charts}")
    if state.body.get("data-charts") != str(expected_charts):
        found.append(f"the page counted {state.body.get('data-charts')} charts")
    missing = [c for c in CHARTS if c not in {name for name, _ in state.charts}]
    empty = [name for name, marks in state.charts if marks == 0]
    found += [f"chart {c} missing" for c in missing] + [f"chart {c} empty" for c in empty]
    return found


@pytest.fixture
def archived_report(cli: Cli, sandbox: Sandbox) -> Path:
    """A real run with a few throttled requests, archived with `report --out`."""
    sandbox.set_faults("429=0.03,seed=5")
    years = ("--start", "2024-01-01", "--end", "2026-01-01", "--chunk-days", "30")
    assert cli.run("backfill", "Customer", "Invoice", *years).returncode == 0
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    archived = cli.run("report", "--out", str(ARTIFACTS))
    assert archived.returncode == 0, archived.stderr
    return ARTIFACTS / "report.html"


@pytest.mark.db
def test_report_opens_in_chromium_without_errors_and_with_its_charts(
    archived_report: Path, tmp_path: Path
) -> None:
    state = open_in_chromium(archived_report, tmp_path / "profile")
    assert problems(state, runs=2) == []
    assert sum(marks for _, marks in state.charts) > 50

    shot = ARTIFACTS / "report.png"
    width, height = screenshot(archived_report, tmp_path / "profile", shot)
    assert (width, height) == (1280, 2400)
    assert shot.stat().st_size > 30_000, "the screenshot looks blank"


@pytest.mark.db
def test_the_browser_check_catches_script_errors_and_missing_charts(
    archived_report: Path, tmp_path: Path
) -> None:
    """The check above can fail: a page with a broken script, and one without charts."""
    page = archived_report.read_text()
    broken = tmp_path / "broken.html"
    broken.write_text(page.replace("</body>", "<script>notDefinedAnywhere();</script></body>"))
    found = problems(open_in_chromium(broken, tmp_path / "profile"), runs=2)
    assert any("notDefinedAnywhere" in p for p in found), found

    chartless = tmp_path / "chartless.html"
    chartless.write_text(re.sub(r"<svg class='chart'.*?</svg>", "", page, flags=re.DOTALL))
    found = problems(open_in_chromium(chartless, tmp_path / "profile"), runs=2)
    assert "chart rows-per-window missing" in found, found
    assert "0 charts, expected 5" in found, found

    halted = tmp_path / "halted.html"
    halted.write_text(page.replace("document.body.setAttribute('data-ready', 'yes');", "x.y;"))
    found = problems(open_in_chromium(halted, tmp_path / "profile"), runs=2)
    assert "the page's script did not run to the end" in found, found


def test_without_chromium_the_test_is_skipped_locally_but_fails_in_ci(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install -y chromium"):
        chromium()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="required in CI"):
        chromium()
