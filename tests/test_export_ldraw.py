"""pattern.ldr: the brick mosaic as an LDraw model, read back with a strict reader of line types 0
and 1; and the Rebrickable and Pick a Brick ordering files against the bill of materials."""

from __future__ import annotations

import csv
import io
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from craftpix.cli import main
from craftpix.export import export_pattern
from craftpix.export.bom import build_bom, resolve_settings
from craftpix.export.layout import section_plan
from craftpix.export.ldraw import ldraw_model
from craftpix.export.merge import merge_plates
from craftpix.export.orders import (
    PICK_A_BRICK_HEADER,
    REBRICKABLE_HEADER,
    element_ids,
    pick_a_brick_csv,
    rebrickable_csv,
)
from craftpix.palette import load_palette
from craftpix.pattern import Color, Pattern

LEGO = load_palette("lego")
# Every colour CODE of LDraw.org's LDConfig.ldr (Configuration UPDATE 2024-04-05), less 16 and
# 24 (main and edge colour: not colours of a placed part).
LDCONFIG_CODES = {
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 17, 18, 19, 20, 21, 22, 23, 25, 26,
    27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 52, 54,
    57, 60, 61, 62, 63, 64, 65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81,
    82, 83, 84, 85, 86, 87, 89, 92, 100, 110, 112, 114, 115, 117, 118, 120, 125, 128, 129, 132,
    133, 134, 135, 137, 142, 147, 148, 150, 151, 158, 176, 178, 179, 183, 184, 185, 186, 189,
    191, 200, 212, 216, 218, 219, 226, 227, 231, 232, 234, 256, 272, 273, 284, 285, 288, 293,
    294, 295, 297, 300, 302, 308, 313, 320, 321, 322, 323, 324, 326, 329, 330, 334, 335, 339,
    341, 350, 351, 353, 360, 362, 363, 364, 365, 366, 367, 368, 370, 371, 373, 375, 378, 379,
    383, 402, 406, 422, 423, 449, 450, 462, 484, 490, 493, 494, 495, 496, 503, 504, 507, 508,
    509, 510, 511, 10002, 10010, 10026, 10030, 10031, 10035, 10036, 10043, 10045, 10046, 10047,
    10049, 10070, 10073, 10078, 10226, 10308, 10320, 10321, 10322, 10323, 10351, 10366, 10375,
    10378, 10484,
}
# Studs along the part's own X and Z (LDraw parts library: 3020.dat spans x ±40, z ±20, ...).
FOOTPRINT = {"3024.dat": (1, 1), "6141.dat": (1, 1), "3070b.dat": (1, 1), "3023.dat": (2, 1),
             "3623.dat": (3, 1), "3710.dat": (4, 1), "3022.dat": (2, 2), "3021.dat": (3, 2),
             "3020.dat": (4, 2)}


def read_ldraw(text: str) -> tuple[list[str], list[list[tuple]]]:
    """A strict reader of LDraw line types 0 and 1 (LDraw File Format 1.0.2).

    Returns the header lines and the steps, each a list of ``(colour, x, y, z, matrix, file)``.
    Any other line type, a malformed line type 1, a rotation that is not a proper rotation, a
    file without a header or a part after the last ``0 STEP`` fails the test.
    """
    assert text.endswith("\n") and "\r" not in text and "\t" not in text
    lines = text[:-1].split("\n")
    assert lines[0].startswith("0 ") and not lines[0].startswith("0 //")  # the title
    assert lines[1].startswith("0 Name: ") and lines[1].endswith(".ldr")
    assert lines[2].startswith("0 Author: ")
    steps: list[list[tuple]] = []
    current: list[tuple] = []
    for line in lines[3:]:
        words = line.split()
        assert words, "no blank lines"
        if words[0] == "0":
            if words[1:] == ["STEP"]:
                steps.append(current)
                current = []
            else:
                assert words[1] == "//", f"unknown meta command: {line}"
            continue
        assert words[0] == "1", f"only line types 0 and 1: {line}"
        assert len(words) == 15, line
        colour = words[1]
        assert colour.isdigit() or (colour.startswith("0x2") and len(colour) == 9)
        x, y, z, *m = (float(w) for w in words[2:14])
        mat = np.array(m).reshape(3, 3)
        assert np.allclose(mat @ mat.T, np.eye(3)) and np.isclose(np.linalg.det(mat), 1.0)
        assert words[14].endswith(".dat")
        current.append((colour, x, y, z, mat, words[14]))
    assert not current, "parts after the last 0 STEP"
    return lines[:3], steps


