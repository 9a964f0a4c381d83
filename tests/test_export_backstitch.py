"""Backstitch outlines: strong boundaries, on the charts, in the BOM and in machine files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyembroidery as emb
import pytest
from pypdf import PdfReader

from craftpix.errors import InputError
from craftpix.export import export_pattern
from craftpix.export.backstitch import chain_paths, plan_backstitch, strong_edges
from craftpix.export.embroidery import FORMATS, plan_cross_stitch, read_summary
from craftpix.pattern import Color, Pattern

PAL = [Color("3865", "Winter White", "#F9F7F1"), Color("321", "Red", "#C7002B"),
       Color("3712", "Salmon Medium", "#F08080"), Color("3713", "Salmon Very Light", "#FFE2E2")]


def square() -> Pattern:
    cells = np.zeros((8, 8), dtype=np.int64)
    cells[2:6, 2:6] = 1  # a red square on white: a strong boundary all round
    cells[0, 0] = -1  # one empty cell: outlined against the fabric
    return Pattern(cells, PAL, "stitch", "dmc")


def test_strong_boundaries_only() -> None:
    h, v = strong_edges(square())
    assert h.sum() == 4 + 4 + 1  # top and bottom of the square, the bottom of the empty cell
    assert v.sum() == 4 + 4 + 1
    shade = Pattern(np.array([[2, 2, 3, 3]]), PAL, "stitch", "dmc")  # close salmons: no line
    h, v = strong_edges(shade, threshold=25.0)
    assert not h.any() and not v.any()


def test_paths_use_every_edge_once() -> None:
    h, v = strong_edges(square())
    paths = chain_paths(h, v)
    edges = [(min(a, b), max(a, b)) for p in paths for a, b in zip(p, p[1:], strict=False)]
    assert len(edges) == len(set(edges)) == int(h.sum() + v.sum())
    assert all(abs(a[0] - b[0]) + abs(a[1] - b[1]) == 1 for a, b in edges)


def test_backstitch_in_machine_files_after_the_crosses(tmp_path: Path) -> None:
    p = square()
    res = export_pattern(p, tmp_path, backstitch="auto", formats="pes,dst,jef,exp,vp3",
                         preview=False, orders=False)
    plan = res.stitch_plan
    assert plan is not None and plan.color_order[-1] == [c.code for c in p.palette].index("310")
    # the thread was added to the palette: DMC 310 Black, the catalog's darkest
    assert p.palette[plan.color_order[-1]].code == "310"
    crosses_only = plan_cross_stitch(Pattern(p.cells, p.palette, "stitch", "dmc"), 14)
    assert plan.stitches > crosses_only.stitches
    # the last block holds only edge-long stitches (one cell, 18 units) and the locks
    back = emb.read(str(tmp_path / "pattern.pes"))
    blocks = back.get_as_colorblocks()
    last = list(blocks)[-1][0]
    steps = [abs(a[0] - b[0]) + abs(a[1] - b[1]) for a, b in zip(last, last[1:], strict=False)
             if a[2] == b[2] == emb.STITCH]
    assert steps and max(steps) <= 19
    for fmt in FORMATS:
        data = (tmp_path / f"pattern.{fmt}").read_bytes()
        assert read_summary(data, fmt).color_changes == len(plan.color_order) - 1
    # thread estimate and legend
    row = next(r for r in res.bom.rows if r.color.code == "310")
    assert any("backstitch" in b.note for b in row.buy)
    text = "\n".join(pg.extract_text() for pg in PdfReader(str(tmp_path / "pattern.pdf")).pages)
    assert "backstitch" in text.lower() and "310" in text
    assert res.stored["backstitch"] == "auto"


def test_backstitch_color_and_errors(tmp_path: Path) -> None:
    p2, bs = plan_backstitch(square(), "321")
    assert bs is not None and p2.palette[bs.color].code == "321" and len(p2.palette) == 4
    with pytest.raises(InputError, match="not in the dmc catalog"):
        plan_backstitch(square(), "nope")
    beads = Pattern(np.zeros((2, 2), dtype=np.int64), PAL, "beads", "perler")
    with pytest.raises(InputError, match="cross-stitch"):
        export_pattern(beads, tmp_path, backstitch="auto")
