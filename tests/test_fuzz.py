"""Bad input never gives a traceback, and never costs the previous output set.

Two parts:

* the cases of the bad-input matrix that found bugs, kept as plain tests (one per kind);
* hypothesis strategies for palettes, images, pattern.json and command lines that drive
  loader → engine → every export in-process. Every run ends either with exit 0 and a
  complete, mutually consistent output set in ``--out``, or with exit 2, one line on stderr
  and ``--out`` exactly as it was (a previous good set plus a file of the user's).

The CI profile is short and derandomized (fixed examples). For a longer search::

    CRAFTPIX_FUZZ=long .venv/bin/python -m pytest tests/test_fuzz.py   # 20x the examples, random
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from PIL import Image

from craftpix import fileio
from craftpix.api import PatternRequest
from craftpix.cli import main
from craftpix.errors import InputError
from craftpix.palette import MAX_COLORS, PaletteError, parse_csv, parse_gpl, parse_hex
from craftpix.pattern import Pattern, PatternError

LONG = os.environ.get("CRAFTPIX_FUZZ") == "long"


def budget(n: int) -> settings:
    """``n`` examples in CI (fixed), 20×n random ones with CRAFTPIX_FUZZ=long."""
    return settings(max_examples=20 * n if LONG else n, derandomize=not LONG, deadline=None,
                    database=None, print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])


# --- outputs --------------------------------------------------------------------------------
def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden ones too) with its content."""
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def cli(*args: object):
    return CliRunner().invoke(main, [str(a) for a in args])


USER_FILE = "my-notes.txt"


@pytest.fixture(scope="module")
def good_set(tmp_path_factory) -> Path:
    """An output folder as a good run leaves it, plus a file of the user's."""
    base = tmp_path_factory.mktemp("good")
    rng = np.random.default_rng(1)
    Image.fromarray((rng.random((12, 12, 3)) * 255).astype(np.uint8)).save(base / "img.png")
    out = base / "out"
    res = cli("stitch", "--image", base / "img.png", "--size", "6", "--steps", "0",
              "--formats", "dst", "--out", out, "-q")
    assert res.exit_code == 0, res.output
    (out / USER_FILE).write_text("bring more floss")
    return out


def fresh_out(good_set: Path, folder: Path) -> tuple[Path, dict[str, bytes]]:
    out = folder / "out"
    shutil.copytree(good_set, out)
    return out, snapshot(out)


def check_complete(out: Path, size: tuple[int, int] | None = None, pdf: bool = True,
                   formats: set[str] | None = None) -> None:
    """``out`` holds one complete, consistent set: the manifest's files, all of one pattern."""
    names = {p.name for p in out.iterdir()}
    manifest = fileio.read_manifest(out)
    assert names == set(manifest) | {fileio.MANIFEST, USER_FILE}, names  # no leftovers
    for name, info in manifest.items():
        assert fileio._unchanged(out / name, info), name
    assert (out / USER_FILE).read_text() == "bring more floss"
    if "pattern.json" in manifest:
        pattern = Pattern.load(out / "pattern.json")
        if size is not None:
            assert (pattern.width, pattern.height) == size
        size = (pattern.width, pattern.height)
    assert {"preview.png", "preview-pixels.png"} <= set(manifest)
    with Image.open(out / "preview-pixels.png") as im:
        if size is not None:  # the previews show the same grid as pattern.json
            assert im.width * size[1] == im.height * size[0], (im.size, size)
    assert ("pattern.pdf" in manifest) == pdf
    if pdf:
        assert (out / "pattern.pdf").read_bytes().startswith(b"%PDF-")
    machine = {n.split(".", 1)[1] for n in manifest
               if n.startswith("pattern.") and n not in ("pattern.json", "pattern.pdf")}
    if formats is not None:
        assert machine == formats


def check_outcome(res, out: Path, before: dict[str, bytes], **expect) -> None:
    """Exit 0 with a complete set, or exit 2 with one line and ``out`` untouched."""
    if res.exit_code == 0:
        check_complete(out, **expect)
        return
    detail = f"exit {res.exit_code}\n{res.output}\n{res.stderr}\n{res.exception!r}"
    assert res.exit_code == 2, detail
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("craftpix: "), detail
    assert "Traceback" not in res.output
    assert snapshot(out) == before, "a failed run changed the output folder"