def occupancy(parts: list[tuple], width: int, height: int) -> np.ndarray:
    """``(H, W)`` count of parts over each cell, from positions, rotations and footprints."""
    grid = np.zeros((height, width), dtype=np.int64)
    for _, x, _, z, mat, name in parts:
        fx, fz = FOOTPRINT[name]
        ext = np.abs(mat) @ np.array([fx, 0, fz]) * 20  # the footprint in model axes, LDU
        x0 = x - ext[0] / 2 + width * 10
        top = height * 10 - (z + ext[2] / 2)  # LDU from the picture's top edge
        c0, r0 = x0 / 20, top / 20
        assert c0 == int(c0) and r0 == int(r0), "parts sit on the stud grid"
        grid[int(r0):int(r0 + ext[2] / 20), int(c0):int(c0 + ext[0] / 20)] += 1
    return grid


def mosaic(w: int = 20, h: int = 18) -> Pattern:
    pick = [LEGO.codes.index(c) for c in ("1", "26", "21", "23")]  # White Black Red Blue
    pal = [Color(LEGO.codes[i], LEGO.names[i], LEGO.hexes[i]) for i in pick]
    cells = np.zeros((h, w), dtype=np.int64)
    cells[0, :] = 3  # a blue top row: the orientation shows
    cells[3:11, 2:10] = 1
    cells[12:14, :] = 2
    cells[min(5, h - 1), min(15, w - 1)] = cells[min(16, h - 1), 1] = -1  # empty: no brick
    return Pattern(cells, pal, "bricks", "lego")


def ldraw_of(cells_code: str) -> int:
    return int(LEGO.extra[LEGO.codes.index(cells_code)]["ldraw_id"])


def test_the_catalog_ldraw_codes_are_ldconfig_codes() -> None:
    codes = [int(e["ldraw_id"]) for e in LEGO.extra]
    assert len(codes) == len(LEGO) and set(codes) <= LDCONFIG_CODES
    assert len(set(codes)) == len(codes)  # one LDraw colour per catalog color
    # LDraw codes are not BrickLink's or LEGO's (CRAFT-FACTS): Black 0 / 11 / 26, White 15 / 1 / 1
    by_lego = {e["lego_id"]: e for e in LEGO.extra}
    assert (by_lego["26"]["ldraw_id"], by_lego["26"]["bricklink_id"]) == ("0", "11")
    assert by_lego["1"]["ldraw_id"] == "15" and by_lego["23"]["ldraw_id"] == "1"
    assert by_lego["194"]["ldraw_id"] == "71" and by_lego["199"]["ldraw_id"] == "72"
    assert by_lego["321"]["ldraw_id"] == "321"


def test_one_part_per_cell_flat_and_the_right_way_round(tmp_path: Path) -> None:
    p = mosaic()
    export_pattern(p, tmp_path, formats="ldr", section=16, pdf=False, preview=False,
                   orders=False)
    header, steps = read_ldraw((tmp_path / "pattern.ldr").read_text(encoding="utf-8"))
    parts = [q for s in steps for q in s]
    assert len(parts) == int((p.cells >= 0).sum())  # one part line per piece
    assert {name for *_, name in parts} == {"3024.dat"}
    assert all(y == 0 for _, _, y, *_ in parts)  # lying flat: every top face at y = 0 (-Y up)
    assert np.array_equal(occupancy(parts, p.width, p.height), (p.cells >= 0).astype(int))
    xs = [x for _, x, *_ in parts]
    zs = [z for _, _, _, z, *_ in parts]
    assert (min(xs) - 10, max(xs) + 10) == (-200, 200)  # 20 LDU per stud: 20 × 20 wide
    assert (min(zs) - 10, max(zs) + 10) == (-180, 180)
    colour = {(x, z): int(c) for c, x, _, z, *_ in parts}
    assert set(colour.values()) <= LDCONFIG_CODES
    # picture row 0 (blue) at the back (+Z), column 0 at -X
    assert colour[(-190, 170)] == ldraw_of("23") == 1
    assert colour[(-190, 170 - 12 * 20)] == ldraw_of("21")  # row 12 is red
    assert len(steps) == len(section_plan(p.width, p.height, 16)) == 4  # one step per baseplate


