"""The colors a pattern may use, how many of each, and what they cost.

* **Before the engine** (:func:`filter_catalog`): ``exclude`` drops colors, ``only`` keeps
  just the listed ones, an inventory keeps the colors it lists with a count above 0.
* **After the engine** (:func:`constrain`): an inventory is a *capacity*: when you own 200
  red beads at most 200 cells are red, and the rest go to the next-best colors. A price per
  color with ``prefer_cheap`` or a ``budget`` trades color accuracy against cost.

The re-assignment is a transportation problem (a min-cost flow on a bipartite graph): cells
are grouped by (reference color, engine label) into sources with a supply, catalog colors are
sinks with a capacity, and the cost of sending a cell to a color is its CIEDE2000 distance
(:func:`craftpix.color.pairwise_delta_e_2000`) plus ``weight × price per cell / median price
per cell``. The engine's own label costs what the cell's nearest color costs, so without
capacity or price pressure nothing changes and the engine's clean-up (smoothing) is kept.
It is solved as a linear program with ``scipy.optimize.linprog`` (HiGHS dual simplex); the
constraint matrix of a transportation problem is totally unimodular, so the vertex solution
is integral for integral supplies and capacities (Dantzig, *Linear Programming and
Extensions*, 1963, ch. 15).

Files:

* ``--only``: codes separated by commas, or a file: one code per line, or any CSV whose
  first column (or ``code`` column) holds codes;
* ``--inventory``: a CSV ``code,count[,price]`` (a header line is optional, ``#`` starts a
  comment). An empty count means "plenty". ``price`` is per unit you buy: a bag of
  :attr:`craftpix.media.Medium.pack_size` beads, one brick plate, one floss skein. A
  ``price`` column in a ``--palette`` CSV works the same way; the inventory's wins.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from craftpix.color import pairwise_match_cost, rgb_to_lab
from craftpix.errors import InputError
from craftpix.palette import Palette

#: ``--prefer-cheap``: a color at the median price per cell costs this many ΔE00 more than a
#: free one, so a color at half the price wins when it is within half of it (≈ one just
#: noticeable difference, ΔE00 ≈ 2; Sharma et al. 2005).
PREFER_CHEAP_WEIGHT = 4.0
#: "Own first, buy the rest": a bought piece costs this many ΔE00 more than an owned one, so an
#: owned color is used unless a catalog color is clearly closer (ΔE00 ≈ 2.3 is one just
#: noticeable difference, Sharma et al. 2005; 6 ≈ two to three of them).
BUY_PENALTY = 6.0
#: A budget that raises the mean ΔE00 by more than this is called out: the pattern no longer
#: looks like the picture (ΔE00 10 ≈ colors of a different name; Sharma et al. 2005 scale).
BUDGET_WARN_DELTA_E = 10.0
#: A color you do not own is bought only for at least this many cells (or 1 % of the pattern).
MIN_BOUGHT_CELLS = 10
#: The price weight at which every cell takes its cheapest color: the cheapest pattern.
CHEAPEST_WEIGHT = 1e6
#: Transportation problems larger than this many (source, color) pairs group reference
#: colors more coarsely (one bit fewer per channel at a time).
MAX_PAIRS = 400_000

__all__ = [
    "BUY_PENALTY", "CHEAPEST_WEIGHT", "PREFER_CHEAP_WEIGHT", "Choice", "Stock", "constrain", "cost_of", "filter_catalog",
    "parse_codes", "read_codes", "read_inventory", "transport", "units_per_price",
]


@dataclass(frozen=True)
class Stock:
    """An inventory: pieces owned per code (``None``: plenty) and prices per unit bought."""

    counts: dict[str, int | None]
    prices: dict[str, float] = field(default_factory=dict)


def parse_codes(text: str) -> list[str]:
    """``"310, 321,b5200"`` → ``["310", "321", "b5200"]`` (empty parts dropped)."""
    return [c.strip() for c in str(text).split(",") if c.strip()]


def _rows(path: Path) -> list[tuple[int, list[str]]]:
    """(line number, cells) of a small CSV, comments and blank lines skipped."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    out = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        cells = next(csv.reader(io.StringIO(line)))
        out.append((lineno, [c.strip() for c in cells]))
    return out


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_codes(value: str | os.PathLike[str]) -> list[str]:
    """``--only``: an existing file (see module docstring) or comma-separated codes.

    Raises :class:`InputError` for an unreadable or empty file, or an empty list.
    """
    path = Path(value)
    if path.is_file():
        rows = _rows(path)
        col = 0
        if rows and "code" in [c.lower() for c in rows[0][1]]:
            col = [c.lower() for c in rows[0][1]].index("code")
            rows = rows[1:]
        codes = [cells[col] for _, cells in rows if len(cells) > col and cells[col]]
        if not codes:
            raise InputError(f"{path} lists no color codes")
        return codes
    if path.suffix.lower() in (".csv", ".txt") or os.sep in str(value):
        raise InputError(f"color list file {path} does not exist")
    codes = parse_codes(str(value))
    if not codes:
        raise InputError("give at least one color code, e.g. --only 310,321,B5200")
    return codes


