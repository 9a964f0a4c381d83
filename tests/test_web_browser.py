"""End to end in a real browser: Chromium (headless, driven by Playwright) on `craftpix serve`.

Upload a photo, make a pattern, replace a color through the legend, paint a cell, undo, and
download the PDF; the PDF's text must name the replacement color. Screenshots of the main
screens go to build/screenshots/ (or $CRAFTPIX_SCREENSHOTS; set it to docs/screenshots to refresh the README's pictures).

Needs the `chromium` executable (Debian's package; `make test` installs it). Without it the
test is skipped locally and fails under CI=true.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image

pytest.importorskip("playwright")
from browser import chromium, serving
from playwright.sync_api import expect, sync_playwright  # noqa: E402

try:
    from synthetic import blocks_photo  # noqa: E402
except ImportError:  # tests/ imported as a package
    from tests.synthetic import blocks_photo  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHOTS = Path(os.environ.get("CRAFTPIX_SCREENSHOTS", ROOT / "build" / "screenshots"))
TIMEOUT_MS = 90_000  # generous: CI machines are shared; the work itself is ~1 s


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from craftpix.web import WebSettings, create_app

    work = tmp_path_factory.mktemp("web-work")
    app = create_app(WebSettings(work_dir=work, allowed_hosts=("127.0.0.1", "localhost")))
    with serving(app) as url:
        yield url
    assert not [p for p in work.iterdir()], "session folders left behind at shutdown"


@pytest.fixture(scope="module")
def photo(tmp_path_factory) -> Path:
    return blocks_photo(tmp_path_factory.mktemp("web-photo") / "squares.png", (64, 64),
                        [0.92, 0.88, 0.75], [(slice(8, 40), slice(8, 40), [0.8, 0.1, 0.1]),
                                             (slice(30, 58), slice(34, 60), [0.1, 0.3, 0.8])],
                        noise=0.03, seed=5)


def test_photo_to_pdf_in_a_browser(server, photo, tmp_path):
    from pypdf import PdfReader

    executable = chromium()
    expect.set_options(timeout=TIMEOUT_MS)
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, headless=True,
                                     args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 860})
            page.set_default_timeout(TIMEOUT_MS)
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(server)
            expect(page.locator("#medium option")).to_have_count(4)
            page.fill("#width", "16")
            page.fill("#height", "16")
            page.fill("#colors", "4")
            page.set_input_files("#photo", files=[{"name": "notes.png", "mimeType": "image/png",
                                                   "buffer": b"not a picture at all"}])
            expect(page.locator("#error")).to_have_text(
                "the file is not an image craftpix can read (PNG, JPEG, WebP, ...)")
            page.set_input_files("#photo", str(photo))  # uploads, then makes the pattern
            legend = page.locator("#legend li")
            expect(legend.first).to_be_visible()
            expect(page.locator("#summary")).to_contain_text("16×16 fuse beads")
            assert 1 <= legend.count() <= 4
            page.screenshot(path=str(SHOTS / "web-pattern.png"))

            # replace the most used color by a catalog color the pattern does not use
            old = legend.first.get_attribute("data-code")
            used = {legend.nth(i).get_attribute("data-code") for i in range(legend.count())}
            legend.first.click()
            grid = page.locator("#cp-grid button")
            expect(grid.first).to_be_visible()
            new = next(c for c in grid.evaluate_all("bs => bs.map(b => b.dataset.code)")
                       if c not in used)
            page.locator(f"#cp-grid button[data-code='{new}']").click()
            expect(page.locator(f"#legend li[data-code='{new}']")).to_be_visible()
            expect(page.locator(f"#legend li[data-code='{old}']")).to_have_count(0)
            expect(page.locator("#edits")).to_contain_text(f"replace {old}={new}")

            # paint the top-left cell with another legend color, then undo it
            other = page.locator("#legend li").nth(1)
            paint = other.get_attribute("data-code")
            other.click()
            page.click("#cp-paint")
            box = page.locator("#chart").bounding_box()
            assert box is not None
            cell = box["width"] / 16
            first = page.evaluate("() => STATE.palette[STATE.cells[0][0]].code")
            x = cell * 0.5 if first != paint else cell * 15.5
            page.locator("#chart").click(position={"x": x, "y": cell * 0.5})
            expect(page.locator("#edits")).to_contain_text(f"={paint}")
            expect(page.locator("#undo")).to_be_enabled()
            page.click("#undo")
            expect(page.locator("#edits")).not_to_contain_text(f"={paint}")
            expect(page.locator("#redo")).to_be_enabled()

            page.click("#tab-preview")
            expect(page.locator("#preview")).to_have_js_property("complete", True)
            page.click("#files-btn")
            link = page.locator("#files a", has_text="pattern.pdf")
            expect(link).to_be_visible()
            with page.expect_download() as info:
                link.click()
            pdf = tmp_path / "pattern.pdf"
            info.value.save_as(pdf)
            text = "\n".join(p.extract_text() or "" for p in PdfReader(pdf).pages)
            assert new in text and "bead" in text.lower()
            assert old not in text

            # the phone-sized layout: one column, the chart still fits the screen
            phone = browser.new_page(viewport={"width": 390, "height": 844},
                                     device_scale_factor=1)
            phone.set_default_timeout(TIMEOUT_MS)
            phone.context.add_cookies(page.context.cookies())
            phone.goto(server)
            expect(phone.locator("#legend li").first).to_be_visible()
            expect(phone.locator("#width")).to_have_value("16")  # the form is restored
            width = phone.evaluate("() => document.documentElement.scrollWidth")
            assert width <= 390, f"the page scrolls sideways on a phone ({width} px)"
            phone.evaluate("() => document.getElementById('result').scrollIntoView()")
            phone.screenshot(path=str(SHOTS / "web-phone.png"))
            assert errors == []
        finally:
            browser.close()
    # small enough to keep in the repository: a 128-color palette loses nothing visible here
    for name in ("web-pattern.png", "web-phone.png"):
        with Image.open(SHOTS / name) as im:
            assert im.width >= 390
            small = im.convert("RGB").quantize(colors=128, dither=Image.Dither.NONE)
        small.save(SHOTS / name, optimize=True)
        assert (SHOTS / name).stat().st_size < 150_000


def test_non_square_photo_at_the_defaults_draws_every_cell(server, tmp_path):
    """A landscape photo at the default 48×48 with fit "pad" has empty rows: the chart must still
    draw (no error banner, no script error), empty cells light, every other cell in its color."""
    executable = chromium()
    expect.set_options(timeout=TIMEOUT_MS)
    wide = blocks_photo(tmp_path / "landscape.jpg", (48, 80), [0.3, 0.55, 0.85],
                        [(slice(20, 44), slice(10, 40), [0.9, 0.8, 0.2])], noise=0.02, seed=3)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, headless=True,
                                     args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 860})
            page.set_default_timeout(TIMEOUT_MS)
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(server)
            expect(page.locator("#medium option")).to_have_count(4)
            page.set_input_files("#photo", str(wide))
            expect(page.locator("#legend li").first).to_be_visible()
            expect(page.locator("#error")).to_be_hidden()
            size = page.evaluate("() => [STATE.width, STATE.height]")
            assert size == [48, 48]
            # read the canvas back: one pixel in the middle of each cell
            probe = page.evaluate("""() => {
              const cv = document.getElementById('chart'), g = cv.getContext('2d');
              const s = cv.width / STATE.width, out = {empty: 0, wrong: 0, drawn: 0};
              for (let r = 0; r < STATE.height; r++) for (let c = 0; c < STATE.width; c++) {
                const d = g.getImageData(Math.floor((c + 0.2) * s), Math.floor((r + 0.2) * s), 1, 1).data;
                const p = STATE.palette[STATE.cells[r][c]];
                if (!p) { out.empty++; if (d[0] < 240 || d[1] < 240) out.wrong++; continue; }
                const n = parseInt(p.hex.slice(1), 16);
                const want = [n >> 16, (n >> 8) & 255, n & 255];
                if (want.some((v, i) => Math.abs(v - d[i]) > 3)) out.wrong++; else out.drawn++;
              }
              return out;
            }""")
            assert probe["empty"] > 0, "a 5:3 photo padded to 48×48 leaves empty rows"
            assert probe["wrong"] == 0 and probe["drawn"] + probe["empty"] == 48 * 48
            total = page.evaluate("() => STATE.palette.reduce((a, p) => a + p.count, 0)")
            assert total == 48 * 48 - probe["empty"]
            assert errors == []
        finally:
            browser.close()
