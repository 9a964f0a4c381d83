"""Colors a crafter owns: exclude, only, inventory counts as capacities, prices."""

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from scipy.optimize import linear_sum_assignment

from craftpix.api import PatternRequest, make_pattern
from craftpix.errors import InputError
from craftpix.inventory import (
    Stock,
    constrain,
    cost_of,
    filter_catalog,
    read_codes,
    read_inventory,
    transport,
)
from craftpix.palette import load_palette

PERLER = load_palette("perler")


def _two_halves(h=20, w=20, seed=0):
    """Reference: left half red, right half blue, a little noise (float sRGB 0..1)."""
    rng = np.random.default_rng(seed)
    ref = np.zeros((h, w, 3))
    ref[:, : w // 2] = [0.8, 0.1, 0.1]
    ref[:, w // 2:] = [0.1, 0.2, 0.8]
    return np.clip(ref + rng.normal(0, 0.02, ref.shape), 0, 1)


def _nearest_labels(ref, catalog):
    labels = catalog.nearest(ref)
    used = np.unique(labels)
    return np.searchsorted(used, labels), catalog.subset(used)


def test_inventory_file_with_and_without_header(tmp_path):
    f = tmp_path / "mine.csv"
    f.write_text("# my beads\ncode,count,price\n80-19001,200,3.5\n80-15243,,4\n80-19002,0\n")
    stock = read_inventory(f)
    assert stock.counts == {"80-19001": 200, "80-15243": None, "80-19002": 0}
    assert stock.prices == {"80-19001": 3.5, "80-15243": 4.0}
    g = tmp_path / "bare.csv"
    g.write_text("310,12\n321,3\n")
    assert read_inventory(g).counts == {"310": 12, "321": 3}


@pytest.mark.parametrize("text, message", [
    ("310,many\n", "line 1: count 'many'"),
    ("310,3\n310,4\n", "line 2: color '310' is listed twice"),
    ("310,3,cheap\n", "price 'cheap'"),
    ("310,3,-1\n", "price '-1'"),
    ("code,price\n310,3\n", "'count' column"),
    ("# nothing\n", "lists no colors"),
])
def test_bad_inventory_files_name_the_line(tmp_path, text, message):
    f = tmp_path / "inv.csv"
    f.write_text(text)
    with pytest.raises(InputError, match=message) as err:
        read_inventory(f)
    assert "\n" not in str(err.value)


def test_only_takes_codes_or_a_file(tmp_path):
    assert read_codes("310, 321,,B5200") == ["310", "321", "B5200"]
    f = tmp_path / "owned.txt"
    f.write_text("code,count\n310,4\n321,2\n")
    assert read_codes(f) == ["310", "321"]
    g = tmp_path / "list.txt"
    g.write_text("310\n# comment\n321\n")
    assert read_codes(g) == ["310", "321"]
    with pytest.raises(InputError, match="does not exist"):
        read_codes(tmp_path / "missing.csv")


def test_filter_catalog():
    white, black = "80-19001", "80-19018"
    assert white in PERLER.codes and black in PERLER.codes
    pal, _ = filter_catalog(PERLER, exclude=[white])
    assert white not in pal.codes and len(pal) == len(PERLER) - 1
    pal, _ = filter_catalog(PERLER, only=[white, black.upper()])
    assert set(pal.codes) == {white, black}
    pal, notes = filter_catalog(PERLER, stock=Stock({white: 5, black: 0, "H01": 3}))
    assert pal.codes == (white,) and "not in the perler catalog" in notes[0]
    with pytest.raises(InputError, match="'nope' is not in the perler catalog"):
        filter_catalog(PERLER, exclude=["nope"])
    with pytest.raises(InputError, match="no colors are left"):
        filter_catalog(PERLER, only=[white], exclude=[white])


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_transport_is_optimal_on_small_problems(data):
    """Against the assignment problem on expanded capacities (one column per piece)."""
    s = data.draw(st.integers(1, 4))
    t = data.draw(st.integers(1, 4))
    supply = np.array(data.draw(st.lists(st.integers(1, 3), min_size=s, max_size=s)))
    cap = np.array(data.draw(st.lists(st.integers(0, 4), min_size=t, max_size=t)))
    cost = np.array(data.draw(st.lists(st.floats(0, 50), min_size=s * t, max_size=s * t)))
    cost = cost.reshape(s, t)
    if cap.sum() < supply.sum():
        with pytest.raises(InputError, match="only"):
            transport(supply, cost, cap.astype(float))
        return
    x = transport(supply, cost, cap.astype(float))
    assert (x >= 0).all() and (x.sum(1) == supply).all() and (x.sum(0) <= cap).all()
    rows = np.repeat(np.arange(s), supply)
    cols = np.repeat(np.arange(t), cap)
    big = cost[rows][:, cols]
    r, c = linear_sum_assignment(big)
    assert (cost * x).sum() == pytest.approx(big[r, c].sum(), abs=1e-6)


def test_no_pressure_changes_nothing():
    ref = _two_halves()
    labels, pal = _nearest_labels(ref, PERLER)
    rng = np.random.default_rng(1)
    labels = labels.copy()
    labels[rng.random(labels.shape) < 0.1] = 0  # an engine's smoothing: not the nearest color
    plenty = Stock({c: None for c in PERLER.codes})
    choice = constrain(labels, ref, pal, PERLER, medium="beads", stock=plenty)
    assert np.array_equal(np.asarray(choice.palette.codes)[choice.labels],
                          np.asarray(pal.codes)[labels])


def test_owning_200_red_beads_gives_at_most_200_red_cells():
    """The engine labels cells with the whole catalog (no --colors): the red cells over the
    200 owned go to the next-best color of each cell."""
    from craftpix.color import pairwise_match_cost, rgb_to_lab

    ref = _two_halves(24, 24)  # 288 red-ish cells
    labels = PERLER.nearest(ref)
    red = PERLER.codes[int(np.bincount(labels.ravel()).argmax())]
    n_red = int((np.asarray(PERLER.codes)[labels] == red).sum())
    assert n_red > 200
    stock = Stock({c: (200 if c == red else None) for c in PERLER.codes})
    choice = constrain(labels, ref, PERLER, PERLER, medium="beads", stock=stock)
    codes = np.asarray(choice.palette.codes)[choice.labels]
    assert (codes == red).sum() == 200
    moved = (codes != red) & (np.asarray(PERLER.codes)[labels] == red)
    assert moved.sum() == n_red - 200 == choice.meta["inventory_moved_cells"]
    # each moved cell took its second-best color (by the one color decision)
    de = pairwise_match_cost(rgb_to_lab(ref[moved]), PERLER.lab)
    second = np.asarray(PERLER.codes)[np.argsort(de, axis=1)[:, 1]]
    assert (codes[moved] == second).mean() > 0.9
    # and which 200 stay red was chosen well: better than keeping a random 200
    flat_de = pairwise_match_cost(rgb_to_lab(ref.reshape(-1, 3)), PERLER.lab)
    idx = np.array([PERLER.codes.index(c) for c in codes.ravel()])
    total = flat_de[np.arange(idx.size), idx].sum()
    rng = np.random.default_rng(0)
    was_red = np.flatnonzero((np.asarray(PERLER.codes)[labels] == red).ravel())
    for _ in range(5):
        naive = labels.ravel().copy()
        go = rng.choice(was_red, size=n_red - 200, replace=False)
        naive[go] = np.argsort(flat_de[go], axis=1)[:, 1]
        assert total <= flat_de[np.arange(naive.size), naive].sum() + 1e-9


def test_too_small_an_inventory_is_one_line():
    ref = _two_halves(10, 10)
    labels, pal = _nearest_labels(ref, PERLER)
    with pytest.raises(InputError, match="needs 100 pieces") as err:
        constrain(labels, ref, pal, PERLER, medium="beads",
                  stock=Stock({c: 1 for c in PERLER.codes[:20]}))
    assert "\n" not in str(err.value)


def test_prefer_cheap_and_budget_lower_the_cost():
    ref = _two_halves(30, 30)
    labels, pal = _nearest_labels(ref, PERLER)
    rng = np.random.default_rng(3)
    prices = {c: float(rng.choice([0.05, 0.2, 0.6])) for c in PERLER.codes}
    # a price list, not an inventory: the palette file's price column (owned pieces are free)
    priced = dataclasses.replace(PERLER, extra=tuple({"price": str(prices[c])}
                                                     for c in PERLER.codes))
    base = constrain(labels, ref, pal, priced, medium="bricks")
    cheap = constrain(labels, ref, pal, priced, medium="bricks", prefer_cheap=True)
    assert cheap.meta["cost"] <= base.meta["cost"]
    budget = round(base.meta["cost"] * 0.5, 2)
    capped = constrain(labels, ref, pal, priced, medium="bricks", budget=budget)
    assert capped.meta["cost"] <= budget
    counts = dict(zip(capped.palette.codes, np.bincount(capped.labels.ravel()), strict=True))
    assert cost_of(counts, prices, "bricks") == pytest.approx(capped.meta["cost"], abs=0.01)
    with pytest.raises(InputError, match="below the cheapest pattern") as err:
        constrain(labels, ref, pal, priced, medium="bricks", budget=0.01)
    minimum = float(str(err.value).rsplit("--budget ", 1)[1].split()[0])
    at_min = constrain(labels, ref, pal, priced, medium="bricks", budget=minimum)
    assert at_min.meta["cost"] <= minimum  # the named minimum can be met
    # owned pieces cost nothing to buy
    stock = Stock({c: None for c in PERLER.codes}, prices)
    assert constrain(labels, ref, pal, PERLER, medium="bricks", stock=stock).meta["cost"] == 0
    with pytest.raises(InputError, match="need prices"):
        constrain(labels, ref, pal, PERLER, medium="bricks", prefer_cheap=True)


def test_cost_counts_bags_plates_and_skeins():
    assert cost_of({"a": 900, "b": 10}, {"a": 3.0, "b": 2.0}, "beads") == 3.0 + 2.0  # 1 bag each
    assert cost_of({"a": 1000}, {"a": 3.0}, "beads") == 6.0  # 1000 + 50 spare: 2 bags
    assert cost_of({"a": 10}, {"a": 0.1}, "bricks") == pytest.approx(1.2)  # 10 + 2 spare
    assert cost_of({"a": 1800}, {"a": 1.0}, "stitch", fabric_count=14) == 2.0  # ~1750/skein


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    path = tmp_path_factory.mktemp("inv") / "halves.png"
    img = np.kron(_two_halves(24, 24), np.ones((4, 4, 1)))
    Image.fromarray((img * 255).astype(np.uint8)).save(path)
    return path


def test_the_api_respects_exclude_only_and_inventory(photo, tmp_path):
    base = {"medium": "beads", "image": photo, "size": (24, 24), "steps": 10}
    first = make_pattern(PatternRequest(**base)).pattern
    top = first.palette[0].code
    without = make_pattern(PatternRequest(**base, exclude=(top,))).pattern
    assert top not in [c.code for c in without.palette]
    two = [c.code for c in first.palette[:2]]
    only = make_pattern(PatternRequest(**base, only=",".join(two))).pattern
    assert {c.code for c in only.palette} <= set(two)
    n = int(first.counts()[0])
    inv = tmp_path / "inv.csv"
    inv.write_text("code,count\n" + "\n".join(
        f"{c},{n // 2 if c == top else 1000}" for c in PERLER.codes) + "\n")
    capped = make_pattern(PatternRequest(**base, inventory=inv))
    counts = {c.code: int(k) for c, k in zip(capped.pattern.palette, capped.pattern.counts(),
                                              strict=True)}
    assert counts.get(top, 0) <= n // 2
    assert any("inventory" in note for note in capped.notes)


def test_a_price_column_in_the_palette_file_is_used(tmp_path):
    """Two nearly equal reds, one at a tenth of the price: --prefer-cheap takes the cheap one."""
    from craftpix.palette import load_palette as load

    pal_file = tmp_path / "mine.csv"
    pal_file.write_text("code,name,hex,price\nR1,Red,#C81E1E,10\nR2,Red too,#C31E23,1\n"
                        "B,Blue,#1E3CC8,5\n")
    catalog = load(pal_file)
    ref = np.zeros((6, 6, 3))
    ref[:] = np.array([200, 30, 30]) / 255  # exactly R1
    labels = catalog.nearest(ref)
    assert (np.asarray(catalog.codes)[labels] == "R1").all()
    choice = constrain(labels, ref, catalog, catalog, medium="bricks", prefer_cheap=True)
    assert set(choice.palette.codes) == {"R2"}
    assert choice.meta["cost"] == pytest.approx(36 * 1 + 2 * 1)  # 36 plates + 2 spare
