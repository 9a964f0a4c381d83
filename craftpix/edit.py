"""Changes to a finished pattern: swap, drop or paint colors, flood fill, clean up, re-catalog.

Every function takes a :class:`Pattern` and returns a new, valid one (the input is never
changed); the CLI's ``craftpix edit`` / ``craftpix convert``, the web app and scripts all call
these. Cells are addressed ``(row, col)`` from 0 at the top left (the CLI and the charts count
from 1). A color is named by its catalog code; ``None`` as a color means an empty cell (no
piece). Each edit is appended to ``meta["edits"]`` so a pattern shows how it was changed; the
pattern's export settings are carried over unchanged.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from craftpix.color import pairwise_delta_e_2000, pairwise_match_cost, rgb8_to_lab
from craftpix.errors import InputError
from craftpix.palette import Palette, pattern_catalog
from craftpix.pattern import Color, Pattern
from craftpix.symbols import assign_symbols

EMPTY = -1

__all__ = ["EMPTY", "clean", "convert", "exclude", "fill", "replace", "set_cell"]


def _catalog_of(pattern: Pattern, catalog: Palette | None) -> Palette | None:
    """The catalog new colors may come from: the one given, or the built-in catalog the
    pattern's brand names (a name, never a path: :func:`craftpix.palette.pattern_catalog`);
    None for a custom palette's pattern (only its own colors are known)."""
    if catalog is not None:
        return catalog
    return pattern_catalog(pattern.brand)


def _color(pattern: Pattern, code: str, catalog: Palette | None) -> Color:
    for c in pattern.palette:
        if c.code == code:
            return c
    cat = _catalog_of(pattern, catalog)
    if cat is not None and code in cat.codes:
        i = cat.codes.index(code)
        return Color(cat.codes[i], cat.names[i], cat.hexes[i])
    where = f"the {pattern.brand} catalog" if cat is not None else "this pattern"
    raise InputError(f"color {code!r} is not in {where}{_suggest(pattern, code, cat)}")


def _suggest(pattern: Pattern, text: str, cat: Palette | None) -> str:
    """``"; did you mean 80-19005 Red?"`` for a color named by its name (or part of it)."""
    want = text.strip().lower()
    pool = ([(c.code, c.name) for c in pattern.palette]
            + (list(zip(cat.codes, cat.names, strict=True)) if cat is not None else []))
    exact = [(c, n) for c, n in pool if n.lower() == want]
    words = [(c, n) for c, n in pool if want and want in n.lower().split()]
    found = list(dict.fromkeys(exact or words))[:3]
    if not found:
        return ""
    return "; did you mean " + " or ".join(f"{c} {n}" for c, n in found) + "?"


def _has(pattern: Pattern) -> str:
    """The pattern's colors as a user types them: ``"80-19001 Black, 80-19005 Red"``."""
    shown = [f"{c.code} {c.name}" for c in pattern.palette[:12]]
    more = len(pattern.palette) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


#: ``meta`` key: ``{code: symbol}`` of colors edits removed, so their symbols stay theirs
RETIRED = "retired_symbols"
#: Most entries kept in ``meta["edits"]``: older ones fold into one "… N earlier edits" line,
#: so a pattern painted for hours (one entry per cell) stays small in every copy and file.
MAX_EDIT_LOG = 500
_EARLIER = re.compile(r"… (\d+) earlier edits?$")


def log_edits(meta: dict[str, Any], entries: Iterable[str]) -> None:
    """Append ``entries`` to ``meta["edits"]`` (in place), keeping at most
    :data:`MAX_EDIT_LOG` lines: the oldest fold into a first line "… N earlier edits"."""
    log = [*meta.get("edits", []), *entries]
    if len(log) > MAX_EDIT_LOG:
        folded = 0
        if isinstance(log[0], str) and (m := _EARLIER.match(log[0])):
            folded, log = int(m.group(1)), log[1:]
        cut = len(log) - (MAX_EDIT_LOG - 1)
        folded += cut
        log = [f"… {folded} earlier edit{'' if folded == 1 else 's'}", *log[cut:]]
    meta["edits"] = log


def _with(pattern: Pattern, cells: np.ndarray, palette: list[Color], edit: str,
          meta: Mapping[str, object] | None = None,
          handed: Mapping[str, tuple[str, str]] | None = None) -> Pattern:
    meta = dict(pattern.meta if meta is None else meta)
    log_edits(meta, [edit])
    if not (cells >= 0).any():
        raise InputError("that edit would leave the pattern without a single piece")
    out = Pattern(cells, palette, pattern.medium, pattern.brand, meta,
                  dict(pattern.settings)).compact()
    return _stable_symbols(pattern, out, handed)


