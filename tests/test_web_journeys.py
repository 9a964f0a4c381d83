"""The web journeys a crafter does, in real Chromium (headless, driven by Playwright).

Each journey starts from a fresh browser context (no cookie) on one `craftpix serve` app and
checks what is on screen: the chart's cells read back from the canvas (one pixel per cell,
each in its legend color or drawn as empty), the legend's counts, the summary, the form, and
that no error banner, script error, console error or failed request appeared on the way.

Needs the `chromium` executable (Debian's package; `make test` installs it). Without it the
tests are skipped locally and fail under CI=true.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("playwright")
from browser import chromium, serving
from playwright.sync_api import expect, sync_playwright  # noqa: E402

try:
    from synthetic import blocks_photo  # noqa: E402
except ImportError:  # tests/ imported as a package
    from tests.synthetic import blocks_photo  # noqa: E402

TIMEOUT_MS = 90_000  # generous: CI machines are shared; the work itself is ~1 s

# One pixel in each cell (away from the grid lines): drawn in its legend color, or light for an
# empty cell. Returns the counts, and the cells' legend codes as the page holds them.
PROBE = """() => {
  const cv = document.getElementById('chart'), g = cv.getContext('2d');
  const s = cv.width / STATE.width, out = {empty: 0, wrong: 0, drawn: 0, cells: 0};
  const data = g.getImageData(0, 0, cv.width, cv.height).data;
  for (let r = 0; r < STATE.height; r++) for (let c = 0; c < STATE.width; c++) {
    out.cells++;
    const x = Math.floor((c + 0.2) * s), y = Math.floor((r + 0.2) * s), k = 4 * (y * cv.width + x);
    const d = [data[k], data[k + 1], data[k + 2]];
    const p = STATE.palette[STATE.cells[r][c]];
    if (!p) { out.empty++; if (d[0] < 240 || d[1] < 240) out.wrong++; continue; }
    const n = parseInt(p.hex.slice(1), 16);
    const want = [n >> 16, (n >> 8) & 255, n & 255];
    if (want.some((v, i) => Math.abs(v - d[i]) > 3)) out.wrong++; else out.drawn++;
  }
  out.legend = [...document.querySelectorAll('#legend li .count')]
    .reduce((a, el) => a + Number(el.textContent), 0);
  out.width = STATE.width; out.height = STATE.height;
  return out;
}"""

CODES = "() => STATE.cells.map(row => row.map(i => i < 0 ? null : STATE.palette[i].code))"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from craftpix.web import WebSettings, create_app

    work = tmp_path_factory.mktemp("journeys-work")
    app = create_app(WebSettings(work_dir=work, allowed_hosts=("127.0.0.1", "localhost")))
    with serving(app) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    executable = chromium()
    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=executable, headless=True, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


class Watched:
    """A page in a fresh context, with everything that went wrong on it collected."""

    def __init__(self, browser, server: str) -> None:
        self.context = browser.new_context(viewport={"width": 1200, "height": 1400},
                                           accept_downloads=True)
        self.server = server
        self.page = self.context.new_page()
        self.page.set_default_timeout(TIMEOUT_MS)
        self.problems: list[str] = []
        self.page.on("pageerror", lambda exc: self.problems.append(f"script: {exc}"))
        self.page.on("console", lambda m: m.type == "error" and self.problems.append(
            f"console: {m.text}"))
        self.page.on("response", lambda r: r.status >= 400 and self.problems.append(
            f"{r.status} {r.request.method} {r.url}"))

    def open(self) -> None:
        self.page.goto(self.server)
        expect(self.page.locator("#medium option")).to_have_count(4)

    def make(self, photo: Path, **fields: str) -> None:
        """Fill the form fields (id → value), then upload ``photo`` (which makes the pattern)."""
        for key, value in fields.items():
            self.page.fill(f"#{key}", value)
        version = self.version()
        self.page.set_input_files("#photo", str(photo))
        self.wait_version_above(version)

    def version(self) -> int:
        return self.page.evaluate("() => STATE ? STATE.version : -1")

    def wait_version_above(self, version: int) -> None:
        self.page.wait_for_function(f"() => STATE && STATE.version > {version}")
        expect(self.page.locator("#legend li").first).to_be_visible()

    def chart_ok(self) -> dict:
        """The chart as drawn agrees with the pattern, cell by cell, and nothing went wrong."""
        expect(self.page.locator("#error")).to_be_hidden()
        probe = self.page.evaluate(PROBE)
        assert probe["cells"] == probe["width"] * probe["height"]
        assert probe["wrong"] == 0, probe
        assert probe["drawn"] + probe["empty"] == probe["cells"]
        assert probe["legend"] == probe["drawn"], "the legend's counts are the chart's pieces"
        self.clean()
        return probe

    def clean(self) -> None:
        assert self.problems == [], self.problems

    def pick_paint(self, index: int = -1) -> str:
        """Choose a legend color (default: the least used) as the paint color."""
        legend = self.page.locator("#legend li")
        item = legend.nth(index if index >= 0 else legend.count() - 1)
        code = item.get_attribute("data-code")
        item.click()
        self.page.click("#cp-paint")
        return code

    def cell_xy(self, row: float, col: float) -> tuple[float, float]:
        """Where cell (row, col), 0-based, is on the screen (the chart scrolled into view)."""
        self.page.evaluate("() => document.getElementById('chart-wrap').scrollIntoView()")
        box = self.page.locator("#chart").bounding_box()
        assert box is not None
        s = box["width"] / self.page.evaluate("() => STATE.width")
        return box["x"] + (col + 0.5) * s, box["y"] + (row + 0.5) * s

    def close(self) -> None:
        self.context.close()


@pytest.fixture()
def web(browser, server):
    w = Watched(browser, server)
    w.open()
    try:
        yield w
    finally:
        w.close()


# --- ordinary inputs ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("journey-inputs")
    out = {
        "landscape photo": blocks_photo(d / "landscape.jpg", (48, 80), [0.3, 0.55, 0.85],
                                        [(slice(20, 44), slice(10, 40), [0.9, 0.8, 0.2])],
                                        noise=0.03, seed=3, quality=90),
    }
    # a phone's portrait photo: stored sideways (80 rows × 120 columns) with EXIF orientation 6
    # (turn 90° clockwise to show it), so it is 80 wide and 120 tall as the crafter sees it
    upright = blocks_photo(d / "upright.png", (120, 80), [0.85, 0.8, 0.7],
                           [(slice(20, 70), slice(15, 65), [0.7, 0.2, 0.2]),
                            (slice(70, 110), slice(30, 50), [0.2, 0.4, 0.2])], noise=0.05, seed=4)
    exif = Image.Exif()
    exif[0x0112] = 6
    with Image.open(upright) as im:
        im.transpose(Image.Transpose.ROTATE_90).save(d / "portrait.jpg", quality=85,
                                                     exif=exif.tobytes())
    out["portrait photo"] = d / "portrait.jpg"
    # a transparent PNG: a red disc and a blue square on nothing
    yy, xx = np.mgrid[0:64, 0:64]
    rgba = np.zeros((64, 64, 4), np.uint8)
    disc = (yy - 24) ** 2 + (xx - 24) ** 2 < 16 ** 2
    rgba[disc] = (220, 30, 30, 255)
    rgba[40:60, 36:60] = (30, 60, 200, 255)
    Image.fromarray(rgba, "RGBA").save(d / "logo.png")
    out["transparent PNG"] = d / "logo.png"
    # a JPEG logo: flat shapes on white, with the JPEG's ringing
    logo = np.full((60, 90, 3), 255, np.uint8)
    logo[10:50, 8:40] = (200, 20, 40)
    logo[20:40, 50:85] = (20, 20, 20)
    Image.fromarray(logo).save(d / "logo.jpg", quality=80)
    out["JPEG logo"] = d / "logo.jpg"
    # an 8× sprite: 16×12 pixel art of four colors on a transparent background, scaled ×8
    rng = np.random.default_rng(8)
    art = np.zeros((12, 16, 4), np.uint8)
    colors = np.array([(250, 200, 40, 255), (40, 40, 40, 255), (230, 90, 30, 255),
                       (255, 255, 255, 255)], np.uint8)
    body = np.zeros((12, 16), bool)
    body[2:10, 3:13] = True
    art[body] = colors[rng.integers(0, 4, int(body.sum()))]
    sprite = np.repeat(np.repeat(art, 8, axis=0), 8, axis=1)
    Image.fromarray(sprite, "RGBA").save(d / "sprite.png")
    out["8x sprite"] = d / "sprite.png"
    return out


@pytest.mark.parametrize("name", ["landscape photo", "portrait photo", "transparent PNG",
                                  "JPEG logo", "8x sprite"])
def test_ordinary_inputs_at_the_defaults_show_chart_legend_and_counts(web, inputs, name):
    web.make(inputs[name])
    probe = web.chart_ok()
    assert (probe["width"], probe["height"]) == (48, 48)  # the form's default size
    expect(web.page.locator("#summary")).to_contain_text("48×48 fuse beads")
    expect(web.page.locator("#summary")).to_contain_text(f"{probe['drawn']} beads")
    lines = web.page.inner_text("#summary").splitlines()  # one line, ending with the size;
    assert len(lines) == 1 and lines[0].endswith(" cm"), lines  # each color's source folded
    stands = web.page.locator("#stands-for-list li").all_text_contents()
    assert len(stands) == web.page.locator("#legend li").count(), stands
    assert all(" for #" in line for line in stands), stands
    if name in ("landscape photo", "portrait photo", "transparent PNG", "8x sprite"):
        assert probe["empty"] > 0, "padding or transparency leaves empty cells"
    assert probe["drawn"] > 0
    codes = web.page.evaluate(CODES)
    if name == "portrait photo":  # upright: padded left and right, not above and below
        assert all(row[0] is None and row[-1] is None for row in codes)
        assert None not in codes[0][10:38] and None not in codes[-1][10:38]
    if name == "landscape photo":
        assert codes[0] == [None] * 48 and codes[-1] == [None] * 48


# --- 1. paint by dragging -------------------------------------------------------------------------
def test_paint_by_dragging_is_one_undo_step(web, inputs):
    web.make(inputs["JPEG logo"], width="16", height="16")
    before = web.page.evaluate(CODES)
    code = web.pick_paint()
    row = next(r for r in range(16) if sum(c != code for c in before[r]) >= 8)
    x0, y = web.cell_xy(row, 0)
    x1, _ = web.cell_xy(row, 15)
    version = web.version()
    page = web.page
    page.mouse.move(x0, y)
    page.mouse.down()
    page.mouse.move(x1, y, steps=5)  # fast: the cells between the move events count too
    page.mouse.up()
    web.wait_version_above(version)
    after = page.evaluate(CODES)
    assert after[row] == [code] * 16
    assert [r for r in range(16) if after[r] != before[r]] == [row]
    expect(page.locator("#edits")).to_contain_text(f"set {row + 1},1={code}")
    web.chart_ok()
    # one stroke, one step: a single Undo brings the whole row back, and there is no other
    page.click("#undo")
    page.wait_for_function(f"() => STATE.version > {version + 1}")
    assert page.evaluate(CODES) == before
    expect(page.locator("#undo")).to_be_disabled()
    web.chart_ok()


# --- 2. everything on screen follows every edit ----------------------------------------------------
def test_convert_updates_summary_catalog_box_and_legend(web, inputs, server):
    web.make(inputs["JPEG logo"], width="16", height="16")
    page = web.page
    expect(page.locator("#brand")).to_have_value("perler")
    version = web.version()
    page.select_option("#convert", "hama")
    web.wait_version_above(version)
    n = page.locator("#legend li").count()
    expect(page.locator("#summary")).to_contain_text(f"{n} hama color")
    expect(page.locator("#brand")).to_have_value("hama")  # the Catalog box says hama too
    expect(page.locator("#convert")).to_have_value("hama")
    hama = set(page.evaluate("() => fetch('/api/catalog?brand=hama').then(r => r.json())"
                             ".then(d => d.colors.map(c => c.code))"))
    codes = page.locator("#legend li").evaluate_all("ls => ls.map(l => l.dataset.code)")
    assert set(codes) <= hama
    web.chart_ok()
    # an edit after the conversion: the count in the summary follows it
    code = web.pick_paint(0)
    target = next((r, c) for r, line in enumerate(page.evaluate(CODES))
                  for c, v in enumerate(line) if v is not None and v != code)
    version = web.version()
    page.mouse.click(*web.cell_xy(*target))
    web.wait_version_above(version)
    count = page.evaluate(f"() => STATE.palette.find(p => p.code === '{code}').count")
    expect(page.locator(f"#legend li[data-code='{code}'] .count")).to_have_text(str(count))
    # undo twice: perler again, in the summary and the Catalog box
    for _ in range(2):
        version = web.version()
        page.click("#undo")
        page.wait_for_function(f"() => STATE.version > {version}")
    expect(page.locator("#summary")).to_contain_text("perler color")
    expect(page.locator("#brand")).to_have_value("perler")
    web.chart_ok()


# --- 3. never lose work ------------------------------------------------------------------------------
def test_a_remake_is_one_undoable_step(web, inputs):
    web.make(inputs["portrait photo"], width="16", height="16")
    page = web.page
    legend = page.locator("#legend li")
    old = legend.first.get_attribute("data-code")
    used = set(legend.evaluate_all("ls => ls.map(l => l.dataset.code)"))
    legend.first.click()
    expect(page.locator("#cp-grid button").first).to_be_visible()
    new = next(c for c in page.locator("#cp-grid button").evaluate_all(
        "bs => bs.map(b => b.dataset.code)") if c not in used)
    version = web.version()
    page.click(f"#cp-grid button[data-code='{new}']")
    web.wait_version_above(version)
    edited = page.evaluate(CODES)
    expect(page.locator("#edits")).to_contain_text(f"replace {old}={new}")
    # change a setting: the pattern is made again ...
    version = web.version()
    page.fill("#seed", "7")
    page.locator("#seed").dispatch_event("change")
    web.wait_version_above(version)
    expect(page.locator("#edits")).to_have_text("")
    expect(page.locator("#undo")).to_be_enabled()
    # ... and Undo brings the edited pattern back, with the form it was made from
    version = web.version()
    page.click("#undo")
    page.wait_for_function(f"() => STATE.version > {version}")
    assert page.evaluate(CODES) == edited
    expect(page.locator("#edits")).to_contain_text(f"replace {old}={new}")
    expect(page.locator("#seed")).to_have_value("0")
    version = web.version()
    page.click("#redo")
    page.wait_for_function(f"() => STATE.version > {version}")
    expect(page.locator("#seed")).to_have_value("7")
    web.chart_ok()


def test_fresh_load_logs_nothing_and_a_reload_keeps_the_work(web, inputs):
    page = web.page
    statuses: list[int] = []
    page.on("response", lambda r: "/api/pattern" in r.url and statuses.append(r.status))
    page.reload()
    expect(page.locator("#medium option")).to_have_count(4)
    page.wait_for_function("() => document.readyState === 'complete'")
    page.wait_for_timeout(200)
    assert statuses and all(s == 204 for s in statuses), statuses  # no pattern yet: no error
    expect(page.locator("#result")).to_be_hidden()
    web.clean()
    web.make(inputs["landscape photo"], width="30", height="20")
    cells = page.evaluate(CODES)
    page.reload()
    expect(page.locator("#legend li").first).to_be_visible()
    assert page.evaluate(CODES) == cells
    expect(page.locator("#width")).to_have_value("30")
    expect(page.locator("#height")).to_have_value("20")
    web.chart_ok()


# --- 4. save and reopen ----------------------------------------------------------------------------
def test_save_the_zip_and_reopen_it_in_a_new_session(web, browser, server, inputs, tmp_path):
    page = web.page
    page.select_option("#medium", "stitch")
    page.click("details summary:has-text('Printing and boards')")
    page.select_option("#fabric-count", "16")
    web.make(inputs["JPEG logo"], width="20", height="14")
    code = web.pick_paint()
    version = web.version()
    page.mouse.click(*web.cell_xy(0, 0))
    web.wait_version_above(version)
    saved = page.evaluate(CODES)
    page.click("#files-btn")
    zlink = page.locator("#files a", has_text="all.zip")
    with page.expect_download() as info:
        zlink.click()
    archive = tmp_path / "craftpix-pattern.zip"
    info.value.save_as(archive)
    with zipfile.ZipFile(archive) as zf:
        stored = json.loads(zf.read("pattern.json"))
    assert stored["settings"]["fabric_count"] == 16
    web.clean()

    other = Watched(browser, server)  # a new browser session: no cookie, nothing on the server
    try:
        other.open()
        p2 = other.page
        p2.set_input_files("#open-file", str(archive))
        other.wait_version_above(-1)
        assert p2.evaluate(CODES) == saved
        expect(p2.locator("#medium")).to_have_value("stitch")
        expect(p2.locator("#fabric-count")).to_have_value("16")
        expect(p2.locator("#width")).to_have_value("20")
        expect(p2.locator("#height")).to_have_value("14")
        expect(p2.locator("#summary")).to_contain_text("20×14 cross-stitch")
        expect(p2.locator("#edits")).to_contain_text(f"set 1,1={code}")
        other.chart_ok()
        # carry on editing: a stroke, then Undo takes back exactly that
        paint = other.pick_paint(0)
        version = other.version()
        p2.mouse.click(*other.cell_xy(13, 19))
        other.wait_version_above(version)
        if saved[13][19] != paint:
            assert p2.evaluate(CODES)[13][19] == paint
        # the pattern.json itself opens too (one more undoable step)
        pj = tmp_path / "pattern.json"
        pj.write_text(json.dumps(stored))
        version = other.version()
        p2.set_input_files("#open-file", str(pj))
        other.wait_version_above(version)
        assert p2.evaluate(CODES) == saved
        expect(p2.locator("#undo")).to_be_enabled()
        other.chart_ok()
        # a zip without a pattern.json: one line, nothing lost
        empty = io.BytesIO()
        with zipfile.ZipFile(empty, "w") as zf:
            zf.writestr("notes.txt", "hello")
        p2.set_input_files("#open-file", files=[{"name": "x.zip", "mimeType": "application/zip",
                                                 "buffer": empty.getvalue()}])
        expect(p2.locator("#error")).to_contain_text("the zip file has no pattern.json")
        assert p2.evaluate(CODES) == saved
        other.problems.clear()  # the refused upload is a 400 by design
    finally:
        other.close()


# --- 5. the form -------------------------------------------------------------------------------------
def test_the_form_shows_each_crafts_options_only(web):
    page = web.page
    page.click("details summary:has-text('Printing and boards')")
    shown = {
        "beads": {"#section"},
        "bricks": {"#section", "#part", "#merge"},
        "stitch": {"#fabric-count", "#strands", "#formats", "#hoop"},
        "diamond": {"#drill"},
    }
    every = set().union(*shown.values())
    for medium, visible in shown.items():
        page.select_option("#medium", medium)
        for sel in every:
            if sel in visible:
                expect(page.locator(sel)).to_be_visible()
            else:
                expect(page.locator(sel)).to_be_hidden()
    web.clean()


def test_an_empty_height_follows_the_photo(web, inputs):
    page = web.page
    page.fill("#height", "")
    expect(page.locator("#finished")).to_have_text("the height follows the photo")
    web.make(inputs["landscape photo"], width="40")
    probe = web.chart_ok()
    assert (probe["width"], probe["height"]) == (40, 24)  # 80×48 px: 40 wide, 24 tall
    assert probe["empty"] == 0  # nothing padded
    expect(page.locator("#height")).to_have_value("")
    # a padded photo at both sides given: each note is one item of a list
    web.make(inputs["landscape photo"], width="48", height="48")
    notes = page.locator("#notes li").all_text_contents()
    assert len(notes) >= 2 and all(t.strip() for t in notes), notes
    assert not [t for t in notes if "--" in t], "the page's notes speak of its form, not flags"
    wide = next(t for t in notes if t.startswith("the image is wider than 48x48"))
    assert 'Fit "crop" fills the grid' in wide
    assert "Width 48 with Height left empty keeps the image's shape" in wide
    assert any(t.startswith("chose ") and "fill in Colors to set the number" in t for t in notes)
    web.clean()


def test_the_symbol_O_is_a_round_ring_not_a_zero(web, inputs):
    page = web.page
    web.make(inputs["portrait photo"], width="12", height="12", colors="4")
    symbols = page.evaluate("() => STATE.palette.map(p => p.symbol)")
    assert "O" in symbols, symbols  # the third glyph of the set; 4 colors use it
    page.evaluate("() => setZoom(40)")
    legend_font = page.locator("#legend .sym").first.evaluate("e => getComputedStyle(e).fontFamily")
    assert "mono" not in legend_font.lower()
    ring = page.evaluate("""() => {
      const cv = document.getElementById('chart'), g = cv.getContext('2d');
      const s = cv.width / STATE.width, i = STATE.palette.findIndex(p => p.symbol === 'O');
      for (let r = 0; r < STATE.height; r++) for (let c = 0; c < STATE.width; c++) {
        if (STATE.cells[r][c] !== i) continue;
        const x0 = Math.round(c * s) + 3, y0 = Math.round(r * s) + 3, n = Math.floor(s) - 6;
        const d = g.getImageData(x0, y0, n, n).data;
        const fill = [d[0], d[1], d[2]];
        let minx = n, maxx = -1, miny = n, maxy = -1;
        for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) {
          const k = 4 * (y * n + x);
          if (Math.abs(d[k] - fill[0]) + Math.abs(d[k + 1] - fill[1]) + Math.abs(d[k + 2] - fill[2]) < 120) continue;
          minx = Math.min(minx, x); maxx = Math.max(maxx, x); miny = Math.min(miny, y); maxy = Math.max(maxy, y);
        }
        const k = 4 * (Math.floor(n / 2) * n + Math.floor(n / 2));
        const hollow = Math.abs(d[k] - fill[0]) + Math.abs(d[k + 1] - fill[1]) + Math.abs(d[k + 2] - fill[2]) < 120;
        return {w: maxx - minx + 1, h: maxy - miny + 1, hollow};
      }
      return null;
    }""")
    assert ring is not None
    assert ring["hollow"] and ring["h"] > 8
    assert 0.85 <= ring["w"] / ring["h"] <= 1.15, ring  # round, not a narrow zero
    web.chart_ok()


# --- 6. chart numbers are design rows and columns ----------------------------------------------------
def test_chart_numbers_and_web_edits_count_design_rows_and_columns(web, inputs, tmp_path):
    from click.testing import CliRunner

    from craftpix.cli import main
    from craftpix.pattern import Pattern

    page = web.page
    web.make(inputs["JPEG logo"], width="24", height="24")
    before = Pattern.from_json(page.evaluate("() => fetch('/api/files').then(r => r.json())"
                                             ".then(() => fetch('/api/files/pattern.json'))"
                                             ".then(r => r.text())"))
    # the top ruler has its numbers at the bold lines every ten: ink at column 10's line
    ink = page.evaluate("""() => {
      const cv = document.getElementById('ruler-top'), g = cv.getContext('2d');
      const s = cv.width / STATE.width, at = (x) => {
        const d = g.getImageData(Math.max(0, Math.round(x - s)), 0, Math.round(2 * s), cv.height).data;
        let n = 0; for (let k = 0; k < d.length; k += 4) if (d[k + 3] > 0 && d[k] < 128) n++; return n; };
      return {ten: at(10 * s), twenty: at(20 * s), five: at(5 * s), width: cv.width, chart: document.getElementById('chart').width};
    }""")
    assert ink["width"] == ink["chart"] and ink["ten"] > 0 and ink["twenty"] > 0 and ink["five"] == 0
    # look at the cell at design row 10, column 10: the page names it so ...
    page.check("#tool-look")
    page.mouse.click(*web.cell_xy(9, 9))
    expect(page.locator("#cell-info")).to_contain_text("row 10, column 10")
    # ... and painting it is `craftpix edit --set 10,10=CODE`, cell for cell
    code = next(c.code for c in before.palette if c.code != before.palette[before.cells[9, 9]].code)
    page.locator(f"#legend li[data-code='{code}']").click()
    page.click("#cp-paint")
    version = web.version()
    page.mouse.click(*web.cell_xy(9, 9))
    web.wait_version_above(version)
    expect(page.locator("#edits")).to_contain_text(f"set 10,10={code}")
    pj = tmp_path / "pattern.json"
    pj.write_text(before.to_json())
    run = CliRunner().invoke(main, ["edit", str(pj), "--set", f"10,10={code}", "--out",
                                    str(tmp_path / "edited")])
    assert run.exit_code == 0, run.output
    cli = Pattern.load(tmp_path / "edited" / "pattern.json")
    want = [[None if i < 0 else cli.palette[i].code for i in row] for row in cli.cells.tolist()]
    assert page.evaluate(CODES) == want
    web.chart_ok()


def test_a_stroke_is_set_cell_cell_by_cell():
    """The one-step stroke gives what ``craftpix edit --set`` gives cell by cell (the same
    color in every cell, the same symbols and edit list; only the palette's order may
    differ), including strokes that empty cells, and refuses what set_cell refuses."""
    from craftpix import edit
    from craftpix.errors import InputError
    from craftpix.pattern import Color, Pattern
    from craftpix.web.forms import paint_stroke

    rng = np.random.default_rng(11)
    pal = [Color(f"C{i}", f"c{i}", f"#{i * 40000 + 5:06x}") for i in range(6)]

    def view(q):
        return ([[None if i < 0 else q.palette[i].code for i in r] for r in q.cells.tolist()],
                {c.code: c.symbol for c in q.palette}, q.meta)

    changed = 0
    for _ in range(150):
        h, w = (int(v) for v in rng.integers(2, 9, 2))
        p = Pattern(rng.integers(-1, 6, (h, w)), pal, "beads", "perler").compact()
        codes = [c.code for c in p.palette] + [None]
        code = codes[int(rng.integers(len(codes)))]
        cells = [(int(rng.integers(h)), int(rng.integers(w))) for _ in range(rng.integers(1, 30))]
        ref, seen = p, set()
        try:
            for rc in cells:
                here = ref.cells[rc]
                if rc in seen or (code is None and here < 0) or (
                        here >= 0 and ref.palette[here].code == code):
                    seen.add(rc)
                    continue
                seen.add(rc)
                ref = edit.set_cell(ref, *rc, code)
        except InputError:
            ref = p
        if ref is p:
            with pytest.raises(InputError):
                paint_stroke(p, cells, code, None)
            continue
        assert view(paint_stroke(p, cells, code, None)) == view(ref)
        changed += 1
    assert changed > 100
    with pytest.raises(InputError, match="outside the"):
        paint_stroke(p, [(0, 0), (h, 0)], code, None)


def test_each_layer_words_the_same_note(inputs, tmp_path):
    """One structured note: the command line names its flags, the page its form's fields."""
    from click.testing import CliRunner

    from craftpix.cli import main
    from craftpix.notes import Note
    from craftpix.web.views import web_notes

    run = CliRunner().invoke(main, ["beads", "--image", str(inputs["landscape photo"]),
                                    "--size", "48x48", "--out", str(tmp_path / "out"),
                                    "--no-pdf"])
    assert run.exit_code == 0, run.output
    assert ("(--fit crop fills the grid; --size 48x keeps the image's shape)" in run.output)
    assert "(--colors N to set the number)" in run.output
    from craftpix.notes import Hint

    note = Note("the image is only 8x8 pixels", [Hint("size", "8x", "gives one cell per pixel"),
                                                 Hint("background", "COLOR", "fills it")])
    assert note == ("the image is only 8x8 pixels (--size 8x gives one cell per pixel; "
                    "--background COLOR fills it)")
    assert web_notes([note, "a plain note"]) == [
        "the image is only 8x8 pixels (Width 8 with Height left empty gives one cell per pixel)",
        "a plain note"]  # the page has no background field: that hint is left out