# --- the cases of the matrix, one or more per kind ----------------------------------------
@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("inputs")
    rng = np.random.default_rng(0)
    Image.fromarray((rng.random((20, 20, 3)) * 255).astype(np.uint8)).save(d / "img.png")
    Image.fromarray(np.zeros((60000, 1, 3), np.uint8)).save(d / "strip.png")  # 315 bytes
    with open(d / "huge.csv", "w") as f:
        f.write("code,name,hex\n")
        f.writelines(f"c{i},n{i},#{i * 97 % 0xFFFFFF:06X}\n" for i in range(MAX_COLORS + 1))
    (d / "field.csv").write_text('code,name,hex\na,"' + "x" * 140_000 + '",#000000\n')
    (d / "ansi.csv").write_text('"co\nde\x1b[31m",name,hex\n1,a,#000000\n')
    os.mkfifo(d / "fifo")
    return d


def matrix_cases() -> list[tuple[str, list[str], str]]:
    """(kind, arguments after 'stitch --out OUT', text the one line must hold)."""
    img = "{d}/img.png"
    base = ["--image", img, "--size", "6", "--steps", "0", "-q"]
    return [
        ("1 range", [*base, "--seed", "1180591620717411303424"], "--seed"),
        ("1 range", [*base, "--seed", "-1", "--colors", "8"], "--seed"),
        ("1 range", [*base, "--smooth", "nan"], "smooth must be a number from 0 to 100"),
        ("1 range", [*base, "--smooth", "inf"], "--smooth"),
        ("1 range", [*base, "--smooth", "1e308"], "--smooth"),
        ("1 range", [*base, "--steps", "-3"], "--steps"),
        ("1 range", ["--image", img, "--size", "501"], "out of range"),
        ("2 write", [*base, "--engine", "photo", "--prompt", "rose \udc80"], "not valid Unicode"),
        # a 1×60000 strip: padding never builds a canvas (empty cells around the image), and
        # keeping its shape at 100 cells long leaves a side under the minimum
        ("4 bounds", ["--image", "{d}/strip.png", "--size", "100", "--fit", "pad"],
         "each side must be 2 to 500"),
        ("4 bounds", [*base, "--palette", "{d}/huge.csv"], f"more than {MAX_COLORS} colors"),
        ("4 bounds", [*base, "--palette", "{d}/field.csv"], "a field longer than"),
        ("5 echo", [*base, "--palette", "{d}/ansi.csv"], r"(got 'co\nde\x1b[31m,name,hex')"),
        ("7 hardening", [*base, "--brand", "../huge.csv"], "is not a catalog name"),
        ("7 hardening", [*base, "--brand", "/etc/passwd"], "is not a catalog name"),
        ("7 hardening", ["--image", "/dev/null", "--size", "6"], "is not a regular file"),
        ("7 hardening", ["--image", "{d}/fifo", "--size", "6"], "is not a regular file"),
        ("7 hardening", ["--image", "{d}/missing.png", "--size", "6"], "does not exist"),
    ]


@pytest.mark.parametrize("kind,args,needle", matrix_cases(),
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(matrix_cases())])
def test_matrix_case_is_one_line_and_keeps_the_previous_set(good_set, files, tmp_path, kind,
                                                            args, needle):
    out, before = fresh_out(good_set, tmp_path)
    res = cli("stitch", "--out", out, *[a.replace("{d}", str(files)) for a in args])
    check_outcome(res, out, before)
    assert res.exit_code == 2 and needle in res.stderr, res.stderr


def test_an_early_failure_leaves_no_output_folder(files, tmp_path):
    res = cli("beads", "--image", files / "missing.png", "--size", "6", "--out",
              tmp_path / "new" / "out")
    assert res.exit_code == 2 and res.stderr.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_a_folder_in_the_way_and_a_full_disk(good_set, files, tmp_path, monkeypatch):
    out, before = fresh_out(good_set, tmp_path)
    shutil.rmtree(out)
    out.mkdir()
    (out / "pattern.pdf").mkdir()  # a pattern.pdf folder: IsADirectoryError before
    before = snapshot(out)
    res = cli("beads", "--image", files / "img.png", "--size", "6", "--steps", "0", "-q",
              "--out", out)
    check_outcome(res, out, before)
    assert "pattern.pdf: a folder has that name" in res.stderr

    out, before = fresh_out(good_set, tmp_path / "full")
    import craftpix.export.pdf as pdf

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pdf, "write_pdf", full)
    res = cli("stitch", "--image", files / "img.png", "--size", "6", "--steps", "0", "-q",
              "--out", out)
    check_outcome(res, out, before)
    assert "No space left on device" in res.stderr