def _stable_symbols(before: Pattern, after: Pattern,
                    handed: Mapping[str, tuple[str, str]] | None = None) -> Pattern:
    """``after`` with every color's chart symbol pinned: a color keeps the symbol it had (also
    one an earlier edit removed and this one brings back), a new color that took all the cells
    of a color now gone takes its symbol (``handed``: new code → (old code, symbol)), and no
    other new color takes the symbol of a removed one, so a chart printed before the edit
    still reads right."""
    retired = {str(k): str(v) for k, v in dict(before.meta.get(RETIRED) or {}).items()}
    had = {c.code: c.symbol for c in before.palette}
    try:
        had.update(zip((c.code for c in before.palette), before.symbols(), strict=True))
    except ValueError:
        pass
    now = {c.code for c in after.palette}
    retired.update({code: sym for code, sym in had.items() if sym and code not in now})
    pinned: list[str | None] = []
    gift = {new: sym for new, (old, sym) in (handed or {}).items() if old not in now}
    for c in after.palette:  # a color's own symbol (or one handed to it) first
        sym = c.symbol or had.get(c.code) or gift.get(c.code)
        pinned.append(sym if sym and sym not in pinned else None)
    for i, c in enumerate(after.palette):  # then a returning color's, unless another holds it
        sym = retired.get(c.code)
        if pinned[i] is None and sym and sym not in pinned:
            pinned[i] = sym
    held = {s for s in pinned if s}
    retired = {code: sym for code, sym in retired.items() if code not in now and sym not in held}
    syms = assign_symbols([c.code for c in after.palette], after.counts().tolist(), pinned,
                          avoid=set(retired.values()) - {s for s in pinned if s})
    palette = [Color(c.code, c.name, c.hex, s) for c, s in zip(after.palette, syms, strict=True)]
    meta = dict(after.meta)
    if retired:
        meta[RETIRED] = dict(sorted(retired.items()))
    else:
        meta.pop(RETIRED, None)
    return Pattern(after.cells, palette, after.medium, after.brand, meta, dict(after.settings))


def _index(pattern: Pattern, code: str | None, catalog: Palette | None) -> tuple[int, list[Color]]:
    """Palette index of ``code`` (added to a copy of the palette if new); -1 for empty."""
    palette = list(pattern.palette)
    if code is None:
        return EMPTY, palette
    color = _color(pattern, code, catalog)
    for i, c in enumerate(palette):
        if c.code == color.code:
            return i, palette
    palette.append(color)
    return len(palette) - 1, palette


def _check_cell(pattern: Pattern, row: int, col: int) -> None:
    if not (0 <= row < pattern.height and 0 <= col < pattern.width):
        raise InputError(f"cell ({row + 1}, {col + 1}) is outside the {pattern.width}×"
                         f"{pattern.height} pattern (rows and columns count from 1)")


def replace(pattern: Pattern, mapping: Mapping[str, str | None],
            catalog: Palette | None = None) -> Pattern:
    """Give every cell of color ``old`` the color ``new`` for each ``old → new`` in ``mapping``.

    ``new`` may be any color of the catalog (the pattern's own brand unless ``catalog`` is
    given), or ``None`` to empty those cells. A ``new`` color the pattern had no cells of
    takes the chart symbol of the ``old`` one (the first ``old`` when several go to it), so a
    chart printed before still reads. Raises :class:`InputError` for a code the pattern does
    not use or the catalog does not have.
    """
    cells = pattern.cells.copy()
    palette = list(pattern.palette)
    codes = [c.code for c in pattern.palette]
    symbols = dict(zip(codes, pattern.symbols(), strict=True))
    handed: dict[str, tuple[str, str]] = {}  # new code → (old code, its symbol)
    for old, new in mapping.items():
        if old not in codes:
            raise InputError(f"the pattern has no color {old!r}; it has {_has(pattern)}")
        probe = Pattern(pattern.cells, palette, pattern.medium, pattern.brand, pattern.meta)
        j, palette = _index(probe, new, catalog)
        cells[pattern.cells == codes.index(old)] = j
        if j >= len(codes):  # new to the pattern: old's symbol (first come)
            handed.setdefault(palette[j].code, (old, symbols[old]))
    pairs = ", ".join(f"{o}={n or 'empty'}" for o, n in mapping.items())
    meta = dict(pattern.meta)
    if isinstance(meta.get("stands_for"), dict):
        meta["stands_for"] = _inherit_stands_for(meta["stands_for"], mapping, palette)
    return _with(pattern, cells, palette, f"replace {pairs}", meta, handed)


