"""The photo engine: a photo or drawing → catalog colors per cell, in well under a second.

A discrete labelling problem over the cells that have a piece (Potts MRF):

    E(f) = Σ_p ΔE00(x_p, c_{f_p}) + Σ_{p~q} w_pq · [f_p ≠ f_q]

* data term: CIEDE2000 between the cell's color ``x_p`` and the chosen catalog color;
* contrast-sensitive Potts term over 4-neighbours, ``w_pq = smooth · POTTS ·
  exp(−ΔE00(x_p, x_q)² / (2σ²))`` with σ² the mean squared ΔE00 between neighbouring cells
  (Boykov & Jolly, ICCV 2001; the GrabCut β of Rother et al., SIGGRAPH 2004): two cells of
  one flat area want one color, while a cut along a strong image edge is almost free, so
  outlines and shapes stay crisp;

minimized by α-expansion graph cuts (:mod:`craftpix.engines.labeling`, max-flow from scipy).
The catalog colors are chosen jointly with the labelling: a per-image number of colors
(:meth:`craftpix.palette.Palette.choose`), then each label's catalog color is re-picked for
the cells it actually got and the cells relabelled, while the energy falls. Last, tiny blobs
(1–3 cells of one color) are absorbed into a neighbour when that costs less than
``smooth · BLOB_PENALTY`` ΔE00. ``smooth = 0`` gives exactly the nearest catalog color.

Flat art (few real colors: logos, clip art, banners, sprites, line art; see
:mod:`craftpix.flatart`, or :func:`craftpix.imageio.flat_colors` without it) is mapped by its
real colors: each source color takes its nearest catalog color (:func:`craftpix.color.
pairwise_match_cost`), and two source colors a person tells apart (ΔE00 >
:data:`craftpix.flatart.SAME_COLOR_DE00`) that land on one catalog color are kept apart when the
less frequent one has another unused catalog color at most :data:`DISTINCT_COST` worse
(:func:`map_flat_colors`); two whites 3 units apart both become White. A cell made of one real
color keeps it, and a cell that mixes several (anti-aliased, ringing or blended pixels) takes one
of the real colors it holds, decided by the labelling: never a fringe color of its own.

Cells less than half covered (alpha < 0.5) are empty (index -1), or take the background color
when one is given. No torch on this path: numpy and scipy only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from craftpix.color import (
    hex_to_rgb8,
    linear_to_srgb,
    pairwise_delta_e_2000,
    pairwise_match_cost,
    rgb_to_lab,
    srgb_to_linear,
)
from craftpix.engines.labeling import absorb_blobs, alpha_expansion, grid_edges, potts_energy
from craftpix.errors import InputError
from craftpix.flatart import SAME_COLOR_DE00, FlatArt
from craftpix.imageio import Reference
from craftpix.notes import Hint, Note
from craftpix.palette import Palette, choose_indices, unique_colors

__all__ = [
    "BLOB_PENALTY",
    "COLOR_CAPS",
    "POTTS",
    "PhotoResult",
    "PhotoSettings",
    "clean_up",
    "contrast_weights",
    "label_fixed_colors",
    "make_photo_pattern",
    "map_flat_colors",
]

#: Potts weight per unit of ``smooth``, in ΔE00 per cut neighbour pair (tuned on scikit-image's
#: photographs, see docs/BENCHMARKS.md).
POTTS = 1.9
#: Price of one blob of 1–3 cells per unit of ``smooth``, in ΔE00 summed over the blob.
BLOB_PENALTY = 3.0
#: Most colors chosen automatically (``colors=None``), per medium.
COLOR_CAPS = {"beads": 16, "bricks": 16, "stitch": 30, "diamond": 30}
DEFAULT_CAP = 16
#: Mean ΔE00 per cell that one more color must save to be added (``colors=None``).
COLOR_GAIN = 0.15
#: α-expansion cycles over the labels (a third cycle changed ΔE00 by < 0.001 on the benchmark).
CYCLES = 2
#: Cells with less coverage than this are empty (or take the background color).
EMPTY_BELOW = 0.5
#: Distinct cell colors the color choice looks at (grouped by fewer bits beyond this).
SAMPLE_COLORS = 1024
_FIXED = 1e4  # data cost that keeps a cell off a label (exact flat-art cells)
#: Flat art: a source color a person tells apart from a more frequent one that took the same
#: catalog color moves to its best unused catalog color when that costs at most this much more
#: (:func:`craftpix.color.pairwise_match_cost` units, ≈ΔE00); else the two share the color.
DISTINCT_COST = 8.0
#: Flat art: a cell holds a real color when at least this share of its pixels belong to it, and
#: is that color alone from PURE_SHARE.
HOLDS_SHARE = 0.1
PURE_SHARE = 0.9


@dataclass
class PhotoSettings:
    """What the user asked for (see the module docstring)."""

    colors: int | None = None    # cap; None = chosen per image (capped per medium)
    smooth: float = 1.0          # 0 = exactly the nearest catalog color per cell
    dither: bool = False         # Floyd–Steinberg over the chosen colors (not for flat art)
    seed: int = 0
    background: str | None = None  # None/"none": transparent → empty cells; else code or hex
    medium: str = "beads"        # for the per-medium color cap
    features: bool = True        # spare faces' features and small details (craftpix.features)


@dataclass
class PhotoResult:
    """Cell indices into ``palette`` (-1 = empty cell), the colors and notes for the user."""

    indices: np.ndarray          # (H, W) int64 into `palette`; -1 = empty cell (no piece)
    palette: Palette             # the colors chosen (a subset of the catalog, Palette.subset)
    notes: list[str] = field(default_factory=list)


def contrast_weights(lab: np.ndarray, edges: np.ndarray, strength: float) -> np.ndarray:
    """Contrast-sensitive Potts weights ``strength · exp(−ΔE00² / (2σ²))`` per edge, (E,).

    ``lab`` (N, 3) CIELAB of the cells, ``edges`` (E, 2). σ² is the mean squared ΔE00 over
    the edges (at least 1), so the weights adapt to the image's own contrast.
    """
    if len(edges) == 0:
        return np.zeros(0)
    from craftpix.color import delta_e_2000

    de = delta_e_2000(lab[edges[:, 0]], lab[edges[:, 1]])
    sigma2 = max(float(np.mean(de**2)), 1.0)
    return strength * np.exp(-(de**2) / (2.0 * sigma2))


def _background_index(catalog: Palette, background: str) -> int:
    text = background.strip()
    for i, code in enumerate(catalog.codes):
        if code.lower() == text.lower():
            return i
    if re.fullmatch(r"#?[0-9A-Fa-f]{6}", text):
        rgb = np.array(hex_to_rgb8(text), dtype=np.float64) / 255.0
        return int(catalog.nearest(rgb[None])[0])
    raise InputError(f"--background {background!r} is neither a {catalog.name} color code nor "
                     "a hex color like #FFFFFF (or 'none')")


def make_photo_pattern(reference: Reference, catalog: Palette, settings: PhotoSettings,
                       flat: FlatArt | None = None) -> PhotoResult:
    """Cell colors for ``reference`` from ``catalog`` (see the module docstring).

    ``flat`` (from :func:`craftpix.flatart.find_flat_art` on the same grid) marks flat art and
    gives each cell's real colors; without it ``reference.flat_colors`` decides. Returns indices (H, W) into the returned palette, a subset of ``catalog`` holding only
    the colors used, and notes for the summary. Raises InputError for a bad ``background``, a
    color count below 1 or an image without any opaque cell.
    """
    if settings.colors is not None and settings.colors < 1:
        raise InputError("the number of colors must be at least 1")
    rgb = np.asarray(reference.rgb, dtype=np.float64)
    h, w = rgb.shape[:2]
    notes: list[str] = []
    bg = None
    if settings.background is not None and settings.background.strip().lower() != "none":
        bg = _background_index(catalog, settings.background)
    covered = np.ones((h, w), dtype=bool)
    if reference.alpha is not None:
        alpha = np.asarray(reference.alpha, dtype=np.float64)
        covered = alpha >= EMPTY_BELOW
        if bg is not None:  # partly covered cells are seen over the background
            lin = srgb_to_linear(rgb) * alpha[..., None] + srgb_to_linear(
                catalog.rgb[bg]) * (1.0 - alpha[..., None])
            rgb = np.clip(linear_to_srgb(lin), 0.0, 1.0)
    if not covered.any() and bg is None:
        raise InputError("the image is fully transparent: nothing to make "
                         "(give --background COLOR to fill it)")
    cells = rgb[covered]
    cap = COLOR_CAPS.get(settings.medium, DEFAULT_CAP)
    if (flat is not None or reference.flat_colors is not None) and len(cells):
        labels, chosen = _flat_labels(reference, catalog, settings, rgb, covered, flat)
        if settings.dither:
            notes.append("flat art is mapped color for color; --dither was not used")
    else:
        labels, chosen = _photo_labels(catalog, settings, rgb, covered, cap, notes,
                                       reference.fitted)
    indices = np.full((h, w), -1, dtype=np.int64)
    indices[covered] = np.asarray(chosen, dtype=np.int64)[labels] if len(cells) else 0
    if bg is not None:
        indices[~covered] = bg
    used = np.unique(indices[indices >= 0])
    remap = np.full(len(catalog), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    out = np.where(indices >= 0, remap[np.maximum(indices, 0)], -1)
    if settings.colors is None:
        notes.insert(0, Note(f"chose {len(used)} color{'' if len(used) == 1 else 's'} for this "
                             "image", [Hint("colors", "N", "to set the number")]))
    return PhotoResult(out, catalog.subset(used), notes)


def _photo_labels(catalog: Palette, settings: PhotoSettings, rgb: np.ndarray, covered: np.ndarray,
                  cap: int, notes: list[str], fitted: Image.Image | None = None,
                  ) -> tuple[np.ndarray, list[int]]:
    """Labels (N covered cells,) into ``chosen`` catalog indices, for a photo."""
    h, w = covered.shape
    cells = rgb[covered]
    feats = None  # the feature map (craftpix.features): faces' features and small details
    if settings.features and not settings.dither:
        from craftpix.features import feature_map

        feats = feature_map(rgb, covered, fitted)
        cells = feats.sharpen(rgb)[covered]
    colors_u, w_u, group = unique_colors(
        cells, weights=None if feats is None else feats.color_weights()[covered],
        max_colors=SAMPLE_COLORS, return_inverse=True)
    d_u = pairwise_match_cost(rgb_to_lab(colors_u), catalog.lab)  # (U, M)
    chosen = sorted(choose_indices(d_u, w_u, catalog.lab, settings.colors, cap, COLOR_GAIN))
    cell_lab = rgb_to_lab(cells)
    if settings.dither:
        from craftpix.dither import floyd_steinberg

        grid = floyd_steinberg(rgb, catalog.rgb[chosen])
        return grid[covered].astype(np.int64), chosen
    unary = pairwise_delta_e_2000(cell_lab, catalog.lab[chosen])  # cells among the chosen: ΔE00
    if settings.smooth <= 0:
        return np.argmin(unary, axis=1), chosen
    edges = _compact_edges(h, w, covered)
    weights = contrast_weights(cell_lab, edges, settings.smooth * POTTS)
    if feats is not None:
        weights = weights * feats.edge_scale(_full_edges(edges, covered))
    labels = alpha_expansion(unary, edges, weights, max_cycles=CYCLES)
    energy = potts_energy(labels, unary, edges, weights)
    # Joint choice: re-pick each label's catalog color for the cells it got, relabel, repeat.
    for _ in range(3):
        k = len(chosen)
        hist = np.zeros((len(colors_u), k))
        np.add.at(hist, (group, labels), 1.0)
        cost = hist.T @ d_u  # (k, M): data cost of giving label j catalog color m
        new = list(chosen)
        for j in np.argsort(-hist.sum(0)):
            row = cost[j].copy()
            row[[c for i, c in enumerate(new) if i != j]] = np.inf
            new[j] = int(np.argmin(row))
        if new == chosen:
            break
        unary_new = pairwise_delta_e_2000(cell_lab, catalog.lab[new])
        labels_new = alpha_expansion(unary_new, edges, weights, init=labels, max_cycles=CYCLES)
        e = potts_energy(labels_new, unary_new, edges, weights)
        if e >= energy:
            break
        chosen, unary, labels, energy = new, unary_new, labels_new, e
    full = absorb_blobs(_full_labels(labels, covered), _full_unary(unary, covered),
                        _full_edges(edges, covered), weights, (h, w),
                        settings.smooth * BLOB_PENALTY, valid=covered.ravel(),
                        protect=None if feats is None else feats.protected().ravel())
    labels = full[covered.ravel()]
    return labels, chosen


def _compact_edges(h: int, w: int, covered: np.ndarray) -> np.ndarray:
    """4-neighbour pairs between covered cells, numbered among the covered cells only."""
    edges = grid_edges(h, w, covered)
    number = np.cumsum(covered.ravel()) - 1
    return number[edges]


def _full_edges(edges: np.ndarray, covered: np.ndarray) -> np.ndarray:
    return np.flatnonzero(covered.ravel())[edges]


def _full_labels(labels: np.ndarray, covered: np.ndarray) -> np.ndarray:
    full = np.full(covered.size, -1, dtype=np.int64)
    full[covered.ravel()] = labels
    return full


def _full_unary(unary: np.ndarray, covered: np.ndarray) -> np.ndarray:
    full = np.zeros((covered.size, unary.shape[1]))
    full[covered.ravel()] = unary
    return full


def map_flat_colors(src_lab: np.ndarray, counts: np.ndarray, catalog: Palette,
                    colors: int | None = None) -> list[int]:
    """The catalog color (index) for each flat-art source color (module docstring).

    ``src_lab`` (S, 3) CIELAB, ``counts`` (S,) pixels of each. With ``colors`` below S the
    catalog colors are first chosen for the image (:meth:`Palette.choose`) and each source color
    takes its nearest among them. Else each takes its nearest catalog color by
    :func:`craftpix.color.pairwise_match_cost`; then, most frequent first, a source color that a
    person tells apart (ΔE00 > SAME_COLOR_DE00) from a more frequent one on the same catalog
    color moves to its best catalog color no source uses, if that costs at most DISTINCT_COST
    more. Returns S catalog indices.
    """
    d = pairwise_match_cost(src_lab, catalog.lab)  # (S, M)
    if colors is not None and colors < len(src_lab):
        from craftpix.color import lab_to_rgb

        src = np.clip(lab_to_rgb(src_lab), 0.0, 1.0)
        sub = catalog.choose(src, n=min(colors, len(catalog)), weights=np.asarray(counts, float))
        pool = [catalog.codes.index(c) for c in sub.codes]
        return [pool[i] for i in np.argmin(d[:, pool], axis=1)]
    mapping = [int(m) for m in np.argmin(d, axis=1)]
    apart = pairwise_delta_e_2000(src_lab, src_lab) > SAME_COLOR_DE00
    order = np.argsort(-np.asarray(counts, dtype=np.float64), kind="stable")
    for pos, t in enumerate(order):
        if not any(mapping[s] == mapping[t] and apart[s, t] for s in order[:pos]):
            continue
        row = d[t].copy()
        row[mapping] = np.inf
        m = int(np.argmin(row))
        if np.isfinite(row[m]) and row[m] <= d[t, mapping[t]] + DISTINCT_COST:
            mapping[t] = m
    return mapping


def _flat_labels(reference: Reference, catalog: Palette, settings: PhotoSettings, rgb: np.ndarray,
                 covered: np.ndarray, flat: FlatArt | None = None) -> tuple[np.ndarray, list[int]]:
    """Labels (N covered cells,) into source colors, and each source's catalog index, for
    flat art (module docstring)."""
    h, w = covered.shape
    if flat is not None:
        src, counts = np.asarray(flat.colors, dtype=np.float64), np.asarray(flat.counts, float)
    else:
        src = np.asarray(reference.flat_colors, dtype=np.float64)
        counts = np.asarray(reference.flat_counts, dtype=np.float64)
    src_lab = rgb_to_lab(src)
    mapping = map_flat_colors(src_lab, counts, catalog, settings.colors)
    cells = rgb[covered]
    cell_lab = rgb_to_lab(cells)
    unary = pairwise_delta_e_2000(cell_lab, src_lab)  # (N, S): distance to the source colors
    if flat is not None:
        shares = np.asarray(flat.shares, dtype=np.float64)[covered]
        known = shares.sum(axis=1) > 0
        holds = shares >= np.minimum(HOLDS_SHARE, shares.max(axis=1, keepdims=True))
        unary[known] = np.where(holds[known], unary[known], _FIXED)
        pure = known & (shares.max(axis=1) >= PURE_SHARE)
        exact = pure
        unary[pure] = np.where(shares[pure] >= PURE_SHARE, 0.0, _FIXED)
    else:
        exact = unary.min(axis=1) < 0.5
        unary[exact] = np.where(unary[exact] == unary[exact].min(axis=1, keepdims=True), 0.0, _FIXED)
    labels = np.argmin(unary, axis=1)
    if settings.smooth > 0 and (~exact).any() and len(src) > 1:
        edges = _compact_edges(h, w, covered)
        weights = contrast_weights(cell_lab, edges, settings.smooth * POTTS)
        labels = alpha_expansion(unary, edges, weights, init=labels, max_cycles=CYCLES)
    return labels, mapping


def clean_up(indices: np.ndarray, reference_rgb: np.ndarray | None, palette: Palette,
             smooth: float = 1.0) -> np.ndarray:
    """The photo engine's final clean-up on any pattern (e.g. the SDS engine's argmax).

    ``indices`` (H, W) int into ``palette``, -1 = empty (kept empty). The data cost is ΔE00 to
    ``reference_rgb`` (H, W, 3) float sRGB 0..1 when given, else to each cell's current color
    (so a cell only changes where a neighbour's color is close). Contrast-sensitive Potts
    α-expansion started at ``indices``, then blob absorption, both scaled by ``smooth`` (0 returns
    the indices unchanged). Returns new (H, W) int64 indices into the same palette.
    """
    idx = np.asarray(indices, dtype=np.int64)
    if smooth <= 0 or idx.size == 0:
        return idx.copy()
    h, w = idx.shape
    covered = idx >= 0
    if not covered.any():
        return idx.copy()
    if reference_rgb is not None:
        cell_lab = rgb_to_lab(np.asarray(reference_rgb, dtype=np.float64)[covered])
    else:
        cell_lab = palette.lab[idx[covered]]
    unary = pairwise_delta_e_2000(cell_lab, palette.lab)
    edges = _compact_edges(h, w, covered)
    weights = contrast_weights(cell_lab, edges, smooth * POTTS)
    labels = alpha_expansion(unary, edges, weights, init=idx[covered], max_cycles=CYCLES)
    cleaned = absorb_blobs(_full_labels(labels, covered), _full_unary(unary, covered), _full_edges(edges, covered), weights,
                           (h, w), smooth * BLOB_PENALTY, valid=covered.ravel())
    out = cleaned.reshape(h, w)
    out[~covered] = -1
    return out


# --- hook: re-solve with fixed colors and an extra data term (used by craftpix.resize) ----------
def label_fixed_colors(lab: np.ndarray, covered: np.ndarray, palette_lab: np.ndarray,
                       extra_unary: np.ndarray | None = None, data_weight: float = 1.0,
                       smooth: float = 1.0) -> np.ndarray:
    """The photo engine's labelling over a fixed set of colors, with an extra unary term.

    ``lab`` (H, W, 3) CIELAB of each cell (the data term's target and the contrast of the
    Potts weights), ``covered`` (H, W) bool (False = empty cell, label -1), ``palette_lab``
    (K, 3). The data cost of color k at cell p is ``data_weight · ΔE00(lab_p, c_k) +
    extra_unary[p, k]`` (``extra_unary`` (H, W, K) in ΔE00 units, e.g. the consistency term
    of :mod:`craftpix.resize`); the Potts term and blob clean-up are those of
    :func:`make_photo_pattern`, scaled by ``smooth``. Returns (H, W) int64 labels into the
    palette, -1 where not covered.
    """
    h, w = covered.shape
    out = np.full((h, w), -1, dtype=np.int64)
    if not covered.any():
        return out
    cell_lab = np.asarray(lab, dtype=np.float64)[covered]
    unary = np.zeros((len(cell_lab), len(palette_lab)))
    if data_weight:
        unary += data_weight * pairwise_delta_e_2000(cell_lab, np.asarray(palette_lab, dtype=np.float64))
    if extra_unary is not None:
        unary += np.asarray(extra_unary, dtype=np.float64)[covered]
    labels = np.argmin(unary, axis=1)
    if smooth > 0 and len(palette_lab) > 1:
        edges = _compact_edges(h, w, covered)
        weights = contrast_weights(cell_lab, edges, smooth * POTTS)
        labels = alpha_expansion(unary, edges, weights, init=labels)
        full = absorb_blobs(_full_labels(labels, covered), _full_unary(unary, covered),
                            _full_edges(edges, covered), weights, (h, w), smooth * BLOB_PENALTY,
                            valid=covered.ravel())
        labels = full[covered.ravel()]
    out[covered] = labels
    return out