# --- issue 24's tester, round 2 --------------------------------------------------------------------
def _saved_pattern(page) -> dict:
    """The current pattern's pattern.json, as the page's download gives it."""
    return json.loads(page.evaluate("() => fetch('/api/files').then(r => r.json())"
                                    ".then(() => fetch('/api/files/pattern.json'))"
                                    ".then(r => r.text())"))


def _open_saved(w: Watched, stored: dict, name: str = "pattern.json") -> None:
    version = w.version()
    w.page.set_input_files("#open-file", files=[{
        "name": name, "mimeType": "application/json",
        "buffer": json.dumps(stored).encode()}])
    w.wait_version_above(version)


def test_reopening_restores_exactly_the_settings_it_was_made_with(web, browser, server, inputs):
    page = web.page
    page.fill("#smooth", "1.5")
    web.make(inputs["landscape photo"], width="30", height="20", colors="6", seed="5")
    expect(page.locator("#fit")).to_have_value("pad")
    stored = _saved_pattern(page)
    made = stored["meta"]["made_with"]
    assert {k: made[k] for k in ("fit", "smooth", "dither", "colors", "seed")} == {
        "fit": "pad", "smooth": 1.5, "dither": False, "colors": 6, "seed": 5}
    web.clean()
    other = Watched(browser, server)
    try:
        other.open()
        p2 = other.page
        _open_saved(other, stored)
        for sel, want in (("#fit", "pad"), ("#smooth", "1.5"), ("#colors", "6"), ("#seed", "5"),
                          ("#width", "30"), ("#height", "20")):
            expect(p2.locator(sel)).to_have_value(want)
        expect(p2.locator("#dither")).not_to_be_checked()
        # a file that does not say how it was made: the form's defaults, never another value
        del stored["meta"]["made_with"]
        stored["meta"].pop("seed", None)
        _open_saved(other, stored)
        for sel, want in (("#fit", "pad"), ("#smooth", "1"), ("#colors", ""), ("#seed", "0")):
            expect(p2.locator(sel)).to_have_value(want)
        other.chart_ok()
    finally:
        other.close()


