"""Machine-embroidery files: routing properties and read-back of every format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyembroidery as emb
import pytest

from craftpix.errors import InputError
from craftpix.export import export_all
from craftpix.export.embroidery import (
    FORMATS,
    check_hoop,
    color_order,
    find_regions,
    parse_formats,
    plan_cross_stitch,
    write_embroidery,
)
from craftpix.pattern import Color, Pattern

DMC = [Color("3865", "Winter White", "#F9F7F1"), Color("310", "Black", "#000000"),
       Color("321", "Red", "#C7002B"), Color("797", "Royal Blue", "#13477D")]


def stitch_pattern() -> Pattern:
    """A 22×17 design: background, a ring (one region with a hole), two red areas, noise."""
    cells = np.zeros((17, 22), dtype=np.int64)
    cells[2:12, 3:13] = 1
    cells[4:10, 5:11] = 0  # hole: the black ring is one region around a background island
    cells[12:16, 14:21] = 2
    cells[0, 21] = 2  # a second, single-cell red region
    cells[13, 2:6] = 3
    cells[14, 3] = 3
    cells[15, 9] = 3
    return Pattern(cells, DMC, "stitch", "dmc", {"prompt": "ring and squares"})


def legs_by_cell(pattern: Pattern, fabric_count: int) -> dict[tuple[int, int], list[str]]:
    """Replay the plan: which diagonal legs each cell receives, in order, per thread."""
    plan = plan_cross_stitch(pattern, fabric_count)
    h, w = pattern.cells.shape
    cu = 254 / fabric_count
    xs = {int(round(k * cu - w * cu / 2)): k for k in range(w + 1)}
    ys = {int(round(k * cu - h * cu / 2)): k for k in range(h + 1)}
    legs: dict[tuple[int, int], list[str]] = {}
    thread = 0
    prev = None
    for cmd, x, y in plan.commands:
        if cmd == emb.COLOR_CHANGE:
            thread += 1
        if cmd != emb.STITCH:
            prev = None if cmd in (emb.TRIM, emb.JUMP, emb.COLOR_CHANGE) else prev
            continue
        if prev is not None and x in xs and y in ys and prev[0] in xs and prev[1] in ys:
            (c0, r0), (c1, r1) = (xs[prev[0]], ys[prev[1]]), (xs[x], ys[y])
            if abs(c1 - c0) == 1 and abs(r1 - r0) == 1:
                cell = (min(r0, r1), min(c0, c1))
                slash = (c1 - c0) * (r1 - r0) < 0  # "/" runs bottom-left to top-right
                color = pattern.palette[plan.color_order[thread]].code
                legs.setdefault(cell, []).append(("/" if slash else "\\") + color)
        prev = (x, y)
    return legs


def test_every_cell_gets_a_full_cross_in_its_color() -> None:
    p = stitch_pattern()
    legs = legs_by_cell(p, 14)
    for r in range(p.height):
        for c in range(p.width):
            code = p.palette[p.cells[r, c]].code
            # first leg "/" then "\" on top, both in the cell's own thread, nothing else
            assert legs[(r, c)] == ["/" + code, "\\" + code], (r, c)


def test_plan_order_regions_and_geometry() -> None:
    p = stitch_pattern()
    plan = plan_cross_stitch(p, 14)
    assert plan.color_order == color_order(p) == [0, 1, 2, 3]
    regions = find_regions(p.cells)
    assert plan.regions == len(regions)
    assert plan.per_color_regions == {0: 2, 1: 1, 2: 2, 3: 2}
    # a trim between areas of one thread, before each color change, and at the end
    assert plan.trims == plan.regions
    assert plan.color_changes == 3
    # 14 ct: a cell is 25.4/14 mm = 18.14 units; the design is centred on the origin
    assert plan.width_mm == pytest.approx(22 * 25.4 / 14)
    assert plan.bounds == (-200, -154, 200, 154)
    assert plan.max_stitch_units <= 19 * 2 ** 0.5 + 0.01  # a cell diagonal (corners rounded)
    first = plan.commands[0]
    assert first[0] == emb.JUMP and (first[1], first[2]) != (0, 0)


def test_regions_are_4_connected() -> None:
    cells = np.array([[0, 1], [1, 0]])
    assert len(find_regions(cells)) == 4
    cells = np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]])
    regs = find_regions(cells)
    assert [r.color for r in regs] == [0, 1]
    assert sum(c1 - c0 + 1 for _, c0, c1 in regs[0].runs) == 8


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_read_back_each_format(tmp_path: Path, fmt: str) -> None:
    p = stitch_pattern()
    plan = plan_cross_stitch(p, 14)
    (path,) = write_embroidery(p, tmp_path, [fmt], 14, (100, 100), plan=plan)
    assert path == tmp_path / f"pattern.{fmt}"
    assert [q.name for q in tmp_path.iterdir()] == [path.name]  # no temp files left
    back = emb.read(str(path), dict(FORMATS[fmt].reader_settings))
    assert back is not None
    assert back.count_stitch_commands(emb.STITCH) == plan.stitches
    assert back.count_color_changes() == len(plan.color_order) - 1
    # extents: exactly the design's cell corners (nothing at the origin outside the design)
    assert back.bounds() == pytest.approx(plan.bounds, abs=1)
    limit = FORMATS[fmt].max_stitch_units
    carries_threads = FORMATS[fmt].threads != "none"
    pts = np.array([(s[0], s[1]) for s in back.stitches], dtype=float)
    steps = np.abs(np.diff(np.vstack([[0.0, 0.0], pts]), axis=0)).max(axis=1)
    is_stitch = np.array([s[2] == emb.STITCH for s in back.stitches])
    # stitch after stitch is at most a cell diagonal (VP3 moves after a trim are long stitches)
    sewn = is_stitch[1:] & is_stitch[:-1]
    assert steps[1:][sewn].max() <= min(limit, 27)
    if fmt in ("dst", "exp", "jef"):  # every record is a delta within the format's limit
        assert steps.max() <= limit
    if carries_threads:
        assert len(back.threadlist) == len(plan.color_order)
    if fmt in ("pes", "vp3"):
        codes = [p.palette[i].code for i in plan.color_order]
        assert [t.catalog_number for t in back.threadlist] == codes
        assert [t.hex_color().lower() for t in back.threadlist] == [
            p.palette[i].hex.lower() for i in plan.color_order]
        assert back.threadlist[1].description == "Black"
    if fmt == "jef":  # JEF snaps to Janome's thread chart: nearest colors, same order
        assert back.threadlist[1].hex_color() == "#000000"
    # stitches per thread block match the plan
    blocks = [sum(1 for s in block if s[2] == emb.STITCH)
              for block, _ in back.get_as_colorblocks()]
    plan_blocks = []
    n = 0
    for cmd, _, _ in plan.commands:
        if cmd == emb.COLOR_CHANGE:
            plan_blocks.append(n)
            n = 0
        elif cmd == emb.STITCH:
            n += 1
    plan_blocks.append(n)
    assert [b for b in blocks if b] == plan_blocks


def test_dst_long_jumps_are_split(tmp_path: Path) -> None:
    # two single cells in opposite corners of an 11 ct design: a jump of ~13 cm
    cells = np.zeros((60, 60), dtype=np.int64)
    cells[0, 0] = cells[59, 59] = 1
    p = Pattern(cells, DMC[:2], "stitch", "dmc")
    (path,) = write_embroidery(p, tmp_path, ["dst"], 11, (200, 200))
    back = emb.read(str(path))
    pts = np.array([(s[0], s[1]) for s in back.stitches], dtype=float)
    steps = np.abs(np.diff(pts, axis=0))
    assert steps.max() <= 121
    assert back.count_stitch_commands(emb.JUMP) > 5


def test_hoop_too_small_is_a_clear_error(tmp_path: Path) -> None:
    p = Pattern(np.zeros((100, 60), dtype=np.int64), DMC, "stitch", "dmc")  # 108.9 × 181.4 mm
    with pytest.raises(InputError, match=r"108\.9 x 181\.4 mm.*100x100 mm hoop"):
        write_embroidery(p, tmp_path, ["pes"], 14, (100, 100))
    with pytest.raises(InputError, match="130x180"):
        export_all(p, tmp_path, formats="dst", hoop=(130.0, 180.0))
    with pytest.raises(InputError, match="--hoop 140x200"):  # names the preset that fits
        export_all(p, tmp_path, formats="dst", hoop="5x7")
    assert list(tmp_path.iterdir()) == []  # checked before anything was written
    assert check_hoop(60, 100, 14, (130, 200)) == pytest.approx((60 * 25.4 / 14, 100 * 25.4 / 14))
    # by area and shape: a design that fits only turned is accepted, and sewn turned
    assert check_hoop(100, 60, 14, (130, 200)) == pytest.approx((100 * 25.4 / 14, 60 * 25.4 / 14))
    wide = Pattern(np.zeros((60, 100), dtype=np.int64), DMC, "stitch", "dmc")
    (path,) = write_embroidery(wide, tmp_path, ["dst"], 14, (130, 200))
    back = emb.read(str(path))
    xs = [s[0] for s in back.stitches if s[2] == emb.STITCH]
    ys = [s[1] for s in back.stitches if s[2] == emb.STITCH]
    assert max(xs) - min(xs) < 1100 < max(ys) - min(ys)  # 108.9 mm across, 181.4 mm down


def test_parse_formats() -> None:
    assert parse_formats("PES, dst,pes") == ("pes", "dst")
    assert parse_formats("none") == ()
    assert parse_formats(None) == ()
    with pytest.raises(InputError, match="unknown embroidery format 'xyz'"):
        parse_formats("pes,xyz")


def test_embroidery_needs_a_stitch_pattern(tmp_path: Path) -> None:
    p = Pattern(np.zeros((5, 5), dtype=np.int64), DMC, "beads", "perler")
    with pytest.raises(InputError, match="cross-stitch"):
        export_all(p, tmp_path, formats="pes", pdf=False, preview=False)


@pytest.mark.parametrize("fmt", ["dst", "pes"])
def test_nothing_at_the_origin_when_the_design_is_not_there(tmp_path: Path, fmt: str) -> None:
    # odd sizes: the origin (hoop centre) is the middle of a cell, never a stitch point
    p = Pattern(np.arange(21 * 15).reshape(15, 21) // 40 % 3, DMC, "stitch", "dmc")
    (path,) = write_embroidery(p, tmp_path, [fmt], 14, (100, 100))
    back = emb.read(str(path))
    assert all((s[0], s[1]) != (0, 0) for s in back.stitches)
    plan = plan_cross_stitch(p, 14)
    assert all((x, y) != (0, 0) for _, x, y in plan.commands)


def test_export_all_checks_hoop_values(tmp_path: Path) -> None:
    p = stitch_pattern()
    with pytest.raises(InputError, match="hoop"):
        export_all(p, tmp_path, formats="dst", hoop=(0, 5))
    paths = export_all(p, tmp_path, paper="A4", formats="dst", hoop="60x60", preview=False,
                       orders=False)
    assert [q.name for q in paths] == ["pattern.pdf", "pattern.dst", "pattern.json"]