def test_merged_plates_are_their_own_parts_and_match_the_bom(tmp_path: Path) -> None:
    p = mosaic(32, 20)
    res = export_pattern(p, tmp_path, formats="ldr", merge=True, section=16, pdf=False,
                         preview=False)
    _, steps = read_ldraw((tmp_path / "pattern.ldr").read_text(encoding="utf-8"))
    parts = [q for s in steps for q in s]
    assert res.merged is not None and len(parts) == res.merged.pieces_after
    names = Counter(name.removesuffix(".dat") for *_, name in parts)
    needed = Counter()
    for row in res.bom.rows:
        for line in row.buy:
            needed[line.part] += line.needed
    assert names == needed  # part for part, the bill of materials (before spares)
    assert np.array_equal(occupancy(parts, p.width, p.height), (p.cells >= 0).astype(int))
    assert any(not np.allclose(m, np.eye(3)) for *_, m, _ in parts)  # some plates turned
    # every step's parts lie on its baseplate
    for board, step in zip(section_plan(p.width, p.height, 16), steps, strict=True):
        for _, x, _, z, mat, name in step:
            fx, fz = FOOTPRINT[name]
            ext = np.abs(mat) @ np.array([fx, 0, fz]) * 20
            c0 = (x - ext[0] / 2 + p.width * 10) / 20
            r0 = (p.height * 10 - z - ext[2] / 2) / 20
            assert board.col0 <= c0 and c0 + ext[0] / 20 <= board.col1
            assert board.row0 <= r0 and r0 + ext[2] / 20 <= board.row1
    # each cell's part has the cell's color
    for colour, x, _, z, _mat, _name in parts:
        c = int((x + p.width * 10) // 20)
        r = int((p.height * 10 - z) // 20)
        assert int(colour) == ldraw_of(p.palette[int(p.cells[r, c])].code)


@pytest.mark.parametrize("part,dat", [("round", "6141.dat"), ("tile", "3070b.dat")])
def test_the_chosen_one_by_one_part(part: str, dat: str) -> None:
    p = mosaic(8, 6)
    text, notes = ldraw_model(p, 16, part)
    _, steps = read_ldraw(text)
    assert {name for s in steps for *_, name in s} == {dat} and not notes


def test_a_color_without_an_ldraw_code_is_a_direct_colour() -> None:
    p = mosaic()
    text, notes = ldraw_model(p, 16, ldraw_ids={"1": "15"})
    _, steps = read_ldraw(text)
    colours = {c for s in steps for c, *_ in s}
    assert "15" in colours and "0x2C91A09" in colours  # Red as its RGB
    assert notes and "26" in notes[0]


def test_ldr_only_for_bricks_and_through_the_cli(tmp_path: Path, monkeypatch) -> None:
    from PIL import Image

    monkeypatch.chdir(tmp_path)
    img = np.full((20, 24, 3), 240, np.uint8)
    img[3:15, 4:18] = (200, 20, 20)
    Image.fromarray(img).save("logo.png")
    run = CliRunner().invoke
    r = run(main, ["bricks", "--image", "logo.png", "--size", "24", "--merge", "--formats", "ldr",
                   "--out", "m", "-q"])
    assert r.exit_code == 0, r.output
    for name in ("pattern.ldr", "bricklink.xml", "rebrickable.csv", "lego-pick-a-brick.csv"):
        assert (tmp_path / "m" / name).is_file(), name
    read_ldraw((tmp_path / "m" / "pattern.ldr").read_text(encoding="utf-8"))
    assert Pattern.load("m/pattern.json").settings["formats"] == ["ldr"]  # it sticks
    r = run(main, ["export", "m/pattern.json", "--out", "again"])
    assert r.exit_code == 0 and (tmp_path / "again" / "pattern.ldr").is_file()
    r = run(main, ["stitch", "--image", "logo.png", "--size", "20", "--formats", "ldr"])
    assert r.exit_code == 2 and "LDraw brick model" in r.output
    r = run(main, ["bricks", "--image", "logo.png", "--size", "20", "--formats", "pes"])
    assert r.exit_code == 2 and "cross-stitch" in r.output


# --- Rebrickable and Pick a Brick ---------------------------------------------------------------
def rows_of(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


@pytest.mark.parametrize("merge,part", [(False, "plate"), (True, "plate"), (False, "round"),
                                        (False, "tile")])
def test_ordering_files_have_their_columns_and_the_bom_counts(merge: bool, part: str) -> None:
    p = mosaic(32, 20)
    settings = resolve_settings("bricks", part=part, section=16, merge=merge)
    merged = merge_plates(p.cells, 16) if merge else None
    bom = build_bom(p, settings, merged)
    buy = Counter()
    for row in bom.rows:
        rb_color = LEGO.extra[LEGO.codes.index(row.color.code)]["rebrickable_id"]
        for line in row.buy:
            buy[({"4073": "6141"}.get(line.part, line.part), rb_color)] += line.quantity
    text, missing = rebrickable_csv(bom, "lego")
    rows = rows_of(text)
    assert tuple(rows[0]) == REBRICKABLE_HEADER == ("Part", "Color", "Quantity")
    assert Counter({(r[0], r[1]): int(r[2]) for r in rows[1:]}) == buy and not missing
    if part == "round":
        assert {r[0] for r in rows[1:]} == {"6141"}  # Rebrickable's number for BrickLink 4073

    text, missing = pick_a_brick_csv(bom, "lego")
    rows = rows_of(text)
    assert tuple(rows[0]) == PICK_A_BRICK_HEADER == ("elementId", "quantity")
    ids = element_ids("lego")
    expect, gone = Counter(), []
    for row in bom.rows:
        for line in row.buy:
            key = (row.color.code, line.part)
            if key in ids:
                expect[ids[key]] += line.quantity
            else:
                gone.append(f"{line.part} in {row.color.name}")
    assert Counter({r[0]: int(r[1]) for r in rows[1:]}) == expect
    assert missing == gone
    if part == "plate" and not merge:
        assert ("302401", str(bom.rows[[r.color.code for r in bom.rows].index("1")].buy[0]
                              .quantity)) in {tuple(r) for r in rows[1:]}  # White 3024
    if part == "tile":
        assert rows == [list(PICK_A_BRICK_HEADER)] and len(missing) == len(bom.rows)


def test_pick_a_brick_ids_come_from_the_catalog() -> None:
    ids = element_ids("lego")
    assert ids[("1", "3024")] == "302401" and ids[("26", "3020")] == "302026"
    assert all(part in {"3020", "3022", "3023", "3024", "3623", "3710"} for _, part in ids)
    assert all(v.isdigit() for v in ids.values())


def test_a_brand_from_a_pattern_file_is_a_name_never_a_path(tmp_path: Path) -> None:
    """pattern.json's brand is received text: a path there opens no file."""
    p = mosaic(6, 4)
    p = Pattern(p.cells, p.palette, "bricks", str(Path(__file__).parents[1] / "palettes" / "lego.csv"))
    text, notes = ldraw_model(p, 16)
    _, steps = read_ldraw(text)
    assert all(c.startswith("0x2") for s in steps for c, *_ in s) and notes
    bom = build_bom(p, resolve_settings("bricks", section=16))
    assert rebrickable_csv(bom, p.brand)[1] and pick_a_brick_csv(bom, p.brand)[1]