def test_the_command_lines_pattern_json_keeps_its_make_settings(inputs, tmp_path):
    from click.testing import CliRunner

    from craftpix.cli import main
    from craftpix.pattern import Pattern
    from craftpix.web.routes.uploads import form_from_pattern

    run = CliRunner().invoke(main, ["beads", "--image", str(inputs["landscape photo"]),
                                    "--size", "24x", "--fit", "crop", "--smooth", "2",
                                    "--colors", "5", "--seed", "9", "--dither", "--out",
                                    str(tmp_path / "out"), "--no-pdf"])
    assert run.exit_code == 0, run.output
    pattern = Pattern.load(tmp_path / "out" / "pattern.json")
    made = pattern.meta["made_with"]
    assert made["size"] == "24x" and made["fit"] == "crop" and made["smooth"] == 2.0
    assert made["colors"] == 5 and made["seed"] == 9 and made["dither"] is True
    form = form_from_pattern(pattern)
    assert (form["width"], form["height"], form["fit"], form["smooth"], form["colors"],
            form["seed"], form["dither"]) == (24, None, "crop", 2.0, 5, 9, True)


def test_a_reopened_pattern_without_its_photo_says_a_remake_needs_it(web, browser, server,
                                                                     inputs):
    web.make(inputs["JPEG logo"], width="16", height="16")
    stored = _saved_pattern(web.page)
    other = Watched(browser, server)  # a new session: the pattern, but no photo
    try:
        other.open()
        p2 = other.page
        _open_saved(other, stored)
        expect(p2.locator("#remake-note")).to_be_hidden()
        version = other.version()
        p2.fill("#seed", "7")
        p2.locator("#seed").dispatch_event("change")
        note = p2.locator("#remake-note")
        expect(note).to_be_visible()
        expect(note).to_contain_text("pick the photo again to remake it; edits, convert and "
                                     "export work on the opened pattern")
        p2.wait_for_timeout(700)  # past the page's wait before a remake
        assert other.version() == version  # nothing was made, and the page said why
        p2.click("#make-btn")
        expect(note).to_be_visible()
        expect(p2.locator("#error")).to_be_hidden()
        other.make(inputs["JPEG logo"])  # the photo again: the note goes, the remake happens
        expect(note).to_be_hidden()
        other.chart_ok()
    finally:
        other.close()


