"""Floyd-Steinberg error diffusion onto a fixed palette, in CIELAB with CIEDE2000 matching."""

from __future__ import annotations

import math

import numpy as np

from craftpix.color import rgb_to_lab

__all__ = ["floyd_steinberg"]

_K7 = 25.0**7
_DEG = 180.0 / math.pi
_RAD = math.pi / 180.0

# Bounds of the CIEDE2000 hue-weighting function T(h) over all hues (min ~0.362, max ~1.572),
# widened slightly so the bounds below stay valid.
_T_MIN = 0.36
# |R_T| = |sin(2 dtheta) * R_C| < sin(60 deg) * 2 = sqrt(3).
_RT_MAX = math.sqrt(3.0)
_LB_FACTOR = 1.0 - 0.5 * _RT_MAX
_UB_FACTOR = 1.0 + 0.5 * _RT_MAX

# Stop memoising exact repeats of the same working color after this many distinct values.
_CACHE_LIMIT = 1 << 16


class _NearestPalette:
    """Exact CIEDE2000 nearest-palette search for one Lab color at a time.

    A full CIEDE2000 evaluation against every palette entry costs ~70 numpy calls on
    length-n arrays.  To keep the sequential scan fast, each query first computes, for all
    entries, cheap *guaranteed* lower and upper bounds of the squared CIEDE2000 distance:

    * the lightness term ``(dL / S_L)**2`` exactly (it needs no hue), plus
    * the chroma/hue part bounded with ``dC'**2 + dH'**2 = (1+G)**2 da**2 + db**2``,
      ``1 <= 1+G <= 1.5``, ``T in [0.36, 1.58]`` (so ``S_H <= S_C``) and ``|R_T| < sqrt(3)``.

    Entries whose lower bound exceeds the smallest upper bound cannot be nearest; the exact
    formula is evaluated only on the rest.  The result is the exact argmin (ties to the
    lowest index), identical to brute force.
    """

    def __init__(self, palette_lab: np.ndarray) -> None:
        pal = np.asarray(palette_lab, dtype=np.float64)
        self.L2 = np.ascontiguousarray(pal[:, 0])
        self.a2 = np.ascontiguousarray(pal[:, 1])
        self.b2 = np.ascontiguousarray(pal[:, 2])
        c2 = np.hypot(self.a2, self.b2)
        self.c2h = 0.5 * c2
        self.L2h = 0.5 * self.L2 - 50.0
        self.sc_hi0 = 1.0 + 0.0675 * self.c2h  # 1 + 0.045 * 1.5 * (c2 / 2)
        self.sh_lo0 = 1.0 + 0.015 * _T_MIN * self.c2h
        # Rows for gathering candidate subsets in one fancy-index.
        self.table = np.stack([self.L2, self.a2, self.b2, self.c2h, self.L2h])
        self.cos_scale = (np.array([1.0, 2.0, 3.0, 4.0]) * _RAD)[:, None]
        self.cos_shift = (np.array([-30.0, 0.0, 6.0, -63.0]) * _RAD)[:, None]
        self.cos_weight = np.array([-0.17, 0.24, 0.32, -0.20])

    def _exact_sq(self, L1: float, a1: float, b1: float, c1: float, sub: np.ndarray) -> np.ndarray:
        """Squared CIEDE2000 from (L1, a1, b1) to the gathered palette columns ``sub``."""
        L2, a2, b2, c2h, L2h = sub
        cbar = c2h + 0.5 * c1
        c7 = cbar**7
        g1 = 1.5 - 0.5 * np.sqrt(c7 / (c7 + _K7))
        a1p = g1 * a1
        a2p = g1 * a2
        c1p = np.hypot(a1p, b1)
        c2p = np.hypot(a2p, b2)
        h1 = np.arctan2(b1, a1p) * _DEG
        h1 += 360.0 * (h1 < 0.0)
        h2 = np.arctan2(b2, a2p) * _DEG
        h2 += 360.0 * (h2 < 0.0)
        dh = h2 - h1
        far = np.abs(dh) > 180.0
        dh -= 360.0 * (dh > 180.0)
        dh += 360.0 * (dh < -180.0)
        prod = c1p * c2p
        d_hp = 2.0 * np.sqrt(prod) * np.sin(dh * (0.5 * _RAD))
        h_sum = h1 + h2
        h_bar = 0.5 * h_sum + np.where(far, np.where(h_sum < 360.0, 180.0, -180.0), 0.0)
        h_bar = np.where(prod == 0.0, h_sum, h_bar)
        t = 1.0 + self.cos_weight @ np.cos(self.cos_scale * h_bar + self.cos_shift)
        two_dtheta = (2.0 * 30.0 * _RAD) * np.exp(-(((h_bar - 275.0) * (1.0 / 25.0)) ** 2))
        c_barp = 0.5 * (c1p + c2p)
        cbp7 = c_barp**7
        r_t = -2.0 * np.sqrt(cbp7 / (cbp7 + _K7)) * np.sin(two_dtheta)
        lm = (L2h + 0.5 * L1) ** 2
        tl = (L2 - L1) / (1.0 + 0.015 * lm / np.sqrt(20.0 + lm))
        tc = (c2p - c1p) / (1.0 + 0.045 * c_barp)
        th = d_hp / (1.0 + 0.015 * c_barp * t)
        return tl * tl + tc * tc + th * th + r_t * tc * th

    def __call__(self, L1: float, a1: float, b1: float) -> int:
        c1 = math.hypot(a1, b1)
        lm = (self.L2h + 0.5 * L1) ** 2
        tl = (self.L2 - L1) / (1.0 + 0.015 * lm / np.sqrt(20.0 + lm))
        tl2 = tl * tl
        da = self.a2 - a1
        db = self.b2 - b1
        da2 = da * da
        db2 = db * db
        sc_hi = self.sc_hi0 + 0.03375 * c1
        sh_lo = self.sh_lo0 + (0.5 * 0.015 * _T_MIN) * c1
        lower = tl2 + _LB_FACTOR * (da2 + db2) / (sc_hi * sc_hi)
        upper = tl2 + _UB_FACTOR * (2.25 * da2 + db2) / (sh_lo * sh_lo)
        bound = float(upper.min())
        cand = np.flatnonzero(lower <= bound * (1.0 + 1e-9) + 1e-12)
        if cand.size == 1:
            return int(cand[0])
        d2 = self._exact_sq(L1, a1, b1, c1, self.table[:, cand])
        return int(cand[int(np.argmin(d2))])


