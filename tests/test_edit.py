"""Edits after the fact: every edit returns a valid pattern and does exactly what it says."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from craftpix import edit
from craftpix.errors import InputError
from craftpix.palette import load_palette
from craftpix.pattern import Color, Pattern


def make(cells, codes=("817", "B5200", "310")):
    dmc = load_palette("dmc")
    pal = [Color(c, dmc.names[dmc.codes.index(c)], dmc.hexes[dmc.codes.index(c)]) for c in codes]
    return Pattern(np.array(cells), pal, "stitch", "dmc", {})


def codes_of(p):
    return np.array([[p.palette[i].code for i in row] for row in p.cells])


def test_replace_with_a_catalog_color_not_yet_in_the_pattern():
    p = make([[0, 0, 1], [1, 2, 2]])
    q = edit.replace(p, {"817": "321"})
    assert (codes_of(q) == np.array([["321", "321", "B5200"], ["B5200", "310", "310"]])).all()
    assert "817" not in {c.code for c in q.palette}
    assert q.meta["edits"] == ["replace 817=321"]
    assert p.palette[0].code == "817"  # the input is unchanged
    with pytest.raises(InputError, match="no color"):
        edit.replace(p, {"999": "321"})
    with pytest.raises(InputError, match="not in the dmc catalog"):
        edit.replace(p, {"817": "NOPE"})


def test_replace_two_colors_into_one_merges_them():
    q = edit.replace(make([[0, 1], [2, 2]]), {"817": "310", "B5200": "310"})
    assert {c.code for c in q.palette} == {"310"}


def test_exclude_moves_cells_to_the_nearest_remaining_color():
    codes = ("817", "321", "B5200")  # two reds and white
    p = make([[0, 1, 2], [0, 0, 2]], codes)
    q = edit.exclude(p, ["321"])
    assert (codes_of(q) == np.array([["817", "817", "B5200"], ["817", "817", "B5200"]])).all()
    with pytest.raises(InputError, match="leave none"):
        edit.exclude(p, list(codes))


def test_set_and_fill():
    p = make([[0, 0, 1], [0, 1, 1], [2, 2, 2]])
    q = edit.set_cell(p, 0, 2, "310")
    assert codes_of(q)[0, 2] == "310" and codes_of(q)[1, 2] == "B5200"
    r = edit.fill(p, 0, 0, "321")
    assert (codes_of(r)[:2, :2] == np.array([["321", "321"], ["321", "B5200"]])).all()
    assert (codes_of(r)[2] == "310").all()
    with pytest.raises(InputError, match="outside"):
        edit.set_cell(p, 3, 0, "310")


def test_clean_absorbs_single_cells_into_their_surroundings():
    cells = np.zeros((6, 6), dtype=int)
    cells[3:, :] = 1
    cells[1, 1] = 2  # a stray black cell in red
    cells[4, 4] = 0  # a stray red cell in white
    q = edit.clean(make(cells), max_size=1)
    expected = np.where(np.arange(6)[:, None] < 3, "817", "B5200").repeat(6, axis=1)
    assert (codes_of(q) == expected).all()
    assert {c.code for c in q.palette} == {"817", "B5200"}


def test_convert_keeps_distinct_colors_distinct():
    p = make([[0, 1, 2], [2, 1, 0]])
    hama = load_palette("hama")
    q = edit.convert(p, hama, "hama")
    assert q.brand == "hama" and len(q.palette) == 3
    assert np.array_equal(q.cells == q.cells[0, 0], p.cells == p.cells[0, 0])
    assert all(c.code in hama.codes for c in q.palette)


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 8), st.integers(2, 8), st.integers(0, 2**31), st.integers(1, 4))
def test_clean_never_grows_confetti_and_keeps_the_shape(h, w, seed, k):
    rng = np.random.default_rng(seed)
    p = make(rng.integers(0, 3, (h, w)))
    q = edit.clean(p, max_size=k)
    assert q.cells.shape == (h, w)
    assert len(q.palette) <= len(p.palette)


def test_edits_keep_the_patterns_export_settings():
    p = make([[0, 1], [2, 2]])
    p.settings = {"fabric_count": 18, "paper": "letter"}
    for q in (edit.replace(p, {"817": "321"}), edit.exclude(p, ["310"]),
              edit.set_cell(p, 0, 0, "310"), edit.fill(p, 1, 1, "817"), edit.clean(p),
              edit.convert(p, load_palette("dmc"), "dmc")):
        assert q.settings == {"fabric_count": 18, "paper": "letter"}
        assert q.settings is not p.settings


def test_the_edit_log_stays_bounded_and_counts_what_it_folds():
    """Hours of painting (one entry per cell) keep at most MAX_EDIT_LOG lines in meta, the
    oldest folded into one "… N earlier edits" line that keeps counting."""
    from craftpix.edit import MAX_EDIT_LOG, log_edits

    meta: dict = {}
    log_edits(meta, (f"set 1,{i}=A" for i in range(MAX_EDIT_LOG)))
    assert len(meta["edits"]) == MAX_EDIT_LOG and meta["edits"][0] == "set 1,0=A"
    log_edits(meta, ["set 2,2=B"])
    assert len(meta["edits"]) == MAX_EDIT_LOG
    assert meta["edits"][0] == "… 2 earlier edits" and meta["edits"][-1] == "set 2,2=B"
    log_edits(meta, (f"set 3,{i}=C" for i in range(3 * MAX_EDIT_LOG)))
    assert len(meta["edits"]) == MAX_EDIT_LOG
    assert meta["edits"][0] == f"… {4 * MAX_EDIT_LOG + 1 - (MAX_EDIT_LOG - 1)} earlier edits"
    assert meta["edits"][-1] == f"set 3,{3 * MAX_EDIT_LOG - 1}=C"