def test_swatch_into_a_missing_folder(tmp_path):
    res = cli("palettes", "show", "perler", "--format", "csv", "--swatch",
              tmp_path / "missing" / "s.png")
    assert res.exit_code == 2
    assert res.stderr == f"craftpix: No such file or directory: {tmp_path}/missing/s.png\n"


def test_palettes_show_a_system_file_does_not_echo_it():
    res = cli("palettes", "show", "/etc/passwd")
    assert res.exit_code == 2 and res.stderr.count("\n") == 1
    assert "root:x:0:0:root:/root" not in res.stderr  # quoted and cut short


@pytest.mark.parametrize("meta,needle", [
    ({"image": 7}, "'meta.image' must be a string, got int"),
    ({"image": ["a.png"]}, "'meta.image' must be a string, got list"),
    ({"prompt": {"a": 1}}, "'meta.prompt' must be a string"),
    ({"prompt": "rose \ud800"}, "lone surrogate"),
    ({"deep": json.loads("[" * 40 + "]" * 40)}, "nested deeper than 32 levels"),
])
def test_pattern_files_that_crashed_an_export(good_set, tmp_path, meta, needle):
    pj = tmp_path / "p.json"
    data = json.loads((good_set / "pattern.json").read_text())
    data["meta"].update(meta)
    pj.write_text(json.dumps(data))
    out, before = fresh_out(good_set, tmp_path)
    res = cli("export", pj, "--out", out)
    check_outcome(res, out, before)
    assert res.exit_code == 2 and needle in res.stderr, res.stderr


def test_pattern_json_nested_past_the_parser_and_with_a_bom(good_set, tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    res = cli("export", deep, "--out", tmp_path / "x")
    assert res.exit_code == 2 and "nested deeper than" in res.stderr
    bom = tmp_path / "bom" / "pattern.json"
    bom.parent.mkdir()
    bom.write_bytes(b"\xef\xbb\xbf" + (good_set / "pattern.json").read_bytes())
    res = cli("export", bom, "--no-pdf")
    assert res.exit_code == 0, res.stderr


def test_reruns_remove_files_of_the_previous_set(good_set, files, tmp_path):
    out, _ = fresh_out(good_set, tmp_path)
    assert (out / "pattern.dst").exists() and (out / "pattern.pdf").exists()
    res = cli("stitch", "--image", files / "img.png", "--size", "8", "--steps", "0", "-q",
              "--formats", "pes", "--no-pdf", "--out", out)
    assert res.exit_code == 0, res.stderr
    check_complete(out, size=(8, 8), pdf=False, formats={"pes"})  # no old .dst, no old PDF


def test_export_keeps_its_pattern_and_the_exports_it_does_not_rewrite(good_set, tmp_path):
    out, old = fresh_out(good_set, tmp_path)
    before = Pattern.load(out / "pattern.json")
    res = cli("export", out / "pattern.json", "--formats", "jef", "--no-pdf")
    assert res.exit_code == 0, res.stderr
    check_complete(out, pdf=True, formats={"jef", "dst"})  # only what was asked changes
    assert (out / "pattern.dst").read_bytes() == old["pattern.dst"]
    assert (out / "pattern.pdf").read_bytes() == old["pattern.pdf"]
    after = Pattern.load(out / "pattern.json")  # the same design, with the settings now used
    assert np.array_equal(after.cells, before.cells) and after.palette == before.palette
    assert after.settings["pdf"] is False and tuple(after.settings["formats"]) == ("jef",)


def test_sigint_inside_a_command_is_exit_130_and_one_line(good_set, files, tmp_path,
                                                          monkeypatch):
    import craftpix.export.preview as preview

    out, before = fresh_out(good_set, tmp_path)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(preview, "save_preview", interrupted)
    res = cli("beads", "--image", files / "img.png", "--size", "6", "--steps", "0", "-q",
              "--out", out)
    assert res.exit_code == 130
    assert res.stderr == f"craftpix: interrupted (SIGINT); {out} was left as it was\n"
    assert snapshot(out) == before


# --- strategies ---------------------------------------------------------------------------
nasty_text = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", " ", ",", '"', "\n", "\x1b[31m", "\ud800", "#", "é", "a,b", "\0",
                     "x" * 300, "../x", "/etc/passwd", "\ufeff"]),
)
hex_color = st.one_of(
    st.integers(0, 0xFFFFFF).map(lambda v: f"#{v:06X}"),
    st.integers(0, 0xFFFFFF).map(lambda v: f"{v:06x}"),
    nasty_text,
)