def _inherit_stands_for(shown: Mapping[str, object], mapping: Mapping[str, str | None],
                        palette: list[Color]) -> dict[str, object]:
    """``meta["stands_for"]`` after ``replace(mapping)``: a new color stands for the source
    color the one it replaced stood for, its ΔE00 measured anew (CIEDE2000,
    :func:`craftpix.color.delta_e_2000`, as :func:`craftpix.flatart.stands_for` does); a
    color that was already in the pattern keeps its own entry; emptied colors have none."""
    from craftpix.color import delta_e_2000, hex_to_rgb8

    out = {code: v for code, v in shown.items() if code not in mapping}
    hexes = {c.code: c for c in palette}
    for old, new in mapping.items():
        entry = shown.get(old)
        if new is None or new in out or not isinstance(entry, dict) or "source" not in entry:
            continue
        try:
            src = rgb8_to_lab(np.array(hex_to_rgb8(str(entry["source"])), dtype=np.float64))
        except (ValueError, TypeError):
            continue
        lab = rgb8_to_lab(np.array(hexes[new].rgb8, dtype=np.float64))
        out[new] = {**entry, "delta_e00": round(float(delta_e_2000(src, lab)), 2)}
    return out


def exclude(pattern: Pattern, codes: Iterable[str]) -> Pattern:
    """Remove colors: each of their cells takes the nearest remaining color (CIEDE2000).

    Raises :class:`InputError` for an unknown code or when no color would remain.
    """
    drop = set(codes)
    known = {c.code for c in pattern.palette}
    unknown = sorted(drop - known)
    if unknown:
        raise InputError(f"the pattern has no color {unknown[0]!r}; it has {_has(pattern)}")
    counts = pattern.counts()
    keep = [i for i, c in enumerate(pattern.palette) if c.code not in drop and counts[i] > 0]
    if not keep:
        raise InputError("excluding those colors would leave none")
    lab = rgb8_to_lab(np.array([c.rgb8 for c in pattern.palette], dtype=np.float64))
    dist = pairwise_delta_e_2000(lab, lab[keep])
    nearest = np.array(keep)[np.argmin(dist, axis=1)]
    remap = np.where(np.isin([c.code for c in pattern.palette], list(drop)),
                     nearest, np.arange(len(pattern.palette)))
    cells = np.where(pattern.cells >= 0, remap[np.maximum(pattern.cells, 0)], EMPTY)
    return _with(pattern, cells, list(pattern.palette), f"exclude {','.join(sorted(drop))}")


def set_cell(pattern: Pattern, row: int, col: int, code: str | None,
             catalog: Palette | None = None) -> Pattern:
    """Give one cell (0-based ``row``, ``col``) the color ``code`` (``None``: empty)."""
    _check_cell(pattern, row, col)
    j, palette = _index(pattern, code, catalog)
    cells = pattern.cells.copy()
    cells[row, col] = j
    return _with(pattern, cells, palette, f"set {row + 1},{col + 1}={code or 'empty'}")


def _region(cells: np.ndarray, row: int, col: int) -> np.ndarray:
    """Boolean mask of the 4-connected region of equal cells that holds ``(row, col)``."""
    h, w = cells.shape
    target = cells[row, col]
    mask = np.zeros((h, w), dtype=bool)
    mask[row, col] = True
    todo = deque([(row, col)])
    while todo:
        r, c = todo.popleft()
        for rr, cc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
            if 0 <= rr < h and 0 <= cc < w and not mask[rr, cc] and cells[rr, cc] == target:
                mask[rr, cc] = True
                todo.append((rr, cc))
    return mask


def fill(pattern: Pattern, row: int, col: int, code: str | None,
         catalog: Palette | None = None) -> Pattern:
    """Flood fill: the same-color region around ``(row, col)`` (4-neighbours) becomes ``code``."""
    _check_cell(pattern, row, col)
    j, palette = _index(pattern, code, catalog)
    cells = pattern.cells.copy()
    cells[_region(pattern.cells, row, col)] = j
    return _with(pattern, cells, palette, f"fill {row + 1},{col + 1}={code or 'empty'}")