def floyd_steinberg(
    image_rgb: np.ndarray, palette_rgb: np.ndarray, serpentine: bool = True
) -> np.ndarray:
    """Dither ``image_rgb`` onto ``palette_rgb`` with Floyd-Steinberg error diffusion.

    The image (H, W, 3) and palette (n, 3) are float sRGB in [0, 1].  Both are converted to
    CIELAB; each pixel (plus the error diffused to it, clamped to the palette's Lab bounding
    box so errors cannot run away where the palette cannot follow) is mapped to its
    CIEDE2000-nearest palette entry, and the Lab error is spread 7/16 ahead, 3/16 behind-below,
    5/16 below and 1/16 ahead-below.  With ``serpentine`` the scan direction alternates per
    row.  Returns int64 palette indices (H, W).  Deterministic.
    """
    img = np.asarray(image_rgb, dtype=np.float64)
    pal = np.asarray(palette_rgb, dtype=np.float64)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"image_rgb must have shape (H, W, 3), got {img.shape}")
    if pal.ndim != 2 or pal.shape[1] != 3 or pal.shape[0] == 0:
        raise ValueError(f"palette_rgb must have shape (n, 3) with n >= 1, got {pal.shape}")
    if not (np.isfinite(img).all() and np.isfinite(pal).all()):
        raise ValueError("image_rgb and palette_rgb must be finite")
    h, w = img.shape[:2]
    out = np.zeros((h, w), dtype=np.int64)
    if h == 0 or w == 0:
        return out

    lab = rgb_to_lab(img)
    pal_lab = rgb_to_lab(pal)
    nearest = _NearestPalette(pal_lab)
    pl, pa, pb = (pal_lab[:, k].tolist() for k in range(3))
    (lo_l, lo_a, lo_b), (hi_l, hi_a, hi_b) = pal_lab.min(axis=0).tolist(), pal_lab.max(axis=0).tolist()
    cache: dict[tuple[float, float, float], int] = {}

    # Accumulated error for the current and the next row, per channel, padded by one column
    # on each side so the border pixels need no special cases (error pushed there is dropped).
    zeros = [0.0] * (w + 2)
    cur = [list(zeros), list(zeros), list(zeros)]
    for y in range(h):
        nxt = [list(zeros), list(zeros), list(zeros)]
        cl, ca, cb = cur
        nl, na, nb = nxt
        row_l, row_a, row_b = (lab[y, :, k].tolist() for k in range(3))
        out_row = [0] * w
        backwards = serpentine and (y % 2 == 1)
        step = -1 if backwards else 1
        for x in range(w - 1, -1, -1) if backwards else range(w):
            c = x + 1
            vl = min(max(row_l[x] + cl[c], lo_l), hi_l)
            va = min(max(row_a[x] + ca[c], lo_a), hi_a)
            vb = min(max(row_b[x] + cb[c], lo_b), hi_b)
            key = (vl, va, vb)
            i = cache.get(key)
            if i is None:
                i = nearest(vl, va, vb)
                if len(cache) < _CACHE_LIMIT:
                    cache[key] = i
            out_row[x] = i
            el = vl - pl[i]
            ea = va - pa[i]
            eb = vb - pb[i]
            if el != 0.0 or ea != 0.0 or eb != 0.0:
                ahead = c + step
                behind = c - step
                cl[ahead] += el * 0.4375
                ca[ahead] += ea * 0.4375
                cb[ahead] += eb * 0.4375
                nl[behind] += el * 0.1875
                na[behind] += ea * 0.1875
                nb[behind] += eb * 0.1875
                nl[c] += el * 0.3125
                na[c] += ea * 0.3125
                nb[c] += eb * 0.3125
                nl[ahead] += el * 0.0625
                na[ahead] += ea * 0.0625
                nb[ahead] += eb * 0.0625
        out[y] = out_row
        cur = nxt
    return out