def test_replace_and_convert_on_the_page_keep_the_printed_chart_readable(web, inputs):
    page = web.page
    web.make(inputs["JPEG logo"], width="16", height="16")
    symbols = "() => Object.fromEntries(STATE.palette.map(p => [p.code, p.symbol]))"
    before = page.evaluate(symbols)
    old = page.locator("#legend li").last.get_attribute("data-code")  # the least used
    page.locator("#legend li").last.click()
    expect(page.locator("#cp-grid button").first).to_be_visible()
    new = next(c for c in page.locator("#cp-grid button").evaluate_all(
        "bs => bs.map(b => b.dataset.code)") if c not in before)
    version = web.version()
    page.click(f"#cp-grid button[data-code='{new}']")
    web.wait_version_above(version)
    after = page.evaluate(symbols)
    assert after[new] == before[old]  # the new color takes the symbol of the one it replaced
    assert {k: v for k, v in after.items() if k != new} == {
        k: v for k, v in before.items() if k != old}
    cells = page.evaluate("() => STATE.cells.map(r => r.map(i => i < 0 ? null : "
                          "STATE.palette[i].symbol))")
    version = web.version()
    page.select_option("#convert", "hama")
    web.wait_version_above(version)
    assert page.evaluate("() => STATE.cells.map(r => r.map(i => i < 0 ? null : "
                         "STATE.palette[i].symbol))") == cells  # one color per color
    web.chart_ok()