def clean(pattern: Pattern, max_size: int = 1) -> Pattern:
    """Absorb "confetti": same-color regions of at most ``max_size`` cells (4-connected) take
    the color most of their neighbours have (ties: the nearest color by CIEDE2000).

    Empty cells are never filled and never spread. Regions are visited smallest first, so
    a pair of stray cells is absorbed as a whole.
    """
    if max_size < 1:
        raise InputError(f"clean-up size must be at least 1 cell, got {max_size}")
    cells = pattern.cells.copy()
    h, w = cells.shape
    lab = rgb8_to_lab(np.array([c.rgb8 for c in pattern.palette], dtype=np.float64))
    seen = np.zeros_like(cells, dtype=bool)
    regions = []
    for r in range(h):
        for c in range(w):
            if not seen[r, c] and cells[r, c] >= 0:
                mask = _region(cells, r, c)
                seen |= mask
                if mask.sum() <= max_size:
                    regions.append(mask)
    regions.sort(key=lambda m: int(m.sum()))
    for mask in regions:
        own = cells[mask][0]
        if not (cells[mask] == own).all():
            continue  # an earlier absorption changed it
        ring = np.zeros_like(mask)
        ring[1:] |= mask[:-1]
        ring[:-1] |= mask[1:]
        ring[:, 1:] |= mask[:, :-1]
        ring[:, :-1] |= mask[:, 1:]
        ring &= ~mask
        around = cells[ring]
        around = around[(around >= 0) & (around != own)]
        if around.size == 0:
            continue
        votes = np.bincount(around, minlength=len(pattern.palette))
        best = np.flatnonzero(votes == votes.max())
        if len(best) > 1:
            d = pairwise_delta_e_2000(lab[[own]], lab[best])[0]
            best = best[[int(np.argmin(d))]]
        cells[mask] = int(best[0])
    return _with(pattern, cells, list(pattern.palette), f"clean {max_size}")


def convert(pattern: Pattern, catalog: Palette, brand: str | None = None) -> Pattern:
    """Re-map the pattern to another catalog, one color per color.

    Each pattern color gets a distinct catalog color, chosen as a minimum-cost assignment on
    CIEDE2000 (Hungarian method, ``scipy.optimize.linear_sum_assignment``) so two colors never
    merge into one, unless the catalog has fewer colors than the pattern (then nearest). The
    medium stays; ``brand`` names the new catalog (default: ``catalog.name``).
    """
    from scipy.optimize import linear_sum_assignment

    src = rgb8_to_lab(np.array([c.rgb8 for c in pattern.palette], dtype=np.float64))
    dist = pairwise_match_cost(src, catalog.lab)
    if len(catalog) >= len(pattern.palette):
        rows, cols = linear_sum_assignment(dist)
        target = cols[np.argsort(rows)]
    else:
        target = np.argmin(dist, axis=1)
    chosen = sorted(set(int(t) for t in target))
    pos = {t: i for i, t in enumerate(chosen)}
    # each new color takes the chart symbol of the old color whose cells it mostly took (ties:
    # the first in the palette), so a chart printed before still reads
    old_symbols, counts = pattern.symbols(), pattern.counts()
    heir: dict[int, int] = {}
    for i in sorted(range(len(target)), key=lambda i: -int(counts[i])):  # stable: first come
        if counts[i] > 0:
            heir.setdefault(int(target[i]), i)
    palette = [Color(catalog.codes[t], catalog.names[t], catalog.hexes[t],
                     old_symbols[heir[t]] if t in heir else None) for t in chosen]
    remap = np.array([pos[int(t)] for t in target])
    cells = np.where(pattern.cells >= 0, remap[np.maximum(pattern.cells, 0)], EMPTY)
    meta = dict(pattern.meta)
    log_edits(meta, [f"convert to {brand or catalog.name}"])
    mean = float(dist[np.arange(len(target)), target].mean())
    meta["convert_delta_e00_mean"] = round(mean, 3)
    if isinstance(meta.get("stands_for"), dict):  # each new color stands for its heir's source
        heirs = {pattern.palette[i].code: catalog.codes[t] for t, i in heir.items()}
        meta["stands_for"] = _inherit_stands_for(
            meta["stands_for"], {c.code: heirs.get(c.code) for c in pattern.palette}, palette)
    passed = set(heir.values())  # the other colors' symbols stay theirs (never a new color's)
    retired = {str(k): str(v) for k, v in dict(meta.get(RETIRED) or {}).items()}
    retired.update({c.code: s for i, (c, s) in enumerate(zip(pattern.palette, old_symbols,
                                                             strict=True)) if i not in passed})
    held = {c.symbol for c in palette}
    retired = {k: v for k, v in retired.items() if v not in held}
    if retired:
        meta[RETIRED] = dict(sorted(retired.items()))
    else:
        meta.pop(RETIRED, None)
    return Pattern(cells, palette, pattern.medium, brand or catalog.name, meta,
                   dict(pattern.settings)).compact()