@st.composite
def palette_files(draw) -> tuple[str, str]:
    """(suffix, text) of a palette file: mostly well-formed, with nasty fields mixed in."""
    kind = draw(st.sampled_from(["csv", "gpl", "hex"]))
    n = draw(st.integers(0, 12))
    if kind == "csv":
        rows = ["code,name,hex"] if draw(st.booleans()) or n == 0 else [draw(nasty_text)]
        for i in range(n):
            code = draw(st.one_of(st.just(f"C{i}"), nasty_text))
            name = draw(st.one_of(st.just(f"color {i}"), nasty_text))
            quoted = ['"' + f.replace('"', '""') + '"' for f in (code, name)]
            rows.append(",".join([*quoted, draw(hex_color)]))
        text = "\n".join(rows)
    elif kind == "gpl":
        rows = ["GIMP Palette", "Name: fuzz"]
        for _ in range(n):
            rgb = draw(st.tuples(*[st.integers(-1, 300)] * 3))
            rows.append(" ".join(map(str, rgb)) + " " + draw(nasty_text).replace("\n", " "))
        text = "\n".join(rows)
    else:
        text = "\n".join(draw(hex_color) for _ in range(n))
    if draw(st.integers(0, 9)) == 0:
        text = "\ufeff" + text
    return kind, text


@st.composite
def image_files(draw) -> bytes:
    """An image file's bytes: odd sizes and modes, or bytes that are no image at all."""
    if draw(st.integers(0, 7)) == 0:
        return draw(st.binary(max_size=64))
    h = draw(st.integers(1, 24))
    w = draw(st.sampled_from([1, 2, 3, 7, 24, 300])) if draw(st.booleans()) else h
    mode = draw(st.sampled_from(["RGB", "RGBA", "L", "LA", "P", "1", "I;16"]))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    arr = (rng.random((h, w, 4)) * 255).astype(np.uint8)
    im = Image.fromarray(arr, "RGBA").convert(mode if mode != "I;16" else "L")
    if mode == "I;16":
        im = Image.fromarray((rng.random((h, w)) * 65535).astype(np.uint16))
    fmt = draw(st.sampled_from(["PNG", "GIF", "BMP", "WEBP", "JPEG"]))
    if fmt == "JPEG" and im.mode not in ("RGB", "L"):
        im = im.convert("RGB")
    buf = io.BytesIO()
    try:
        im.save(buf, format=fmt)
    except (OSError, ValueError):
        im.convert("RGB").save(buf, format="PNG")
    data = buf.getvalue()
    if draw(st.integers(0, 9)) == 0:
        data = data[: len(data) // 2]  # truncated
    return data


def mostly(valid, odd):
    """``valid`` nine times in ten, else ``odd``: most runs get through to the exports."""
    return st.integers(0, 9).flatmap(lambda k: odd if k == 0 else valid)


number_text = st.one_of(
    st.integers(-5, 600).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["nan", "-0", "1e308", "2**40", "18446744073709551616", ""]),
)
sizes = mostly(
    st.tuples(st.integers(2, 14), st.integers(2, 14)).map(lambda s: f"{s[0]}x{s[1]}"),
    st.sampled_from(["1", "0", "-4", "501", "x", "4x", "10*3", "1e3", "99999999999999999999"]),
)
COMMON = [
    ("--colors", mostly(st.integers(1, 12).map(str), number_text)),
    ("--smooth", mostly(st.sampled_from(["0", "0.5", "3"]), number_text)),
    ("--seed", mostly(st.integers(0, 2**32 - 1).map(str), number_text)),
    ("--fit", mostly(st.sampled_from(["crop", "pad", "stretch"]), st.just("squash"))),
    ("--paper", mostly(st.sampled_from(["a4", "letter", "A4"]), st.just("a3"))),
]
BY_MEDIUM = {
    "beads": [("--brand", mostly(st.sampled_from(["perler", "hama", "artkal"]),
                                 st.sampled_from(["nope", "../palettes/dmc", "", "dmc"]))),
              ("--section", mostly(st.just("29"), st.sampled_from(["0", "7"])))],
    "bricks": [("--section", mostly(st.sampled_from(["16", "32"]), st.sampled_from(["0", "7"]))),
               ("--part", mostly(st.sampled_from(["plate", "round", "tile"]), st.just("brick")))],
    "stitch": [("--formats", mostly(st.sampled_from(["pes", "dst,jef", "none", "exp,vp3"]),
                                    st.sampled_from(["xyz", ""]))),
               ("--hoop", mostly(st.sampled_from(["100x100", "200x200"]),
                                 st.sampled_from(["10x10", "0x5", "abc"]))),
               ("--fabric-count", mostly(st.sampled_from(["11", "14", "18"]), st.just("12"))),
               ("--strands", mostly(st.sampled_from(["1", "3"]), st.just("9")))],
}
FLAGS = {"beads": ["--dither", "--no-pdf", "--all-finishes"],
         "bricks": ["--dither", "--no-pdf", "--merge"],
         "stitch": ["--dither", "--no-pdf"]}