def test_convert_says_how_far_the_colors_moved_and_edits_keep_the_mean_delta_e(web, inputs):
    import re

    page = web.page
    web.make(inputs["JPEG logo"], width="16", height="16")
    made = re.search(r"mean ΔE00 (\d+\.\d\d)", page.inner_text("#summary"))
    assert made, page.inner_text("#summary")
    code = web.pick_paint()
    target = next((r, c) for r, line in enumerate(page.evaluate(CODES))
                  for c, v in enumerate(line) if v is not None and v != code)
    version = web.version()
    page.mouse.click(*web.cell_xy(*target))
    web.wait_version_above(version)
    expect(page.locator("#summary")).to_contain_text(f"mean ΔE00 {made.group(1)} as made")
    version = web.version()
    page.select_option("#convert", "hama")
    web.wait_version_above(version)
    moved = _saved_pattern(page)["meta"]["convert_delta_e00_mean"]
    expect(page.locator("#notes")).to_contain_text(
        f"Converted to hama: mean color change ΔE00 {moved:.2f}")
    expect(page.locator("#summary")).to_contain_text(f"mean ΔE00 {made.group(1)} as made")
    web.chart_ok()


def missing_model_runner(request, conn, preview_every):
    """A prompt job where no model was pulled: the model lookup's own error, from an empty
    cache with downloads off (what a fresh install gives; no model is loaded)."""
    from craftpix.errors import CraftpixError
    from craftpix.models.hub import locate
    from craftpix.models.ids import base_ref

    del preview_every
    os.environ["HF_HUB_CACHE"] = str(Path(request.out) / "empty-cache")
    os.environ["HF_HUB_OFFLINE"] = "1"
    conn.send(("progress", "load", 0.05))
    try:
        locate([base_ref(None)], allow_download=False)
        conn.send(("error", "the model unexpectedly exists"))
    except CraftpixError as exc:
        conn.send(("error", str(exc)))
    finally:
        conn.close()


