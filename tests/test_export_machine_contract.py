"""Machine files as a contract: format limits before writing, read-back against the plan."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pyembroidery as emb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from craftpix.errors import CraftpixError, InputError
from craftpix.export import export_pattern
from craftpix.export.embroidery import (
    FORMATS,
    EmbroideryError,
    ascii_name,
    compare_summaries,
    expected_summary,
    plan_cross_stitch,
    read_summary,
    render_format,
)
from craftpix.pattern import Color, Pattern

HYP = settings(derandomize=True, deadline=None, database=None, max_examples=12)
NAMES = ["Rouge foncé", "Красный", "Λευκό", "深紅", "Weiß", "Black", "Crème brûlée", "Ørsted"]


def test_jef_carries_every_trim_of_the_plan(tmp_path: Path) -> None:
    # issue 11: 60x6 white with two 2x2 red blocks ~105 mm apart, 130x180 hoop
    cells = np.zeros((6, 60), dtype=np.int64)
    cells[1:3, 1:3] = 1
    cells[1:3, 57:59] = 1
    pal = [Color("B5200", "Snow White", "#FFFFFF"), Color("321", "Red", "#C7002B")]
    p = Pattern(cells, pal, "stitch", "dmc")
    res = export_pattern(p, tmp_path, formats="jef", hoop="130x180mm", pdf=False, preview=False)
    assert res.stitch_plan is not None
    data = (tmp_path / "pattern.jef").read_bytes()
    got = read_summary(data, "jef")
    want = expected_summary(p, res.stitch_plan, "jef", res.hoop)
    assert want.trims >= 1 and got.trims == want.trims
    assert data.count(b"\x80\x02\x00\x00") >= 3 * want.trims  # trim records, not just jumps


def test_jef_hoop_code_and_edges_match_the_design(tmp_path: Path) -> None:
    p = Pattern(np.zeros((100, 100), dtype=np.int64), [Color("310", "Black", "#000000")],
                "stitch", "dmc")  # 181.4 mm square at 14 ct: Janome's 200x200 hoop (code 4)
    export_pattern(p, tmp_path, formats="jef", hoop="8x8", pdf=False, preview=False)
    data = (tmp_path / "pattern.jef").read_bytes()
    code, hw, hh = struct.unpack_from("<iii", data, 0x20)
    assert code == 4 and (hw, hh) == (907, 907)
    custom = struct.unpack_from("<iiii", data, 0x20 + 4 + 16 + 48)
    assert custom == (93, 93, 93, 93)  # 100 mm - 90.7 mm to each edge of the chosen hoop
    small = struct.unpack_from("<iiii", data, 0x20 + 4 + 16)  # 110x110: does not fit
    assert small == (-1, -1, -1, -1)


def test_jef_beyond_janome_hoops_is_refused_up_front(tmp_path: Path) -> None:
    # issue 11: a 181 x 272 mm design with --hoop 200x280 (no JEF hoop holds it)
    p = Pattern(np.zeros((150, 100), dtype=np.int64), [Color("310", "Black", "#000000")],
                "stitch", "dmc")
    with pytest.raises(InputError, match="JEF files name one of Janome's hoops"):
        export_pattern(p, tmp_path, formats="jef,pes", hoop="200x280")
    assert list(tmp_path.iterdir()) == []
    res = export_pattern(p, tmp_path, formats="pes,dst", hoop="200x280", pdf=False,
                         preview=False)
    assert res.hoop is not None and res.hoop.name == "200x280"


def test_pes_over_255_colors_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    n = 338
    pal = [Color(str(1000 + i), f"c{i}", f"#{i * 40503 % 0xFFFFFF:06X}") for i in range(n)]
    cells = np.arange(40 * 40).reshape(40, 40) % n
    p = Pattern(cells, pal, "stitch", "dmc")
    with pytest.raises(InputError, match="PES files hold at most 255 thread colors.*338"):
        export_pattern(p, tmp_path, formats="pes")
    assert list(tmp_path.iterdir()) == []
    from craftpix.export.embroidery import format_color_limit

    assert format_color_limit("pes,dst") == 255 and format_color_limit("vp3,exp") is None


def test_non_ascii_names_are_transliterated_or_dropped_with_a_note(tmp_path: Path) -> None:
    pal = [Color("347", "Rouge foncé", "#BF2E40"), Color("310", "Красный", "#000000"),
           Color("B5200", "Weiß", "#FFFFFF")]
    cells = np.array([[0, 1, 2, 0], [1, 2, 0, 1], [2, 0, 1, 2]])
    p = Pattern(cells, pal, "stitch", "dmc", {"prompt": "Λευκό crème"})
    res = export_pattern(p, tmp_path, formats="pes,vp3,dst,jef,exp", pdf=False, preview=False)
    assert any("'Rouge fonce'" in n for n in res.notes)
    assert any("Красный" in n and "left out" in n for n in res.notes)
    for fmt in ("pes", "vp3"):
        back = emb.read(str(tmp_path / f"pattern.{fmt}"))
        threads = {t.catalog_number: t.description for t in back.threadlist}
        assert threads == {"347": "Rouge fonce", "310": "310", "B5200": "Weiss"}
    assert ascii_name("Crème brûlée ×2") == "Creme brulee x2"


def test_a_file_that_reads_back_wrong_is_an_error() -> None:
    p = Pattern(np.array([[0, 1], [1, 0]]), [Color("310", "Black", "#000000"),
                                            Color("321", "Red", "#C7002B")], "stitch", "dmc")
    plan = plan_cross_stitch(p, 14)
    want = expected_summary(p, plan, "pes")
    got = read_summary(render_format(p, plan, "pes"), "pes")
    compare_summaries("pes", want, got)
    from dataclasses import replace

    with pytest.raises(EmbroideryError, match="reads back with 0 trims but the plan has 5"):
        compare_summaries("pes", replace(want, trims=5), replace(got, trims=0))
    with pytest.raises(EmbroideryError, match="thread 2"):
        compare_summaries("pes", want, replace(got, threads=(got.threads[0], ("x", None, "#000000"))))
    assert issubclass(EmbroideryError, CraftpixError)


@st.composite
def random_patterns(draw: st.DrawFn) -> Pattern:
    h = draw(st.integers(1, 14))
    w = draw(st.integers(1, 14))
    n = draw(st.integers(1, 5))
    names = draw(st.lists(st.sampled_from(NAMES), min_size=n, max_size=n))
    pal = [Color(f"{100 + i}", nm, f"#{i * 50:02X}{255 - i * 40:02X}{i * 97 % 256:02X}")
           for i, nm in enumerate(names)]
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    cells = rng.integers(-1, n, size=(h, w))
    if (cells < 0).all():
        cells[0, 0] = 0
    return Pattern(cells, pal, "stitch", "dmc", {"prompt": draw(st.sampled_from(NAMES))})


@HYP
@given(random_patterns(), st.sampled_from([11, 14, 18]))
def test_every_format_reads_back_equal_to_its_plan(p: Pattern, count: int) -> None:
    plan = plan_cross_stitch(p, count)
    for fmt in FORMATS:
        data = render_format(p, plan, fmt)  # raises on any mismatch
        got = read_summary(data, fmt)
        want = expected_summary(p, plan, fmt)
        assert got.stitches == want.stitches == plan.stitches
        assert got.color_changes == len(plan.color_order) - 1
        if fmt in ("pes", "vp3"):
            assert [t[0] for t in got.threads] == [p.palette[i].code for i in plan.color_order]


def test_empty_cells_get_no_stitches() -> None:
    cells = np.full((8, 8), -1)
    cells[1:3, 1:3] = 0
    cells[5:7, 5:7] = 0
    p = Pattern(cells, [Color("310", "Black", "#000000")], "stitch", "dmc")
    plan = plan_cross_stitch(p, 14)
    assert plan.regions == 2 and plan.trims == 2  # one between the areas, one at the end
    cu = 254 / 14
    xs = [x for c, x, _ in plan.commands if c == emb.STITCH]
    assert min(xs) == round(1 * cu - 4 * cu) and max(xs) == round(7 * cu - 4 * cu)


@HYP
@given(random_patterns())
def test_backstitch_reads_back_equal_to_its_plan(p: Pattern) -> None:
    from craftpix.export.backstitch import plan_backstitch

    outlined, bs = plan_backstitch(p, None, threshold=10.0)
    plan = plan_cross_stitch(outlined, 14, backstitch=bs)
    for fmt in FORMATS:
        render_format(outlined, plan, fmt)  # raises on any mismatch
