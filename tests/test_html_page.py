"""The static HTML leaderboard: every track's tables, plots and artifact images, checked in headless Chromium."""

from __future__ import annotations

import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imsave
from test_aggregate import REPLACE, TRACK, write_group

from collapsebench.publish.leaderboard import write_leaderboards

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Leaderboards of two tracks (``toy`` with sample-grid artifacts, ``other``), written with plots."""
    tmp_path = tmp_path_factory.mktemp("html")
    results = tmp_path / "results"
    write_group(results, REPLACE)
    write_group(results, REPLACE, mitigation="accumulate", config_hash="cccccccccc")
    write_group(results, REPLACE, model="vae", config_hash="dddddddddd")
    other = tmp_path / "other"
    write_group(other, REPLACE)
    shutil.copytree(other / TRACK, results / "other")
    for spec in (results / "other").rglob("run_spec.json"):
        spec.write_text(spec.read_text().replace('"track": "toy"', '"track": "other"'))
    artifacts = results / TRACK / "gauss__replace__aaaaaaaaaa" / "seed-0" / "artifacts"
    artifacts.mkdir()
    for generation in (0, 3):
        imsave(artifacts / f"g{generation:05d}_grid.png", np.random.default_rng(generation).random((16, 16, 3)))
    out = tmp_path / "boards"
    write_leaderboards(results, out)
    return out


class _Page(HTMLParser):
    """The tables (track, kind, body rows) and image sources of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list] = []
        self.images: list[str] = []
        self._in_body = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table":
            self.tables.append([a["data-track"], a["data-table"], 0])
        elif tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body:
            self.tables[-1][2] += 1
        elif tag == "img":
            self.images.append(str(a["src"]))

    def handle_endtag(self, tag: str) -> None:
        if tag == "tbody":
            self._in_body = False


def _parse(board: Path) -> _Page:
    page = _Page()
    page.feed((board / "index.html").read_text())
    return page


def test_the_page_has_every_track_table_plot_and_sample_grid(board: Path) -> None:
    page = _parse(board)
    assert sorted(page.tables) == sorted([
        ["all", "summary", 4], ["other", "families", 4], ["other", "headline", 1], ["other", "versus", 0],
        [TRACK, "families", 12], [TRACK, "headline", 3], [TRACK, "versus", 4],
    ])
    plots = [f"plots/{t}/{m}__{f}.png" for t, models in ((TRACK, ("gauss", "vae")), ("other", ("gauss",)))
             for m in models for f in ("fidelity", "tails", "diversity", "drift")]
    grids = [f"../results/{TRACK}/gauss__replace__aaaaaaaaaa/seed-0/artifacts/g0000{g}_grid.png" for g in (0, 3)]
    assert sorted(page.images) == sorted(plots + grids)
    assert all((board / src).resolve().is_file() for src in page.images)
    text = (board / "index.html").read_text()
    assert "<h4>grid: gauss replace, seed 0</h4>" in text and "<figcaption>gen 3</figcaption>" in text
    assert str(board.parent) not in text  # relative links only: the page works wherever the tree is copied


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian: apt-get install chromium)")
def test_the_page_loads_in_headless_chromium_without_errors(board: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in collapsebench[test]")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("requestfailed", lambda request: errors.append(f"failed: {request.url}"))
            page.goto((board / "index.html").as_uri(), wait_until="load")
            assert errors == []
            assert page.title() == "collapsebench leaderboard"
            for track, rows in ((TRACK, 3), ("other", 1)):
                table = page.locator(f'table[data-track="{track}"][data-table="headline"]')
                assert table.is_visible() and table.locator("tbody tr").count() == rows
            assert page.locator('table[data-table="summary"] tbody tr').count() == 4
            broken = page.evaluate("[...document.images].filter(i => !i.complete || i.naturalWidth === 0).length")
            assert broken == 0 and page.locator("img").count() == 14

            plot = board / "plots" / TRACK / "vae__drift.png"
            saved = plot.read_bytes()
            plot.unlink()  # the check above can fail: a missing plot is seen
            try:
                page.reload(wait_until="load")
            finally:
                plot.write_bytes(saved)
            assert any("vae__drift.png" in error or "ERR_FILE_NOT_FOUND" in error for error in errors)
        finally:
            browser.close()


def test_population_reports_beside_the_page_are_linked_with_their_plots(tmp_path: Path) -> None:
    results = tmp_path / "results"
    write_group(results, REPLACE)
    out = tmp_path / "boards"
    out.mkdir()
    (out / "population-toy.md").write_text("# Population\n")
    imsave(out / "population-toy.png", np.zeros((4, 4, 3)))
    write_leaderboards(results, out)
    text = (out / "index.html").read_text()
    assert '<section id="populations">' in text and '<a href="#populations">populations</a>' in text
    assert '<a href="population-toy.md">population-toy.md</a>' in text
    assert "population-toy.png" in _parse(out).images
