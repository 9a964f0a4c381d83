"""Flat art as a person sees it: the few real colors of a logo, clip art or banner, from any file.

A logo saved as JPEG, anti-aliased, scanned or drawn on transparency has thousands of distinct
pixel values, yet a person sees three colors. :func:`find_flat_art` finds those *real* colors
and says, for every cell of the pattern's grid, how much of it each one covers:

1. **Interior pixels**: pixels whose 3×3 neighbourhood varies by at most :data:`INTERIOR_RANGE`
   (8-bit units per channel). JPEG ringing, anti-aliasing and edges are not interior; JPEG and
   scanner noise inside a flat area is.
2. **Real colors**: the interior colors grouped by mean shift in CIEDE2000 (radius
   :data:`CLUSTER_DE00`), heaviest first; groups under :data:`MIN_SHARE` of the interior are
   dropped, and groups closer than :data:`SAME_COLOR_DE00` are one color (two whites 3 units
   apart are one white).
3. **Every pixel** gets the real color it belongs to: the nearest (CIEDE2000) entry of the real
   colors *and the blends between every two of them* (mixed in sRGB, as most drawing programs and
   resamplers do, and in linear light), a blend belonging to the end it is nearer. So an
   anti-aliased or ringing pixel belongs to a neighbouring real color, never to a fringe color
   of its own.
4. **Flat or photo**: the image is flat art when at least :data:`EXPLAINED_SHARE` of its opaque
   pixels are within :data:`EXPLAINED_DE00` of a real color or a blend of two, at least
   :data:`INTERIOR_SHARE` of them are interior, the interior pixels are within
   :data:`NOISE_DE00` of their color on average, few interior pixels are left out of every group
   (:data:`LEFT_OUT_SHARE`), and there are at most :data:`MAX_COLORS` real colors. A photo's
   gradients and textures fail these.

Images with at most :data:`EXACT_MAX_COLORS` distinct colors (hard-edged drawings, pixel art) take
every color as a real color, except colors with no interior pixel that are a blend of two more
frequent ones (the edge blends of a small anti-aliased PNG), when the image has more than
:data:`BLENDS_FROM` pixels per cell.

Numpy, scipy and Pillow only (no torch). The thresholds were set on synthetic logos (shapes on
white and transparency, anti-aliased, JPEG q70–q95, Gaussian noise σ ≤ 4) and the photographs of
``bench/photo_bench.py`` (all read as photos); see docs/BENCHMARKS.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from craftpix.color import (
    delta_e_2000,
    lab_to_rgb,
    linear_to_srgb,
    pairwise_delta_e_2000,
    rgb_to_lab,
    srgb_to_linear,
)

__all__ = [
    "CLUSTER_DE00",
    "EXPLAINED_DE00",
    "EXPLAINED_SHARE",
    "FlatArt",
    "INTERIOR_RANGE",
    "INTERIOR_SHARE",
    "MAX_COLORS",
    "MIN_SHARE",
    "NOISE_DE00",
    "SAME_COLOR_DE00",
    "FAR_DE00",
    "far_note",
    "find_flat_art",
    "stands_for",
]

#: At most this many distinct pixel values: every one is a real color (pixel art, hard edges).
EXACT_MAX_COLORS = 48
#: Most real colors of noisy or anti-aliased flat art.
MAX_COLORS = 24
#: A pixel is interior when each channel varies by at most this over its 3×3 neighbourhood (0..255).
INTERIOR_RANGE = 24
#: Mean-shift radius (CIEDE2000) that gathers a real color's noisy interior pixels.
CLUSTER_DE00 = 6.0
#: Real colors closer than this (CIEDE2000) are one color to a person looking at flat art: about
#: twice the just-noticeable difference (2–2.5), the range where people give two samples the same
#: name. Two whites 3 units apart are one white.
SAME_COLOR_DE00 = 5.0
#: A group of interior pixels smaller than this share of the interior is not a real color.
MIN_SHARE = 0.004
#: Flat art: share of opaque pixels within EXPLAINED_DE00 of a real color or a blend of two.
EXPLAINED_SHARE = 0.97
EXPLAINED_DE00 = 10.0
#: Flat art: share of opaque pixels that are interior.
INTERIOR_SHARE = 0.35
#: Flat art: mean CIEDE2000 of the interior pixels to their real color.
NOISE_DE00 = 3.0
#: Flat art: share of interior pixels in no group (gradients and textures leave many).
LEFT_OUT_SHARE = 0.02
#: Flat art: of the pixel pairs where the color changes, the share that change smoothly (both
#: pixels interior). Edges of flat art are sharp (0 on every synthetic logo); photos' gradients
#: give 0.08–0.96 on scikit-image's photographs.
SOFT_SHARE = 0.03
#: Real colors closer than this whose interiors touch are one color with a halo (JPEG's tinted
#: ringing beside a saturated color) or split by noise.
HALO_DE00 = 15.0
#: ... and the lighter has at most this share of the heavier's pixels (a photo's neighbouring
#: tones are of like size).
HALO_SHARE = 0.2
#: Exact colors are checked for edge blends only with more pixels per cell than this.
BLENDS_FROM = 1.5
_ANALYSIS_PIXELS = 1_000_000  # larger images are box-filtered to about this many pixels first
_BLEND_STEPS = np.array([0.1, 0.3, 0.5, 0.7, 0.9])
_COARSE_BINS = 200  # 5-bit color bins the interior may need (logos need < 30, photos hundreds)


@dataclass
class FlatArt:
    """The real colors of flat art and how much of each cell each one covers.

    ``colors`` (K, 3) float sRGB 0..1, most pixels first; ``counts`` (K,) pixels of each (on
    the analysed image); ``shares`` (H, W, K) float, each cell's opaque pixels that belong to
    each color (rows sum to 1 where the cell has an opaque pixel, else 0).
    """

    colors: np.ndarray
    counts: np.ndarray
    shares: np.ndarray


def find_flat_art(image: Image.Image, width: int, height: int) -> FlatArt | None:
    """The real colors of ``image`` if it is flat art (module docstring), else None.

    ``image`` RGB or RGBA (alpha < 50 % is transparent), already fitted to the pattern's
    aspect: it is stretched onto ``width × height`` cells for :attr:`FlatArt.shares`. Returns
    None for a photo, an image without opaque pixels, or a grid smaller than 1×1.
    """
    if width < 1 or height < 1:
        return None
    im = image if image.mode in ("RGB", "RGBA") else image.convert("RGB")
    if im.width * im.height > _ANALYSIS_PIXELS:
        k = np.sqrt(_ANALYSIS_PIXELS / (im.width * im.height))
        im = im.resize((max(1, round(im.width * k)), max(1, round(im.height * k))),
                       Image.Resampling.BOX)
    arr = np.asarray(im)
    opaque = arr[..., 3] >= 128 if arr.shape[-1] == 4 else np.ones(arr.shape[:2], dtype=bool)
    rgb8 = arr[..., :3]
    if not opaque.any():
        return None
    packed = _pack(rgb8)
    values, inverse, counts = np.unique(packed[opaque], return_inverse=True, return_counts=True)
    if len(values) <= EXACT_MAX_COLORS:
        labels_u, colors = _exact_labels(values, counts, packed, opaque,
                                         arr.shape[0] * arr.shape[1] / (width * height))
        label = np.full(arr.shape[:2], -1, dtype=np.int64)
        label[opaque] = labels_u[inverse.reshape(-1)]
    else:
        found = _noisy_labels(rgb8, opaque)
        if found is None:
            return None
        label, colors = found
    k = len(colors)
    pix = np.bincount(label[opaque], minlength=k)
    order = np.argsort(-pix, kind="stable")
    rank = np.empty(k, dtype=np.int64)
    rank[order] = np.arange(k)
    label = np.where(label >= 0, rank[np.maximum(label, 0)], -1)
    colors, pix = colors[order], pix[order]
    keep = pix > 0
    colors, pix = colors[keep], pix[keep]
    return FlatArt(colors, pix.astype(np.int64), _shares(label, len(colors), width, height))


def _pack(rgb8: np.ndarray) -> np.ndarray:
    return (rgb8[..., 0].astype(np.uint32) << 16) | (rgb8[..., 1].astype(np.uint32) << 8) | rgb8[..., 2]


def _unpack(values: np.ndarray) -> np.ndarray:
    return np.stack([(values >> 16) & 255, (values >> 8) & 255, values & 255], axis=-1).astype(np.float64)


def _exact_labels(values: np.ndarray, counts: np.ndarray, packed: np.ndarray, opaque: np.ndarray,
                  pixels_per_cell: float) -> tuple[np.ndarray, np.ndarray]:
    """Few distinct colors: each is real, except interior-less blends of two more frequent ones."""
    rgb = _unpack(values) / 255.0
    order = np.argsort(-counts, kind="stable")
    real = np.ones(len(values), dtype=bool)
    if pixels_per_cell > BLENDS_FROM and len(values) > 2:
        interior = _interior(packed[..., None], opaque, 0)
        has_interior = np.zeros(len(values), dtype=bool)
        has_interior[np.searchsorted(values, np.unique(packed[interior]))] = True
        lab = rgb_to_lab(rgb)
        for pos, i in enumerate(order):
            if pos < 2 or has_interior[i]:
                continue
            ends = [j for j in order[:pos] if real[j]]
            if len(ends) < 2:
                continue
            blend_lab, _ = _blends(rgb[ends])
            if pairwise_delta_e_2000(lab[i][None], blend_lab).min() <= SAME_COLOR_DE00:
                real[i] = False
    idx = np.flatnonzero(real)
    colors = rgb[idx]
    labels = np.empty(len(values), dtype=np.int64)
    labels[idx] = np.arange(len(idx))
    if (~real).any():
        labels[~real] = _nearest_with_blends(rgb_to_lab(rgb[~real]), colors)[0]
    return labels, colors


def _interior(planes: np.ndarray, opaque: np.ndarray, spread: int) -> np.ndarray:
    """Pixels whose 3×3 neighbourhood is opaque and varies by at most ``spread`` per plane."""
    from scipy.ndimage import maximum_filter, minimum_filter

    ok = minimum_filter(opaque, size=3, mode="nearest")
    for c in range(planes.shape[-1]):
        p = planes[..., c]
        ok &= (maximum_filter(p, size=3, mode="nearest").astype(np.int64)
               - minimum_filter(p, size=3, mode="nearest")) <= spread
    return ok


def _noisy_labels(rgb8: np.ndarray, opaque: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Many distinct colors: (label image, real colors) by mean shift over interior pixels, or
    None for a photo."""
    interior = _interior(rgb8, opaque, INTERIOR_RANGE)
    n_opaque = int(opaque.sum())
    n_interior = int(interior.sum())
    if n_interior < INTERIOR_SHARE * n_opaque:
        return None
    # a photo's interior spreads over many colors: stop before the slower steps
    coarse = np.sort(np.unique(_pack((rgb8[interior] >> 3).astype(np.uint8)), return_counts=True)[1])[::-1]
    if np.searchsorted(np.cumsum(coarse), (1.0 - LEFT_OUT_SHARE) * n_interior) + 1 > _COARSE_BINS:
        return None
    # interior colors at 6 bits per channel, with their pixel counts
    qv, qc = np.unique(_pack((rgb8[interior] >> 2).astype(np.uint8)), return_counts=True)
    q_lab = rgb_to_lab(_unpack6(qv))
    free = np.ones(len(qv), dtype=bool)
    centres: list[np.ndarray] = []
    for _ in range(3 * MAX_COLORS):
        if not free.any() or len(centres) > MAX_COLORS:
            break
        seed = int(np.flatnonzero(free)[np.argmax(qc[free])])
        centre = q_lab[seed]
        for _ in range(8):
            d = pairwise_delta_e_2000(q_lab, centre[None])[:, 0]
            member = free & (d <= CLUSTER_DE00)
            new = np.average(q_lab[member], axis=0, weights=qc[member])
            if np.abs(new - centre).max() < 0.05:
                break
            centre = new
        d = pairwise_delta_e_2000(q_lab, centre[None])[:, 0]
        member = free & (d <= CLUSTER_DE00)
        member[seed] = True
        free &= ~member
        if qc[member].sum() >= MIN_SHARE * n_interior:
            centres.append(centre)
    if not centres or len(centres) > MAX_COLORS:
        return None
    lab = _merge_same(np.array(centres), q_lab, qc)
    d = pairwise_delta_e_2000(q_lab, lab).min(axis=1)
    near = d <= CLUSTER_DE00
    if qc[~near].sum() > LEFT_OUT_SHARE * n_interior:
        return None
    if np.average(d[near], weights=qc[near]) > NOISE_DE00:
        return None
    colors = np.clip(lab_to_rgb(lab), 0.0, 1.0)
    # every pixel (6 bits per channel): nearest real color or blend of two
    values, inverse, counts = np.unique(_pack((rgb8[opaque] >> 2).astype(np.uint8)),
                                        return_inverse=True, return_counts=True)
    labels_u, dist = _nearest_with_blends(rgb_to_lab(_unpack6(values)), colors, lab)
    if (counts * (dist <= EXPLAINED_DE00)).sum() < EXPLAINED_SHARE * n_opaque:
        return None
    label = np.full(opaque.shape, -1, dtype=np.int64)
    label[opaque] = labels_u[inverse.reshape(-1)]
    label = _merge_halos(label, interior, lab, pix_of=np.bincount(label[opaque], minlength=len(lab)))
    used = np.unique(label[opaque])
    renumber = np.full(len(lab), -1, dtype=np.int64)
    renumber[used] = np.arange(len(used))
    label = np.where(label >= 0, renumber[np.maximum(label, 0)], -1)
    colors = np.array([rgb8[interior & (label == k)].mean(axis=0) / 255.0
                       if (interior & (label == k)).any() else colors[used[k]]
                       for k in range(len(used))])
    # the interior's noise around the (merged) real colors, and no smooth change between them
    iq, ii, weight = np.unique(_pack((rgb8[interior] >> 2).astype(np.uint8)), return_index=True,
                               return_counts=True)
    own = label[interior][ii]
    d_own = delta_e_2000(rgb_to_lab(_unpack6(iq)), rgb_to_lab(colors)[own])
    if np.average(d_own, weights=weight) > NOISE_DE00 or _soft_share(label, interior) > SOFT_SHARE:
        return None
    return label, colors