def read_inventory(path: str | os.PathLike[str]) -> Stock:
    """Read an inventory CSV ``code,count[,price]`` (see module docstring).

    Raises :class:`InputError` (naming the line) for a missing file, a count that is not a
    whole number ≥ 0, a price that is not a number ≥ 0, or a code listed twice.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"inventory file {p} does not exist")
    rows = _rows(p)
    col = {"code": 0, "count": 1, "price": 2}
    if rows and rows[0][1] and rows[0][1][0].lower() == "code":
        header = [c.lower() for c in rows[0][1]]
        col = {k: header.index(k) for k in ("code", "count", "price") if k in header}
        if "count" not in col:
            raise InputError(f"{p}: the header needs a 'count' column (code,count[,price])")
        rows = rows[1:]
    counts: dict[str, int | None] = {}
    prices: dict[str, float] = {}
    for lineno, cells in rows:
        def cell(key: str, cells: list[str] = cells) -> str:
            i = col.get(key)
            return cells[i] if i is not None and i < len(cells) else ""

        code, count, price = cell("code"), cell("count"), cell("price")
        if not code:
            raise InputError(f"{p} line {lineno}: no color code")
        if code in counts:
            raise InputError(f"{p} line {lineno}: color {code!r} is listed twice")
        if count == "":
            counts[code] = None
        elif count.isdigit():
            counts[code] = int(count)
        else:
            raise InputError(f"{p} line {lineno}: count {count!r} is not a whole number")
        if price:
            if not _is_number(price) or float(price) < 0 or not math.isfinite(float(price)):
                raise InputError(f"{p} line {lineno}: price {price!r} is not a number of 0 or more")
            prices[code] = float(price)
    if not counts:
        raise InputError(f"inventory file {p} lists no colors")
    return Stock(counts, prices)


def _lookup(catalog: Palette, codes: Iterable[str], what: str) -> list[int]:
    """Catalog indices of ``codes`` (exact, else case-insensitive); unknown codes raise."""
    exact = {c: i for i, c in enumerate(catalog.codes)}
    folded = {c.lower(): i for i, c in enumerate(catalog.codes)}
    out = []
    for code in codes:
        i = exact.get(code, folded.get(code.lower()))
        if i is None:
            raise InputError(f"{what}: color {code!r} is not in the {catalog.name} catalog")
        out.append(i)
    return out


def filter_catalog(
    catalog: Palette, exclude: Iterable[str] = (), only: Iterable[str] | None = None,
    stock: Stock | None = None,
) -> tuple[Palette, list[str]]:
    """The catalog less ``exclude``, limited to ``only`` and to colors in ``stock`` (count > 0).

    Returns the palette and notes. Codes match exactly, else ignoring case. Raises
    :class:`InputError` for a code the catalog does not have, or when no color is left.
    Inventory codes the catalog lacks are skipped with a note (a shared inventory may list
    another brand's colors).
    """
    keep = set(range(len(catalog)))
    notes: list[str] = []
    if only is not None:
        keep &= set(_lookup(catalog, only, "--only"))
    if stock is not None:
        exact = {c: i for i, c in enumerate(catalog.codes)}
        folded = {c.lower(): i for i, c in enumerate(catalog.codes)}
        owned, unknown = set(), []
        for code, n in stock.counts.items():
            i = exact.get(code, folded.get(code.lower()))
            if i is None:
                unknown.append(code)
            elif n is None or n > 0:
                owned.add(i)
        if unknown:
            notes.append(f"the inventory lists {len(unknown)} color(s) not in the "
                         f"{catalog.name} catalog, left out (first: {unknown[0]})")
        keep &= owned
    keep -= set(_lookup(catalog, exclude, "--exclude"))
    if not keep:
        raise InputError("no colors are left to make the pattern with "
                         "(check --exclude, --only and --inventory)")
    return (catalog if len(keep) == len(catalog) else catalog.subset(sorted(keep))), notes


def _code_map(stock_like: Mapping[str, object], codes: Iterable[str]) -> dict[str, object]:
    """Values of ``stock_like`` for ``codes``, matching exactly or else ignoring case."""
    folded = {k.lower(): v for k, v in stock_like.items()}
    out = {}
    for c in codes:
        if c in stock_like:
            out[c] = stock_like[c]
        elif c.lower() in folded:
            out[c] = folded[c.lower()]
    return out


def units_per_price(medium: str, pack_size: int = 1000, fabric_count: int | None = None,
                    strands: int | None = None) -> tuple[float, str]:
    """Cells one priced unit covers, and the unit's name: a bag of beads, a plate, a skein.

    Skein yield is :func:`craftpix.export.bom.crosses_per_skein` (Danish method, ≈1 750
    crosses at 14 ct with 2 strands).
    """
    if medium in ("beads", "diamond"):
        return float(pack_size), f"bag of {pack_size}"
    if medium == "bricks":
        return 1.0, "plate"
    from craftpix.export.bom import crosses_per_skein, default_strands

    fc = fabric_count or 14
    return crosses_per_skein(fc, strands or default_strands(fc)), "skein"


def cost_of(counts: Mapping[str, int], prices: Mapping[str, float], medium: str,
            pack_size: int = 1000, fabric_count: int | None = None,
            strands: int | None = None, owned: Mapping[str, int | None] | None = None) -> float:
    """What the pieces cost to buy, in the prices' currency: whole bags (spare included),
    plates plus spares, whole skeins — as the bill of materials counts them
    (:mod:`craftpix.export.bom`), after the pieces ``owned`` (:func:`craftpix.prices.packs_to_buy`).
    Colors without a price count 0.
    """
    from craftpix.prices import owned_of, packs_to_buy

    total = 0.0
    for code, n in counts.items():
        price = prices.get(code)
        if price is None or n <= 0:
            continue
        have = owned_of(owned, code, n)
        total += packs_to_buy(medium, n, have, pack_size, fabric_count, strands) * price
    return total


def transport(supply: np.ndarray, cost: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """Solve the transportation problem: ``(S, T)`` whole amounts ``x`` minimizing
    ``sum(cost * x)`` with row sums = ``supply`` (S,) and column sums ≤ ``capacity`` (T,;
    ``inf`` = unlimited).

    Uses ``scipy.optimize.linprog`` (HiGHS dual simplex, whose vertex solutions are
    integral here: see the module docstring). Raises :class:`InputError` when the
    capacities cannot hold the supply.
    """
    from scipy import sparse
    from scipy.optimize import linprog

    supply = np.asarray(supply, dtype=np.float64)
    cost = np.asarray(cost, dtype=np.float64)
    capacity = np.asarray(capacity, dtype=np.float64)
    s, t = cost.shape
    if supply.sum() > capacity.sum():
        raise InputError(f"{int(supply.sum())} cells need a color and only "
                         f"{int(capacity.sum())} pieces are available")
    if np.isinf(capacity).all():  # no limits: every source takes its cheapest color
        x = np.zeros((s, t))
        x[np.arange(s), np.argmin(cost, axis=1)] = supply
        return x.astype(np.int64)
    a_eq = sparse.kron(sparse.eye(s), np.ones((1, t)), format="csr")
    limited = np.flatnonzero(np.isfinite(capacity))
    a_ub = sparse.kron(np.ones((1, s)), sparse.eye(t, format="csr")[limited], format="csr")
    res = linprog(cost.ravel(), A_ub=a_ub, b_ub=capacity[limited], A_eq=a_eq, b_eq=supply,
                  bounds=(0, None), method="highs-ds")
    if res.status != 0:
        raise InputError(f"cannot share the cells among the colors available ({res.message})")
    x = np.floor(res.x.reshape(s, t) + 1e-6).astype(np.int64)
    # integral in theory; repair any floating-point shortfall greedily, cheapest first
    left = capacity - x.sum(0)
    for i in np.flatnonzero(x.sum(1) < supply):
        need = int(supply[i] - x[i].sum())
        for j in np.argsort(cost[i]):
            take = int(min(need, left[j]))
            if take > 0:
                x[i, j] += take
                left[j] -= take
                need -= take
            if need == 0:
                break
    return x


@dataclass
class Choice:
    """What :func:`constrain` decided: new labels into ``palette``, notes and meta values."""

    labels: np.ndarray
    palette: Palette
    notes: list[str] = field(default_factory=list)
    meta: dict[str, object] = field(default_factory=dict)


def _sources(labels: np.ndarray, rgb8: np.ndarray, moving: np.ndarray, n_targets: int
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Group moving cells by (quantized color, label): keys per cell, colors, labels, shift."""
    shift = 0
    while True:
        q = (rgb8[moving].astype(np.int64) >> shift)
        key = (q[:, 0] << 16) | (q[:, 1] << 8) | q[:, 2]
        key = key * (n_targets + 1) + labels[moving]
        uniq, inverse = np.unique(key, return_inverse=True)
        if len(uniq) * n_targets <= MAX_PAIRS or shift >= 5:
            break
        shift += 1
    lab_idx = uniq % (n_targets + 1)
    packed = uniq // (n_targets + 1)
    centre = ((np.stack([packed >> 16, (packed >> 8) & 255, packed & 255], -1) << shift)
              + ((1 << shift) >> 1))
    return inverse.ravel(), centre, lab_idx, shift


@dataclass
class _Sources:
    """Moving cells grouped by (quantized reference color, engine label), with their costs."""

    moving: np.ndarray  # flat indices of the cells that may change
    inverse: np.ndarray  # source of each moving cell
    label: np.ndarray  # engine label of each source
    supply: np.ndarray  # cells per source
    delta_e: np.ndarray  # (sources, targets) match cost; the engine's label at the nearest's cost


def _group(flat: np.ndarray, rgb8: np.ndarray, moving: np.ndarray, targets: Palette) -> _Sources:
    inverse, centre, src_label, _ = _sources(flat, rgb8, moving, len(targets))
    de = pairwise_match_cost(rgb_to_lab(centre / 255.0), targets.lab)
    de[np.arange(len(centre)), src_label] = de.min(axis=1)  # the engine's choice is kept
    supply = np.bincount(inverse, minlength=len(centre)).astype(np.float64)
    return _Sources(np.flatnonzero(moving), inverse, src_label, supply, de)


def _solve(labels: np.ndarray, src: _Sources, capacity: np.ndarray, price_cell: np.ndarray,
           weight: float, extra: np.ndarray | None = None) -> np.ndarray:
    """One re-assignment of the cells in ``src`` (labels index the targets); see
    :func:`constrain`. ``extra`` (targets,) is added to every cell's cost of each target."""
    flat = labels.ravel()
    out = flat.copy()
    if src.moving.size == 0:
        return labels
    fixed = np.bincount(np.delete(flat, src.moving), minlength=len(capacity))
    cost = src.delta_e + weight * price_cell[None, :]
    if extra is not None:
        cost = cost + extra[None, :]
    x = transport(src.supply, cost, capacity - fixed)
    if ((x > 0).sum(axis=1) == 1).all():  # each source goes whole to one color
        out[src.moving] = np.argmax(x, axis=1)[src.inverse]
        return out.reshape(labels.shape)
    # hand out each source's amounts to its cells: cells keep their label where they may
    order = np.argsort(src.inverse, kind="stable")
    starts = np.searchsorted(src.inverse[order], np.arange(len(src.supply)))
    cells = src.moving[order]
    for k in range(len(src.supply)):
        members = cells[starts[k]: starts[k] + int(src.supply[k])]
        amounts = x[k].copy()
        own = int(src.label[k])
        queue = [own] * int(amounts[own])
        amounts[own] = 0
        for j in np.flatnonzero(amounts):
            queue += [int(j)] * int(amounts[j])
        out[members] = queue
    return out.reshape(labels.shape)


def _cheapest(solve: Callable[..., np.ndarray], n_cells: int, owned_cap: np.ndarray | None,
              may_buy: np.ndarray, codes: tuple[str, ...] | list[str],
              prices: Mapping[str, float], packs: Callable[[int], int],
              cost: Callable[[np.ndarray], float], score: np.ndarray) -> tuple[np.ndarray, float]:
    """The cheapest pattern the colors can make, and its cost: what you own used first (it
    costs nothing), the rest in the one color whose whole packs cost least.

    One color is the cheapest: packs are counted per color with whole packs and a spare that
    never shrinks when two colors are merged (:func:`craftpix.export.bom.bags_needed`,
    :func:`craftpix.export.bom.spare`), so splitting cells between colors never buys fewer.
    ``owned_cap`` (targets,) holds the pieces owned (``inf``: plenty), None when nothing is owned;
    among colors of the same cost the one of least ``score`` (targets,: color error) is taken.
    """
    held = 0.0 if owned_cap is None else float(np.minimum(owned_cap.sum(), n_cells))
    rest = int(n_cells - held)
    if rest == 0:
        labels = solve(CHEAPEST_WEIGHT)
        return labels, cost(labels)
    per_color = np.array([prices[c] * packs(rest) if ok else np.inf
                          for c, ok in zip(codes, may_buy, strict=True)])
    allow = np.zeros(len(codes), bool)
    tied = np.flatnonzero(per_color <= per_color.min() + 1e-9)
    allow[int(tied[np.argmin(score[tied])])] = True
    labels = solve(CHEAPEST_WEIGHT, allow)
    return labels, cost(labels)


def _budget_colors(
    src: _Sources, fixed: np.ndarray, start: Iterable[int], targets: Palette, may_buy: np.ndarray,
    budget: float, cost_of_counts: Callable[[np.ndarray], float], pack_price: np.ndarray,
) -> np.ndarray | None:
    """The colors to buy, within ``budget``, that leave the smallest color error: a search over
    color sets, each cell of ``src`` in its nearest color of the set (by
    :func:`craftpix.color.pairwise_match_cost`, ``src.delta_e``), cost in whole packs
    (``cost_of_counts`` of the pieces per color, ``fixed`` pieces added).

    From the colors ``start`` (those first chosen), while over the budget: the step (drop a
    color, or swap one for a cheaper near one) that adds the least error per unit of money
    saved (the greedy rule of the knapsack problem; Dantzig 1957). Then, within the budget, steps that
    lower the error (add, drop, swap a color) while any does. Greedy: a good set, not always the
    best. Returns a (targets,) bool mask, or None when no set within the budget is found.
    """
    n_t = len(targets)
    cand = np.flatnonzero(may_buy)
    sup = src.supply
    memo: dict[frozenset[int], tuple[float, float]] = {}

    def evaluate(s: frozenset[int]) -> tuple[float, float]:
        if s not in memo:
            cols = np.array(sorted(s))
            sub = src.delta_e[:, cols]
            k = np.argmin(sub, axis=1)
            err = float((sub[np.arange(len(k)), k] * sup).sum())
            n = fixed + np.bincount(cols[k], weights=sup, minlength=n_t)
            memo[s] = (err, cost_of_counts(np.rint(n).astype(np.int64)))
        return memo[s]

    near_cache: dict[int, np.ndarray] = {}

    def near(c: int, k: int = 12) -> np.ndarray:
        if c not in near_cache:
            d = pairwise_match_cost(targets.lab[[c]], targets.lab[cand])[0]
            near_cache[c] = cand[np.argsort(d)][1:k + 1]
        return near_cache[c]

    def steps(s: frozenset[int], cheaper: bool) -> Iterable[frozenset[int]]:
        for c in s:
            if len(s) > 1:
                yield s - {c}
            for d in near(c):
                if d not in s and (not cheaper or pack_price[d] < pack_price[c]):
                    yield (s - {c}) | {int(d)}

    s = frozenset(int(c) for c in start if may_buy[c])
    if not s:
        return None
    err, cst = evaluate(s)
    for _ in range(4 * n_t):
        if cst <= budget:
            break
        best = None
        for m in steps(s, True):
            e, k = evaluate(m)
            if k >= cst:
                continue
            key = (e - err) / (cst - k)  # error added per unit saved
            if best is None or key < best[0]:
                best = (key, m, e, k)
        if best is None:
            return None
        _, s, err, cst = best
    if cst > budget:
        return None
    for _ in range(4 * n_t):
        found = None
        adds = (s | {int(d)} for d in cand if d not in s)
        for m in itertools.chain(steps(s, False), adds):
            e, k = evaluate(m)
            if k <= budget and e < err - 1e-9 and (found is None or e < found[1]):
                found = (m, e, k)
        if found is None:
            break
        s, err, cst = found
    allow = np.zeros(n_t, bool)
    allow[sorted(s)] = True
    return allow


def _ran_out(engine: np.ndarray, result: np.ndarray, capacity: np.ndarray, targets: Palette
             ) -> dict[str, dict[str, object]]:
    """Owned colors the engine wanted more of than you own: ``{code: {"owned", "needed",
    "shown_as": [codes the rest took, most cells first]}}``. ``engine``/``result`` (H, W)
    index ``targets``; ``capacity`` (targets,) the pieces owned (``inf``: plenty)."""
    e, r = engine.ravel(), result.ravel()
    wanted = np.bincount(e, minlength=len(targets))
    out: dict[str, dict[str, object]] = {}
    for c in np.flatnonzero(wanted > capacity):
        moved = r[(e == c) & (r != c)]
        if moved.size == 0:
            continue
        took = np.bincount(moved, minlength=len(targets))
        shown = [targets.codes[int(j)] for j in np.argsort(-took, kind="stable") if took[j]]
        out[targets.codes[int(c)]] = {"owned": int(capacity[c]), "needed": int(wanted[c]),
                                      "shown_as": shown}
    return out


def _ran_out_notes(ran: Mapping[str, Mapping[str, object]], targets: Palette) -> list[str]:
    """One plain note per owned color that ran out (see :func:`_ran_out`)."""
    names = dict(zip(targets.codes, targets.names, strict=True))
    notes = []
    for code, v in ran.items():
        shown = ", ".join(names.get(str(c), str(c)) for c in v["shown_as"])  # type: ignore[attr-defined]
        notes.append(f"your {names.get(code, code)} ran out (owned {v['owned']} of {v['needed']} "
                     f"needed): the rest is shown as the nearest owned color ({shown})")
    return notes


#: "Own first, buy the rest": an owned color this many ΔE00 farther from a source color than the
#: catalog's best match is called out (≈ one and a half just noticeable differences, ΔE00 ≈ 2.3;
#: Sharma et al. 2005), so the crafter can buy the better color.
POOR_OWNED_DELTA_E = 3.0


def _poor_owned_notes(result: np.ndarray, reference: np.ndarray, capacity: np.ndarray,
                      targets: Palette, min_cells: int) -> tuple[list[str], dict[str, str]]:
    """Notes naming where an owned color stands in for a source color much worse (by more than
    :data:`POOR_OWNED_DELTA_E` ΔE00) than the best color of ``targets`` would.

    ``result`` (H, W) indexes ``targets``; ``reference`` (H, W, 3) float sRGB 0..1;
    ``capacity`` (targets,) pieces owned (> 0: yours). The best color is the one of least
    :func:`craftpix.color.pairwise_match_cost`; cells are grouped by (owned color, best color),
    groups under ``min_cells`` cells are left out; ΔE00 is CIEDE2000 from the group's mean color.
    Returns the notes (at most 3, most cells first) and ``{owned code: better code}`` of them.
    """
    from craftpix.color import delta_e_2000, pairwise_delta_e_2000, rgb8_to_hex

    rgb8 = np.clip(np.rint(reference.reshape(-1, 3) * 255), 0, 255).astype(np.int64)
    uniq, inverse = np.unique(rgb8, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    lab = rgb_to_lab(uniq / 255.0)
    best = np.argmin(pairwise_match_cost(lab, targets.lab), axis=1)[inverse]
    de = pairwise_delta_e_2000(lab, targets.lab)
    a = result.ravel()
    cells = np.arange(a.size)
    poor = (capacity[a] > 0) & (best != a) & (
        de[inverse, a] - de[inverse, best] > POOR_OWNED_DELTA_E)
    found = []
    for pair in np.unique(np.stack([a[poor], best[poor]], 1), axis=0):
        members = cells[poor][(a[poor] == pair[0]) & (best[poor] == pair[1])]
        if members.size < min_cells:
            continue
        mean = np.rint(rgb8[members].mean(axis=0)).astype(int)
        m_lab = rgb_to_lab(mean / 255.0)
        d_own = float(delta_e_2000(m_lab, targets.lab[pair[0]]))
        d_best = float(delta_e_2000(m_lab, targets.lab[pair[1]]))
        if d_own - d_best > POOR_OWNED_DELTA_E:
            found.append((members.size, targets.codes[pair[0]], targets.codes[pair[1]],
                          f"used your {targets.names[pair[0]]} for "
                          f"{rgb8_to_hex(mean)} (ΔE00 {d_own:.1f}); buying "
                          f"{targets.names[pair[1]]} would match better (ΔE00 {d_best:.1f})"))
    found.sort(key=lambda t: -t[0])
    return [t[3] for t in found[:3]], {t[1]: t[2] for t in reversed(found[:3])}


def constrain(
    labels: np.ndarray, reference: np.ndarray, palette: Palette, catalog: Palette, *,
    medium: str, stock: Stock | None = None, prefer_cheap: bool = False,
    budget: float | None = None, pack_size: int = 1000, fabric_count: int | None = None,
    strands: int | None = None, buyable: Palette | None = None, price_file: str | None = None,
) -> Choice:
    """Re-assign cells so the pattern respects an inventory and a price preference.

    ``labels`` is ``(H, W)`` indices into ``palette`` (the engine's result); ``reference``
    the ``(H, W, 3)`` float sRGB 0..1 cell colors of the image; ``catalog`` every color the
    run may use (``palette`` is a subset). Counts from ``stock`` cap each color; prices come
    from ``stock`` and the catalog's ``price`` column. ``prefer_cheap`` weighs price with
    :data:`PREFER_CHEAP_WEIGHT`. ``budget`` (in the prices' currency; what is owned costs
    nothing, a color without a price costs as much as the dearest) may switch to any color of
    ``catalog`` (or ``buyable``): the colors to buy are chosen by a search over color sets
    (:func:`_budget_colors`: cheaper near colors before fewer colors, cost in whole packs of what
    the pattern uses), then the smallest price weight on those colors whose pattern fits, by
    doubling then bisection (the Lagrangian of the cost constraint); of these and the
    cheapest pattern the one of least color error (:func:`craftpix.color.pairwise_match_cost`)
    is kept. A budget below the cheapest pattern (:func:`_cheapest`: what you own, and the rest
    in the one color whose packs cost least) is refused naming that minimum. ``price_file``
    names the file the prices came from, for the notes. With only owned colors, an owned
    color the engine wanted more of than you own is named in a note (and in ``meta["ran_out"]``);
    when the rest is bought, owned colors that match much worse than a color to buy are named. When the engine's
    colors cannot hold every cell, every owned color is used. When ``buyable`` (the colors that
    may be bought) is given, owned pieces are used first and the rest is bought: each color is a sink twice, owned (its count, no price) and bought
    (unlimited, :data:`BUY_PENALTY` ΔE00 dearer plus its price). Costs count only what is bought. Returns a :class:`Choice`; ``meta`` gets ``cost`` when
    prices are known. Raises :class:`InputError` when the inventory is too small, prices are
    missing for a budget, or the budget cannot be met.
    """
    from craftpix.prices import packs_to_buy, palette_prices

    notes: list[str] = []
    codes = list(palette.codes)
    every = buyable if buyable is not None else catalog
    prices = palette_prices(every.codes, every.extra or (), medium, pack_size, every.name)
    if stock is not None:
        prices.update({c: float(v) for c, v in _code_map(stock.prices, every.codes).items()})
    owned_map = ({c: v for c, v in _code_map(stock.counts, every.codes).items()}
                 if stock is not None else None)
    if (prefer_cheap or budget is not None) and not prices:
        raise InputError("--prefer-cheap and --budget need prices: a 'price' column in the "
                         "--inventory or --palette file")

    def limits(pal: Palette) -> np.ndarray:
        if stock is None:
            return np.full(len(pal), np.inf)
        owned = _code_map(stock.counts, pal.codes)  # not listed: none owned; None: plenty
        return np.array([(np.inf if owned[c] is None else float(owned[c]))  # type: ignore[arg-type]
                         if c in owned else 0.0 for c in pal.codes])

    targets, lab = palette, np.asarray(labels)
    complete = stock is not None and buyable is not None  # own first, buy the rest
    if complete:
        assert buyable is not None
        targets = buyable
        lab = np.array([buyable.codes.index(c) for c in codes])[lab]
    elif stock is not None and limits(palette).sum() < lab.size:
        targets = catalog
        remap = np.array([catalog.codes.index(c) for c in codes])
        lab = remap[lab]
        notes.append(f"your inventory holds fewer than {lab.size} pieces of the {len(palette)} "
                     "colors chosen first, so any color you own may be used")
    elif stock is None and budget is not None:  # a budget may switch to any catalog color
        targets = catalog
        lab = np.array([catalog.codes.index(c) for c in codes])[lab]
    capacity = limits(targets)
    if not complete and capacity.sum() < lab.size:
        raise InputError(f"the pattern needs {lab.size} pieces and the inventory holds only "
                         f"{int(capacity.sum())} of the colors it may use; choose a smaller "
                         "size or add colors")
    per_unit, unit = units_per_price(medium, pack_size, fabric_count, strands)
    raw = np.array([prices.get(c, np.nan) / per_unit for c in targets.codes])
    if (prefer_cheap or budget is not None) and np.isnan(raw).any():
        missing = [c for c, v in zip(targets.codes, raw, strict=True) if np.isnan(v)]
        where = f" in {price_file}" if price_file else ""
        notes.append(f"{len(missing)} color{'s' if len(missing) != 1 else ''} without a price"
                     f"{where} {'are' if len(missing) != 1 else 'is'} treated as the most "
                     "expensive, so they are used only where nothing else is close "
                     f"(first: {missing[0]})")
    known = raw[~np.isnan(raw)]
    scale = float(np.median(known[known > 0])) if (known > 0).any() else 1.0
    price_cell = np.nan_to_num(raw, nan=float(known.max()) if known.size else 0.0) / scale
    # what the budget counts: a color without a price costs as much as the dearest one
    dearest = max((prices[c] for c in targets.codes if c in prices), default=0.0)
    budget_prices = {c: prices.get(c, dearest) for c in targets.codes}

    def cost(lbl: np.ndarray, table: Mapping[str, float] = prices) -> float:
        n = np.bincount(lbl.ravel(), minlength=len(targets))
        return cost_of({c: int(k) for c, k in zip(targets.codes, n, strict=True)}, table,
                       medium, pack_size, fabric_count, strands, owned_map)

    flat = lab.ravel()
    rgb8 = np.clip(np.rint(reference.reshape(-1, 3) * 255), 0, 255).astype(np.int64)
    counts = np.bincount(flat, minlength=len(targets))
    over = np.isin(flat, np.flatnonzero(counts > capacity))  # cells of over-used colors
    groups: dict[object, _Sources] = {}

    n_t = len(targets)

    def solve(w: float, allow: np.ndarray | None = None, raw_sinks: bool = False) -> np.ndarray:
        """The assignment at price weight ``w``; ``allow`` (targets,) bool: the colors that may
        be bought (complete) or used (otherwise)."""
        if complete:  # each color twice: owned (its count, free) and bought (unlimited)
            if "complete" not in groups:
                src = _group(flat, rgb8, np.ones_like(over), targets)
                groups["complete"] = _Sources(
                    src.moving, src.inverse, src.label, src.supply,
                    np.hstack([src.delta_e, src.delta_e + BUY_PENALTY]))
            cap2 = np.concatenate([capacity, buy_cap if allow is None
                                   else np.where(allow, buy_cap, 0.0)])
            price2 = np.concatenate([np.zeros(n_t), price_cell])
            out = _solve(lab, groups["complete"], cap2, price2, w)
            return out if raw_sinks else out % n_t
        every = w > 0 or allow is not None  # else only the cells of over-used colors move
        if every not in groups:
            groups[every] = _group(flat, rgb8, np.ones_like(over) if every else over, targets)
        extra = None if allow is None else np.where(allow, 0.0, 1e9)
        return _solve(lab, groups[every], capacity, price_cell, w, extra)

    buy_cap = np.full(n_t, np.inf)
    weight = PREFER_CHEAP_WEIGHT if prefer_cheap else 0.0
    result = solve(weight)
    if complete:  # no bag bought for a handful of cells: drop such colors once and solve again
        n_used = np.bincount(result.ravel(), minlength=n_t)
        few = (n_used > 0) & (n_used - np.where(np.isfinite(capacity), capacity, n_used)
                              > 0) & (n_used < max(MIN_BOUGHT_CELLS, lab.size // 100))
        few &= ~(capacity > 0)  # colors you own keep their bought top-up
        if few.any():
            buy_cap[few] = 0.0
            result = solve(weight)
    if budget is not None and cost(result, budget_prices) > budget:
        from craftpix.metrics import mean_delta_e

        def bcost(lbl: np.ndarray) -> float:
            return cost(lbl, budget_prices)

        may_buy = buy_cap > 0 if complete else np.ones(n_t, bool)
        if complete:  # owned pieces stay where the plain solution put them; the rest is bought
            sinks = solve(weight, raw_sinks=True).ravel()
            fixed = np.bincount(sinks[sinks < n_t], minlength=n_t)
            start = np.unique(sinks[sinks >= n_t] - n_t)
            src = _group(flat, rgb8, sinks >= n_t, targets) if start.size else None
        else:
            fixed, start = np.zeros(n_t, np.int64), np.unique(result)
            src = _group(flat, rgb8, np.ones(flat.size, bool), targets)
        score = (np.zeros(n_t) if src is None
                 else (src.delta_e * src.supply[:, None]).sum(axis=0))
        cheap_labels, cheapest = _cheapest(
            solve, lab.size, capacity if complete else None, may_buy, targets.codes,
            budget_prices, lambda n: packs_to_buy(medium, n, 0, pack_size, fabric_count, strands),
            bcost, score)
        if cheapest > budget + 1e-9:
            raise InputError(
                f"--budget {budget:.2f} is below the cheapest pattern these colors can make, "
                f"which costs {cheapest:.2f} ({unit} prices, whole packs, spares included"
                + (", what you own subtracted" if stock is not None else "")
                + f"); give --budget {math.ceil(cheapest * 100 - 1e-6) / 100:.2f} or more")

        def lagrange(allow: np.ndarray | None) -> tuple[np.ndarray, float] | None:
            """Smallest price weight (doubling, then bisection) whose pattern fits the budget."""
            first = solve(weight, allow)
            if bcost(first) <= budget:
                return first, weight
            lo, hi, best = weight, max(weight, 0.25), None
            while hi < CHEAPEST_WEIGHT:
                trial = solve(hi, allow)
                if bcost(trial) <= budget:
                    best = trial
                    break
                lo, hi = hi, hi * 2
            if best is None:
                hi = CHEAPEST_WEIGHT
                best = solve(hi, allow)
                if bcost(best) > budget:
                    return None
            for _ in range(10):
                mid = (lo + hi) / 2
                trial = solve(mid, allow)
                if bcost(trial) <= budget:
                    hi, best = mid, trial
                else:
                    lo = mid
            return best, hi

        # candidates within the budget: the colors a search over color sets chose (cheaper
        # near colors before fewer colors), the price-weighted assignment over every color,
        # the cheapest pattern; the one of least color error (match cost) wins
        pack_price = np.array([budget_prices[c] for c in targets.codes])
        chosen = None if src is None else _budget_colors(
            src, fixed, start.tolist(), targets, may_buy, budget,
            lambda n: cost_of({c: int(k) for c, k in zip(targets.codes, n, strict=True) if k},
                              budget_prices, medium, pack_size, fabric_count, strands, owned_map),
            pack_price)
        found = [(cheap_labels, CHEAPEST_WEIGHT)]
        # (with an inventory each solve is a linear program: the weighted one over every color
        # only when the search found no set)
        tries = [chosen] if chosen is not None else []
        for allow in tries + ([None] if not (complete and tries) else []):
            got = lagrange(allow)
            if got is not None:
                found.append(got)
        every_cell = _group(flat, rgb8, np.ones(flat.size, bool), targets)

        def error(lbl: np.ndarray) -> float:
            moved = lbl.ravel()[every_cell.moving]
            return float(every_cell.delta_e[every_cell.inverse, moved].sum())

        best, hi = min(found, key=lambda bw: error(bw[0]))
        before = mean_delta_e(lab, targets.rgb, reference)
        after = mean_delta_e(best, targets.rgb, reference)
        n_colors = len(np.unique(best))
        notes.append(f"to stay within the budget of {budget:.2f} the pattern uses "
                     f"{n_colors} color{'s' if n_colors != 1 else ''} and its mean ΔE00 goes from {before:.1f} "
                     f"to {after:.1f}" + (" (it no longer looks like the picture: raise --budget)"
                                          if after - before > BUDGET_WARN_DELTA_E else ""))
        result, weight = best, hi
    used = sorted(set(int(i) for i in np.unique(result)))
    pos = np.full(len(targets), -1)
    pos[used] = np.arange(len(used))
    choice = Choice(pos[result], targets.subset(used), notes)
    moved = int((np.asarray(targets.codes)[result] != np.asarray(codes)[labels]).sum())
    if complete:
        n = np.bincount(result.ravel(), minlength=n_t)
        bought = int(sum(max(0, int(k) - (int(c) if np.isfinite(c) else int(k)))
                         for k, c in zip(n, capacity, strict=True)))
        choice.meta["bought_cells"] = bought
        if bought:
            held = float(capacity.sum())
            why = (f"your inventory holds {int(held)} pieces and the pattern needs {lab.size}"
                   if held < lab.size else "what you own runs out or matches poorly there")
            notes.append(f"{bought} cells use pieces to buy ({why}): the pattern is completed "
                         f"from the {targets.name} catalog and the shopping list names only "
                         "what to buy (--only-owned: nothing but what you own)")
        poor, better = _poor_owned_notes(result, reference, capacity, targets,
                                         max(MIN_BOUGHT_CELLS, lab.size // 100))
        notes += poor
        if better:
            choice.meta["better_to_buy"] = better
    elif stock is not None and weight == 0:
        choice.meta["inventory_moved_cells"] = moved
        ran = _ran_out(lab, result, capacity, targets)
        if ran:
            choice.meta["ran_out"] = ran
            notes += _ran_out_notes(ran, targets)
        elif moved:
            notes.append(f"{moved} cells took their next-best color to stay within your inventory")
    elif moved:
        choice.meta["price_moved_cells"] = moved
        notes.append(f"{moved} cells took a cheaper color")
    if weight > 0:
        choice.meta["price_weight"] = round(weight, 4)
    if prices:
        choice.meta["cost"] = round(cost(result), 2)
        choice.meta["cost_unit"] = f"per {unit}"
    return choice