@pytest.fixture(scope="module")
def no_model_server(tmp_path_factory):
    from craftpix.web import WebSettings, create_app

    work = tmp_path_factory.mktemp("no-model-work")
    app = create_app(WebSettings(work_dir=work, allowed_hosts=("127.0.0.1", "localhost")),
                     runner=missing_model_runner)
    with serving(app) as url:
        yield url


def test_the_prompt_box_fits_and_a_missing_model_is_said_once_in_plain_words(
        browser, no_model_server):
    w = Watched(browser, no_model_server)
    try:
        w.page.set_viewport_size({"width": 1300, "height": 900})
        w.open()
        page = w.page
        page.click("#prompt-box summary")
        panel = page.locator("#make").bounding_box()
        quality = page.locator("#quality").bounding_box()
        assert panel and quality
        assert quality["x"] + quality["width"] <= panel["x"] + panel["width"], (quality, panel)
        page.fill("#prompt", "a red rose")
        page.click("#job-start")
        msg = page.locator("#job-msg")
        expect(msg).to_contain_text("failed")
        expect(msg).to_contain_text("the diffusion model is not downloaded: run "
                                    "`craftpix models pull --sdxl")
        assert "Hugging Face cache" not in msg.inner_text()  # the detail is folded away
        expect(page.locator("#job-bar")).to_be_hidden()
        expect(page.locator("#error")).to_be_hidden()  # said once: no banner as well
        detail = page.locator("#job-detail")
        expect(detail).to_be_visible()
        detail.locator("summary").click()
        expect(page.locator("#job-detail-text")).to_contain_text("not in the Hugging Face cache")
        w.clean()
    finally:
        w.close()