def _merge_halos(label: np.ndarray, interior: np.ndarray, lab: np.ndarray, pix_of: np.ndarray) -> np.ndarray:
    """Merge real colors whose interior pixels touch (a smooth change, not an edge) and that are
    within HALO_DE00, the lighter at most HALO_SHARE of the heavier: JPEG's tinted halo beside a saturated color, or noise split in two. The
    lighter one joins the heavier. A photo's gradients merge too, and then fail the noise test."""
    k = len(lab)
    pairs = []
    for a, b, ia, ib in ((label[:, 1:], label[:, :-1], interior[:, 1:], interior[:, :-1]),
                         (label[1:], label[:-1], interior[1:], interior[:-1])):
        soft = ia & ib & (a != b) & (a >= 0) & (b >= 0)
        pairs.append(np.minimum(a[soft], b[soft]) * k + np.maximum(a[soft], b[soft]))
    codes, n = np.unique(np.concatenate(pairs), return_counts=True)
    if not len(codes):
        return label
    parent = np.arange(k)

    def root(i: int) -> int:
        while parent[i] != i:
            i = int(parent[i])
        return i

    de = pairwise_delta_e_2000(lab, lab)
    for code in codes[np.argsort(-n, kind="stable")]:
        i, j = root(int(code) // k), root(int(code) % k)
        heavy, light = (i, j) if pix_of[i] >= pix_of[j] else (j, i)
        if i != j and de[int(code) // k, int(code) % k] < HALO_DE00 \
                and pix_of[light] <= HALO_SHARE * pix_of[heavy]:
            parent[light] = heavy
            pix_of[heavy] += pix_of[light]
    roots = np.array([root(i) for i in range(k)])
    return np.where(label >= 0, roots[np.maximum(label, 0)], -1)


def _unpack6(values: np.ndarray) -> np.ndarray:
    """Colors packed at 6 bits per channel → sRGB 0..1 at the centre of each bin."""
    return (_unpack(values) * 4.0 + 1.5) / 255.0


def _soft_share(label: np.ndarray, interior: np.ndarray) -> float:
    """Of the 4-neighbour pairs of pixels with different colors, the share where both are
    interior: a smooth change from one color to the next (a photo's gradient), not an edge."""
    soft = total = 0
    for a, b, ia, ib in ((label[:, 1:], label[:, :-1], interior[:, 1:], interior[:, :-1]),
                         (label[1:], label[:-1], interior[1:], interior[:-1])):
        change = (a != b) & (a >= 0) & (b >= 0)
        total += int(change.sum())
        soft += int((change & ia & ib).sum())
    return soft / total if total else 0.0


def _covered_mass(q_lab: np.ndarray, qc: np.ndarray, centres: list[np.ndarray]) -> int:
    if not centres:
        return 0
    d = pairwise_delta_e_2000(q_lab, np.array(centres)).min(axis=1)
    return int(qc[d <= CLUSTER_DE00].sum())


def _merge_same(centres: np.ndarray, q_lab: np.ndarray, qc: np.ndarray) -> np.ndarray:
    """Real colors closer than SAME_COLOR_DE00 become one (their pixels' weighted mean)."""
    centres = list(centres)
    while len(centres) > 1:
        c = np.array(centres)
        d = pairwise_delta_e_2000(c, c)
        np.fill_diagonal(d, np.inf)
        i, j = np.unravel_index(np.argmin(d), d.shape)
        if d[i, j] >= SAME_COLOR_DE00:
            break
        own = np.argmin(pairwise_delta_e_2000(q_lab, c), axis=1)
        member = (own == i) | (own == j)
        merged = np.average(q_lab[member], axis=0, weights=qc[member]) if member.any() else (c[i] + c[j]) / 2
        centres = [x for k, x in enumerate(centres) if k not in (i, j)] + [merged]
    return np.array(centres)


def _blends(colors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lab of the blends between every two colors (sRGB 0..1, (K, 3)), and the color each
    belongs to (the nearer end): ((B, 3), (B,))."""
    k = len(colors)
    labs, owner = [], []
    lin = srgb_to_linear(colors)
    for a in range(k):
        for b in range(a + 1, k):
            t = _BLEND_STEPS[:, None]
            mix = np.concatenate([colors[a] * (1 - t) + colors[b] * t,
                                  linear_to_srgb(lin[a] * (1 - t) + lin[b] * t)])
            labs.append(rgb_to_lab(np.clip(mix, 0.0, 1.0)))
            ends = np.where(np.tile(_BLEND_STEPS, 2) < 0.5, a, b)
            owner.append(ends)
    if not labs:
        return np.zeros((0, 3)), np.zeros(0, dtype=np.int64)
    return np.concatenate(labs), np.concatenate(owner).astype(np.int64)


def _nearest_with_blends(lab: np.ndarray, colors: np.ndarray, colors_lab: np.ndarray | None = None
                         ) -> tuple[np.ndarray, np.ndarray]:
    """For Lab colors (N, 3): the real color each belongs to (nearest real color or blend of
    two, CIEDE2000) and the distance to it, ((N,), (N,))."""
    c_lab = rgb_to_lab(colors) if colors_lab is None else colors_lab
    b_lab, b_owner = _blends(colors)
    ref = np.concatenate([c_lab, b_lab])
    owner = np.concatenate([np.arange(len(colors)), b_owner])
    d = pairwise_delta_e_2000(lab, ref)
    best = np.argmin(d, axis=1)
    return owner[best], d[np.arange(len(lab)), best]


def _shares(label: np.ndarray, k: int, width: int, height: int) -> np.ndarray:
    """Each cell's share of opaque pixels per color: (height, width, k)."""
    planes = []
    for j in range(k):
        plane = Image.fromarray((label == j).astype(np.float32))
        planes.append(np.asarray(plane.resize((width, height), Image.Resampling.BOX), dtype=np.float64))
    shares = np.stack(planes, axis=-1) if planes else np.zeros((height, width, 0))
    total = shares.sum(-1, keepdims=True)
    return np.where(total > 1e-9, shares / np.maximum(total, 1e-9), 0.0)


#: A source color whose catalog color is farther than this (CIEDE2000) has no close match: the
#: crafter is told, and offered another brand or their own colors (issue: "tell the crafter when a
#: catalog cannot show a color"). Beyond 10 two colors read as different colors, not shades.
FAR_DE00 = 10.0


def stands_for(indices: np.ndarray, codes: list[str] | tuple[str, ...], palette_lab: np.ndarray,
               cell_rgb: np.ndarray, flat: FlatArt | None = None) -> dict[str, dict[str, object]]:
    """For each catalog color used, the source color it stands for and how far it is.

    ``indices`` (H, W) int into ``codes`` / ``palette_lab`` (K, 3 CIELAB), -1 = empty;
    ``cell_rgb`` (H, W, 3) float sRGB 0..1, the cells' source colors. The source color of a
    catalog color is, for flat art (``flat`` on the same grid), the real color most of its cells
    hold, else the mean (in linear light) of its cells. Returns ``{code: {"source": "#RRGGBB",
    "delta_e00": CIEDE2000 between the two, 2 decimals}}``, for :attr:`Pattern.meta`.
    """
    from craftpix.color import delta_e_2000, rgb8_to_hex

    idx = np.asarray(indices)
    use_flat = flat is not None and flat.shares.shape[:2] == idx.shape and len(flat.colors)
    out: dict[str, dict[str, object]] = {}
    for j, code in enumerate(codes):
        cells = idx == j
        if not cells.any():
            continue
        held = flat.shares[cells].sum(axis=0) if use_flat and flat is not None else None
        if held is not None and held.sum() > 0:
            src = flat.colors[int(np.argmax(held))]  # type: ignore[union-attr]
        else:
            src = linear_to_srgb(srgb_to_linear(np.asarray(cell_rgb, dtype=np.float64)[cells]).mean(axis=0))
        src = np.clip(src, 0.0, 1.0)
        de = float(delta_e_2000(rgb_to_lab(src), np.asarray(palette_lab, dtype=np.float64)[j]))
        out[str(code)] = {"source": rgb8_to_hex(np.rint(src * 255).astype(int)), "delta_e00": round(de, 2)}
    return out


def far_note(meta: dict[str, dict[str, object]], names: dict[str, str], brand: str) -> str | None:
    """One plain note naming the source colors with no close match (ΔE00 > FAR_DE00) in
    ``brand``, from :func:`stands_for`'s ``meta`` (``names``: code → color name); None if all
    are close."""
    far = [(code, v) for code, v in meta.items() if float(v["delta_e00"]) > FAR_DE00]  # type: ignore[arg-type]
    if not far:
        return None
    far.sort(key=lambda kv: -float(kv[1]["delta_e00"]))  # type: ignore[arg-type]
    items = ", ".join(f"{v['source']} (shown as {names.get(code, code)}, ΔE00 {float(v['delta_e00']):.1f})"  # type: ignore[arg-type]
                      for code, v in far)
    return (f"the {brand} catalog has no close match for {items}: another brand (--brand) or "
            "your own colors (--palette FILE) may show it truer")
