"""The command line as a user meets it: outputs, defaults and one-line errors."""

import json
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from craftpix.cli import main
from craftpix.palette import load_palette
from craftpix.pattern import Pattern


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    """A small photo-like image: smooth gradients, a few shapes and some noise."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:96, 0:128] / 96.0
    img = np.stack([0.2 + 0.6 * xx / 1.4, 0.3 + 0.5 * yy, 0.6 - 0.3 * xx / 1.4], -1)
    img[20:60, 30:70] = [0.85, 0.15, 0.1]
    img[50:90, 80:120] = [0.1, 0.2, 0.7]
    img = np.clip(img + rng.normal(0, 0.04, img.shape), 0, 1)
    path = tmp_path_factory.mktemp("img") / "photo.png"
    Image.fromarray((img * 255).astype(np.uint8)).save(path)
    return path


def run(*args, **kwargs):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False, **kwargs)


def test_starting_the_cli_does_not_import_torch():
    """``craftpix --help`` and the catalog commands start fast: torch loads only for a run."""
    code = "import sys, craftpix.cli; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_palettes_list_shows_every_catalog():
    res = run("palettes", "list")
    assert res.exit_code == 0
    for name in ("dmc", "perler", "hama", "artkal", "lego"):
        assert name in res.output


def test_palettes_show_dmc_lists_the_full_line(tmp_path):
    res = run("palettes", "show", "dmc")
    assert res.exit_code == 0
    lines = res.output.strip().splitlines()
    assert len(lines) >= 451  # title + >= 450 colors
    codes = {line.split()[0] for line in lines[1:]}
    assert {"310", "321", "B5200", "BLANC", "ECRU"} <= codes
    as_json = json.loads(run("palettes", "show", "dmc", "--format", "json").output)
    assert len(as_json) == len(lines) - 1 and {"code", "name", "hex"} <= set(as_json[0])
    as_csv = run("palettes", "show", "perler", "--format", "csv").output.splitlines()
    assert as_csv[0] == "code,name,hex"
    swatch = tmp_path / "swatch.png"
    assert run("palettes", "show", "hama", "--swatch", swatch).exit_code == 0
    assert Image.open(swatch).size[0] > 0


def test_beads_from_an_image_writes_pattern_preview_and_pdf(photo, tmp_path):
    out = tmp_path / "out"
    res = run("beads", "--image", photo, "--size", "24x20", "--colors", "6", "--out", out,
              "--steps", "40", "--quiet")
    assert res.exit_code == 0, res.output
    for name in ("pattern.json", "preview.png", "pattern.pdf"):
        assert (out / name).is_file()
    pattern = Pattern.load(out / "pattern.json")
    assert (pattern.width, pattern.height) == (24, 20)
    assert pattern.medium == "beads" and pattern.brand == "perler"
    assert len(pattern.palette) <= 6
    assert pattern.meta["engine"] == "photo" and pattern.meta["seed"] == 0
    assert "isolated cells" in res.output


def test_same_seed_same_pattern(photo, tmp_path):
    def cells(folder, seed):
        run("stitch", "--image", photo, "--size", "16", "--colors", "8", "--out", folder,
            "--steps", "30", "--seed", seed, "--quiet", "--no-pdf", "--formats", "dst")
        return Pattern.load(folder / "pattern.json").cells

    assert np.array_equal(cells(tmp_path / "a", 3), cells(tmp_path / "b", 3))


def test_stitch_writes_embroidery_files_and_uses_dmc(photo, tmp_path):
    res = run("stitch", "--image", photo, "--size", "20", "--colors", "5", "--out", tmp_path,
              "--steps", "20", "--quiet", "--formats", "pes,dst")
    assert res.exit_code == 0, res.output
    assert (tmp_path / "pattern.pes").is_file() and (tmp_path / "pattern.dst").is_file()
    assert Pattern.load(tmp_path / "pattern.json").brand == "dmc"


def test_bricks_use_solid_lego_colors_only(photo, tmp_path):
    res = run("bricks", "--image", photo, "--size", "16", "--out", tmp_path, "--steps", "10",
              "--quiet", "--no-pdf")
    assert res.exit_code == 0, res.output
    from craftpix.palette import load_palette

    lego = load_palette("lego")
    transparent = {c for c, e in zip(lego.codes, lego.extra, strict=True) if e["transparent"] == "true"}
    as_plate = {c for c, e in zip(lego.codes, lego.extra, strict=True) if "3024" in e["parts"]}
    used = {c.code for c in Pattern.load(tmp_path / "pattern.json").palette}
    assert used and not used & transparent
    assert used <= as_plate  # the default part is the 1×1 plate: only colors it is made in


def test_bricks_part_choice_changes_the_catalog(photo, tmp_path):
    from craftpix.palette import load_palette

    lego = load_palette("lego")
    as_round = {c for c, e in zip(lego.codes, lego.extra, strict=True) if "4073" in e["parts"]}
    res = run("bricks", "--image", photo, "--size", "16", "--out", tmp_path, "--steps", "5",
              "--quiet", "--no-pdf", "--part", "round")
    assert res.exit_code == 0, res.output
    assert {c.code for c in Pattern.load(tmp_path / "pattern.json").palette} <= as_round


def test_dither_and_custom_palette_file(photo, tmp_path):
    hexfile = tmp_path / "mine.hex"
    hexfile.write_text("000000\nFFFFFF\nCC2222\n2244AA\n")
    res = run("beads", "--image", photo, "--size", "12", "--palette", hexfile, "--dither",
              "--out", tmp_path / "o", "--no-pdf")
    assert res.exit_code == 0, res.output
    pattern = Pattern.load(tmp_path / "o" / "pattern.json")
    assert pattern.meta["engine"] == "dither"
    assert {c.hex for c in pattern.palette} <= {"#000000", "#FFFFFF", "#CC2222", "#2244AA"}


def test_default_output_folder_is_named_after_the_image(photo, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = run("beads", "--image", photo, "--size", "8", "--steps", "5", "--quiet", "--no-pdf")
    assert res.exit_code == 0, res.output
    assert (tmp_path / "photo-beads-8" / "pattern.json").is_file()


@pytest.mark.parametrize("args, message", [
    (["--size", "0"], "more than 0"),
    (["--size", "-3"], "not a size"),
    (["--size", "10000"], "out of range"),
    (["--size", "abc"], "not a size"),
    (["--size", "8", "--brand", "nosuch"], "unknown catalog"),
    (["--size", "8", "--colors", "0"], "--colors"),
])
def test_bad_options_give_one_line_and_exit_2(photo, tmp_path, args, message):
    res = CliRunner().invoke(main, ["beads", "--image", str(photo), "--out", str(tmp_path), *args])
    assert res.exit_code == 2
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0]
    assert "Traceback" not in res.output


def test_bad_files_give_one_line_and_exit_2(tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("this is not an image")
    bad_palette = tmp_path / "bad.csv"
    bad_palette.write_text("code,name,hex\n1,red,#GG0000\n")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    good = tmp_path / "ok.png"
    Image.new("RGB", (10, 10), "red").save(good)
    cases = [
        (["beads", "--image", tmp_path / "missing.png", "--size", "8"], "does not exist"),
        (["beads", "--image", text, "--size", "8"], "not an image"),
        (["beads", "--image", good, "--size", "8", "--palette", bad_palette], "bad hex"),
        (["beads", "--image", good, "--size", "8", "--out", blocker / "sub"], "output folder"),
        (["beads", "--size", "8"], "--prompt"),
        (["beads", "--image", good, "--size", "8", "--engine", "photo", "--dither",
          "--palette", tmp_path / "none.gpl"], "does not exist"),
    ]
    for args, message in cases:
        res = CliRunner().invoke(main, [str(a) for a in args])
        assert res.exit_code == 2, (args, res.output)
        lines = [line for line in res.output.splitlines() if line.strip()]
        assert len(lines) == 1 and message in lines[0], (args, res.output)


def test_prompt_without_a_model_is_one_clear_message(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    res = CliRunner().invoke(main, ["beads", "--prompt", "rose", "--size", "48",
                                    "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert len(lines) == 1
    assert "stabilityai/stable-diffusion-xl-base-1.0" in lines[0] and "models pull" in lines[0]


@pytest.mark.parametrize("extra, budget", [([], 16), (["--colors", "6"], 6),
                                           (["--colors", "400"], None)])
def test_prompt_runs_keep_a_color_budget(tmp_path, monkeypatch, extra, budget):
    """A prompt alone prunes to 16 colors by default; --colors overrides; no budget past the
    catalog size. The engine itself is replaced: only what the CLI asks of it is checked."""
    import craftpix.engines.sds.run as run_module
    from craftpix.engines.sds.optimize import OptimResult

    seen = {}

    def fake_run_sds(settings, **kwargs):
        seen.update(kwargs)
        h, w = kwargs["height"], kwargs["width"]
        return OptimResult(indices=np.zeros((h, w), dtype=np.int64), steps=0, seconds=0.0)

    monkeypatch.setattr(run_module, "run_sds", fake_run_sds)
    res = run("beads", "--prompt", "rose", "--size", "8", "--out", tmp_path, "--no-pdf", *extra)
    assert res.exit_code == 0, res.output
    assert seen["colors"] == budget and seen["reference_rgb"] is None
    assert len(seen["palette_rgb"]) == 101  # the Perler standard colors, pruned during the run


# --- sizes, help per craft, colors ------------------------------------------------------------
@pytest.fixture(scope="module")
def logo(tmp_path_factory):
    """A wide 542×130 logo, as in the issue."""
    img = np.full((130, 542, 3), 240, np.uint8)
    img[30:100, 50:250] = [200, 30, 30]
    img[30:100, 300:500] = [30, 60, 200]
    path = tmp_path_factory.mktemp("logo") / "logo.png"
    Image.fromarray(img).save(path)
    return path


def _made(out):
    return Pattern.load(out / "pattern.json")


@pytest.mark.parametrize("size, shape", [
    ("48", (12, 48)), ("48x", (12, 48)), ("x12", (12, 50)), ("30cmx", (14, 60)),
])
def test_one_side_follows_the_image_so_nothing_is_cut(logo, tmp_path, size, shape):
    res = run("beads", "--image", logo, "--size", size, "--out", tmp_path, "--steps", "5",
              "-q", "--no-pdf")
    assert res.exit_code == 0, res.output
    p = _made(tmp_path)
    assert p.cells.shape == shape and not (p.cells < 0).any()
    assert "empty" not in res.output and "cut" not in res.output


def test_both_sides_pad_with_empty_cells_and_say_so(logo, tmp_path):
    res = run("beads", "--image", logo, "--size", "48x20", "--out", tmp_path, "--steps", "5",
              "-q", "--no-pdf")
    assert res.exit_code == 0, res.output
    p = _made(tmp_path)
    assert p.cells.shape == (20, 48)
    empty_rows = [r for r in range(20) if (p.cells[r] < 0).all()]
    assert len(empty_rows) == 20 - 12 and "empty rows" in res.output
    res = run("beads", "--image", logo, "--size", "48x20", "--fit", "crop", "--out",
              tmp_path / "crop", "--steps", "5", "-q", "--no-pdf")
    assert res.exit_code == 0 and "cut" in res.output and "of its width" in res.output
    assert not (_made(tmp_path / "crop").cells < 0).any()


def test_boards_and_physical_sizes(photo, tmp_path):
    res = run("bricks", "--image", photo, "--boards", "2x1", "--fit", "crop", "--out", tmp_path,
              "--steps", "5", "-q", "--no-pdf")
    assert res.exit_code == 0, res.output
    assert _made(tmp_path).cells.shape == (16, 32)  # two 16×16 baseplates side by side
    res = run("stitch", "--image", photo, "--size", "2inx1.5in", "--fabric-count", "18",
              "--out", tmp_path / "s", "--steps", "5", "-q", "--no-pdf", "--formats", "none")
    assert res.exit_code == 0, res.output
    assert _made(tmp_path / "s").cells.shape == (27, 36)  # 18 stitches per inch


def test_small_and_animated_images_are_noted(tmp_path):
    frames = [Image.fromarray(np.full((10, 10, 3), v, np.uint8)) for v in (30, 200)]
    gif = tmp_path / "blink.gif"
    frames[0].save(gif, save_all=True, append_images=frames[1:])
    res = run("beads", "--image", gif, "--size", "40", "--out", tmp_path / "o", "--steps", "2",
              "-q", "--no-pdf")
    assert res.exit_code == 0, res.output
    assert "only the first frame" in res.output and "10x10 pixels" in res.output


def test_each_craft_shows_only_its_own_options_in_groups():
    beads = run("beads", "--help").output
    bricks = run("bricks", "--help").output
    stitch = run("stitch", "--help").output
    for text in (beads, bricks, stitch):
        for group in ("What to make:", "Colors:", "Printing:", "Diffusion model:"):
            assert group in text
        assert text.index("What to make:") < text.index("Colors:") < text.index("Printing:")
        assert text.index("Printing:") < text.index("Diffusion model:")
    for option in ("--hoop", "--formats", "--fabric-count", "--strands", "--merge", "--part"):
        assert option not in beads
    assert "--merge" in bricks and "--part" in bricks and "--hoop" not in bricks
    assert "Machine files:" in stitch and "--hoop" in stitch and "--fabric-count" in stitch
    for option in ("--merge", "--part", "--section", "--boards"):
        assert option not in stitch
    assert ("perler, hama, artkal, perler-mini, hama-mini, artkal-mini (default perler)"
            in " ".join(beads.split()))
    assert "Catalog: dmc" in stitch and "Catalog: lego" in bricks


def test_another_crafts_option_is_not_accepted(photo, tmp_path):
    res = CliRunner().invoke(main, ["beads", "--image", str(photo), "--size", "8", "--hoop",
                                    "100x100"])
    assert res.exit_code == 2 and "No such option '--hoop'" in res.output


@pytest.mark.parametrize("craft, brand", [("beads", "lego"), ("stitch", "hama"),
                                          ("bricks", "dmc")])
def test_another_crafts_catalog_is_a_one_line_refusal(photo, tmp_path, craft, brand):
    res = CliRunner().invoke(main, [craft, "--image", str(photo), "--size", "8", "--brand",
                                    brand, "--out", str(tmp_path)])
    assert res.exit_code == 2
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and f"--palette {brand}" in lines[0]
    assert not (tmp_path / "pattern.json").exists()


def test_another_crafts_catalog_with_palette(photo, tmp_path):
    res = run("beads", "--image", photo, "--size", "8x6", "--palette", "lego", "--out", tmp_path,
              "--steps", "5", "-q", "--no-pdf")
    assert res.exit_code == 0, res.output
    assert set(c.code for c in _made(tmp_path).palette) <= set(load_palette("lego").codes)


def test_exclude_only_inventory_and_budget_from_the_command_line(photo, tmp_path):
    base = ["beads", "--image", photo, "--size", "16x12", "--steps", "5", "-q", "--no-pdf"]
    first = run(*base, "--out", tmp_path / "a")
    assert first.exit_code == 0, first.output
    top = _made(tmp_path / "a").palette[0].code
    res = run(*base, "--out", tmp_path / "b", "--exclude", top)
    assert res.exit_code == 0 and top not in [c.code for c in _made(tmp_path / "b").palette]
    inv = tmp_path / "mine.csv"
    perler = load_palette("perler")
    inv.write_text("code,count,price\n" + "".join(
        f"{c},{40 if c == top else 500},{1 + i % 4}\n" for i, c in enumerate(perler.codes)))
    res = run(*base, "--out", tmp_path / "c", "--inventory", inv, "--only-owned",
              "--budget", "30")
    assert res.exit_code == 0, res.output
    p = _made(tmp_path / "c")
    counts = dict(zip([c.code for c in p.palette], p.counts(), strict=True))
    assert counts.get(top, 0) <= 40
    assert p.meta["cost"] <= 30 and "to buy beyond what you own: 0.00" in res.output
    res = CliRunner().invoke(main, [str(a) for a in base] + ["--out", str(tmp_path / "d"),
                                                             "--only", "nope"])
    assert res.exit_code == 2 and "'nope' is not in the perler catalog" in res.output


def test_size_or_boards_is_needed(photo):
    res = CliRunner().invoke(main, ["beads", "--image", str(photo)])
    assert res.exit_code == 2 and "--size" in res.output and "--boards" in res.output
    res = CliRunner().invoke(main, ["stitch", "--image", str(photo), "--size", "8", "--boards",
                                    "2"])
    assert res.exit_code == 2 and "No such option" in res.output