def test_what_each_color_stands_for_is_folded_so_the_chart_stays_in_view(web, tmp_path):
    rng = np.random.default_rng(60)  # a busy photo: 60 colors at the form's 48×48
    photo = tmp_path / "busy.png"
    Image.fromarray(rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)).save(photo)
    page = web.page
    web.make(photo, colors="60")
    n = page.locator("#legend li").count()
    assert n >= 40, n
    details = page.locator("#stands-for")
    expect(details).to_be_visible()
    assert details.get_attribute("open") is None  # collapsed
    expect(details.locator("summary")).to_have_text("What each color stands for")
    assert page.locator("#stands-for-list li").count() == n
    assert len(page.inner_text("#summary").splitlines()) == 1
    box = page.locator("#chart").bounding_box()
    assert box is not None and box["y"] < 400, box  # the chart right under the summary
    details.locator("summary").click()
    expect(page.locator("#stands-for-list li").first).to_be_visible()
    first = page.locator("#legend li").first
    assert " — stands for #" in first.locator(".name").get_attribute("title")
    web.chart_ok()


def test_small_things_a_new_user_noticed(web, browser, server, inputs):
    page = web.page
    expect(page.locator(".tagline")).to_contain_text("diamond-painting")
    # the portrait photo's label gives its size as shown (80 wide, 120 tall), not as stored
    web.make(inputs["portrait photo"], width="16", height="16")
    expect(page.locator("#drop-text")).to_contain_text("80×120 px")
    # the cell info is about the pattern on screen: a new pattern clears it
    page.check("#tool-look")
    page.mouse.click(*web.cell_xy(3, 8))
    expect(page.locator("#cell-info")).to_contain_text("row 4, column 9")
    version = web.version()
    page.select_option("#medium", "stitch")
    web.wait_version_above(version)
    expect(page.locator("#cell-info")).not_to_contain_text("row 4")
    # diamond painting: square or round drills, per craft; the finished size follows
    page.click("details summary:has-text('Printing and boards')")
    version = web.version()
    page.select_option("#medium", "diamond")
    web.wait_version_above(version)
    drill = page.locator("#drill")
    expect(drill).to_be_visible()
    assert drill.locator("option").evaluate_all("os => os.map(o => o.value)") == [
        "square", "round"]
    expect(page.locator("#finished")).to_contain_text("finished: 4.0 × 4.0 cm")
    version = web.version()
    page.select_option("#drill", "round")
    web.wait_version_above(version)
    expect(page.locator("#finished")).to_contain_text("finished: 4.5 × 4.5 cm")
    assert page.evaluate("() => STATE.size_mm") == [44.8, 44.8]
    assert _saved_pattern(page)["settings"]["drill"] == "round"
    web.chart_ok()
    # a reopened hama pattern offers plain finishes only, as a make with the box off does
    page.select_option("#medium", "beads")
    page.wait_for_function("() => STATE.medium === 'beads'")
    version = web.version()
    page.select_option("#brand", "hama")
    web.wait_version_above(version)
    page.wait_for_function("() => STATE.brand === 'hama'")
    stored = _saved_pattern(page)
    other = Watched(browser, server)
    try:
        other.open()
        _open_saved(other, stored)
        p2 = other.page
        p2.locator("#legend li").first.click()
        expect(p2.locator("#cp-grid button").first).to_be_visible()
        names = " ".join(p2.locator("#cp-grid button").all_text_contents()).lower()
        for finish in ("transparent", "neon", "fluorescent", "glow", "pearl", "clear"):
            assert finish not in names, finish
        other.clean()
    finally:
        other.close()
    web.clean()


def test_page_notes_name_no_flags():
    from craftpix.flatart import far_note
    from craftpix.web.views import web_notes

    note = far_note({"H01": {"source": "#00FF00", "delta_e00": 40.0}}, {"H01": "White"}, "hama")
    assert note is not None and "--brand" in note  # the command line's words
    (shown,) = web_notes([note])
    assert "--" not in shown
    assert shown.endswith("another brand or your own palette file may show it truer")