@st.composite
def craft_args(draw) -> tuple[str, list[str], dict]:
    """A craft command line (after the medium and before --out), with what a success means.

    Mostly options that apply to the medium, with odd values one time in ten; now and then
    an option of another craft (an error the user can make).
    """
    medium = draw(st.sampled_from(["beads", "bricks", "stitch"]))
    args = ["--size", draw(sizes), "--steps", draw(st.sampled_from(["0", "1", "3"])), "-q"]
    for flag, values in COMMON + BY_MEDIUM[medium]:
        if draw(st.integers(0, 2)) == 0:
            args += [flag, draw(values)]
    for flag in FLAGS[medium]:
        if draw(st.integers(0, 3)) == 0:
            args.append(flag)
    if draw(st.integers(0, 9)) == 0:
        other = draw(st.sampled_from([m for m in BY_MEDIUM if m != medium]))
        flag, values = draw(st.sampled_from(BY_MEDIUM[other]))
        args += [flag, draw(values)]
    return medium, args, {"pdf": "--no-pdf" not in args}


# --- fuzz: loaders in-process -----------------------------------------------------------
@budget(150)
@given(palette_files())
def test_fuzz_palette_parsers(file):
    kind, text = file
    parse = {"csv": parse_csv, "gpl": parse_gpl, "hex": parse_hex}[kind]
    try:
        pal = parse(text, "fuzz", "fuzz.palette")
    except PaletteError as exc:
        assert "\n" not in str(exc) and "\x1b" not in str(exc)
        return
    assert 1 <= len(pal) <= MAX_COLORS
    assert pal.rgb8.shape == (len(pal), 3) and np.isfinite(pal.lab).all()


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), nasty_text),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(nasty_text, inner, max_size=3)),
    max_leaves=10,
)


@st.composite
def pattern_docs(draw) -> dict:
    """A pattern.json document: valid, with one part replaced by something odd."""
    h, w = draw(st.integers(1, 8)), draw(st.integers(1, 8))
    n = draw(st.integers(1, 4))
    doc = {
        "format": "craftpix.pattern", "version": 1,
        "medium": draw(st.sampled_from(["beads", "bricks", "stitch"])),
        "brand": draw(st.sampled_from(["dmc", "perler", "lego"])),
        "width": w, "height": h,
        "palette": [{"code": f"C{i}", "name": f"color {i}",
                     "hex": f"#{draw(st.integers(0, 0xFFFFFF)):06X}"} for i in range(n)],
        "cells": [[draw(st.integers(0, n - 1)) for _ in range(w)] for _ in range(h)],
        "meta": {"prompt": draw(nasty_text), "seed": 1, "engine": "photo"},
    }
    spoil = draw(st.sampled_from(["none", "meta", "key", "palette", "cells", "name"]))
    if spoil == "meta":
        doc["meta"][draw(st.sampled_from(["image", "prompt", "seed", "steps", "x"]))] = \
            draw(json_values)
    elif spoil == "key":
        doc[draw(st.sampled_from(list(doc)))] = draw(json_values)
    elif spoil == "palette":
        doc["palette"][0][draw(st.sampled_from(["code", "name", "hex", "symbol"]))] = \
            draw(json_values)
    elif spoil == "cells":
        doc["cells"][0][0] = draw(json_values)
    elif spoil == "name":
        doc["palette"][0]["name"] = draw(nasty_text)
    return doc


@budget(150)
@given(pattern_docs())
def test_fuzz_pattern_loader(doc):
    try:
        text = json.dumps(doc, ensure_ascii=True)  # surrogates travel as \\ud800 escapes
    except (ValueError, RecursionError):
        assume(False)
    try:
        p = Pattern.from_json(text)
    except PatternError as exc:
        assert "\n" not in str(exc)
        return
    assert Pattern.from_json(p.to_json()).to_dict() == p.to_dict()  # what loads, saves


@budget(300)
@given(st.fixed_dictionaries({
    "medium": st.sampled_from(["beads", "bricks", "stitch", "knit"]),
    "size": st.tuples(st.integers(-3, 600), st.integers(-3, 600)),
    "image": st.just("x.png"),
    "colors": st.one_of(st.none(), st.integers(-5, 10**6)),
    "smooth": st.one_of(st.none(), st.floats()),
    "seed": st.integers(-(2**70), 2**70),
    "steps": st.one_of(st.none(), st.integers(-5, 10**7)),
    "fit": st.sampled_from(["crop", "pad", "stretch", "zoom"]),
}))
def test_fuzz_request_ranges(fields):
    try:
        req = PatternRequest(**fields).validated()
    except InputError as exc:
        assert "\n" not in str(exc)
        return
    assert 0 <= req.seed < 2**32 and (req.smooth is None or 0 <= req.smooth <= 100)


# --- fuzz: the whole command line ---------------------------------------------------------
def test_fuzz_craft_commands(good_set):
    outcomes: dict[int, int] = {}

    # 100 fixed examples: each craft offers only its own options and catalogs, so a share of
    # the drawn command lines are (rightly) refused; enough must still reach the exports.
    @budget(100)
    @given(craft_args(), mostly(image_files(), st.binary(max_size=64)),
           st.one_of(st.none(), st.none(), palette_files()))
    def run(command, image, palette):
        medium, args, expect = command
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            (folder / "in.img").write_bytes(image)
            args = [medium, "--image", folder / "in.img", *args]
            if palette is not None:
                kind, text = palette
                (folder / f"pal.{kind}").write_text(text, encoding="utf-8",
                                                    errors="surrogatepass")
                args += ["--palette", folder / f"pal.{kind}"]
            out, before = fresh_out(good_set, folder)
            res = cli(*args, "--out", out)
            check_outcome(res, out, before, **expect)
            outcomes[res.exit_code] = outcomes.get(res.exit_code, 0) + 1

    run()
    print("craft commands: exit status -> runs", outcomes)
    assert outcomes.get(0, 0) >= 10, outcomes  # the runs got through the engine and exports


EXPORT_OPTIONS = [["--no-pdf"], ["--paper", "letter"], ["--formats", "pes"],
                  ["--formats", "xyz"], ["--hoop", "20x20"], ["--merge"], ["--section", "16"],
                  ["--fabric-count", "18"], ["--strands", "0"], ["--part", "tile"]]


def test_fuzz_export_command(good_set):
    outcomes: dict[int, int] = {}

    @budget(40)
    @given(pattern_docs(), st.lists(st.sampled_from(EXPORT_OPTIONS), max_size=2),
           st.booleans())
    def run(doc, options, bom):
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            pj = folder / "in.json"
            text = json.dumps(doc, ensure_ascii=True)
            pj.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())
            out, before = fresh_out(good_set, folder)
            res = cli("export", pj, *[a for o in options for a in o], "--out", out)
            check_outcome(res, out, before, pdf=["--no-pdf"] not in options,
                          size=(doc["width"], doc["height"]))
            if res.exit_code == 0:  # the folder's pattern.json is the exported pattern
                assert "pattern.json" in fileio.read_manifest(out)
                written = Pattern.load(out / "pattern.json")
                cells = [[-1 if v is None else v for v in row] for row in doc["cells"]]
                assert written.cells.tolist() == cells
            outcomes[res.exit_code] = outcomes.get(res.exit_code, 0) + 1

    run()
    print("export commands: exit status -> runs", outcomes)
    assert outcomes.get(0, 0) >= 10, outcomes
