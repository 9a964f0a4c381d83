"""Floyd-Steinberg error diffusion onto a fixed palette, in CIELAB with CIEDE2000 matching."""

from __future__ import annotations

import math

import numpy as np

from craftpix.color import rgb_to_lab

__all__ = ["floyd_steinberg"]

_K7 = 25.0**7
_DEG = 180.0 / math.pi
_RAD = math.pi / 180.0
_TWO_PI = 2.0 * math.pi

# Largest hue shift caused by the CIEDE2000 a* stretch (1 <= 1+G <= 1.5):
# max_t atan(1.5 t) - atan(t) = 11.537 degrees; rounded up.
_HUE_SHIFT = 11.6
# Hue sectors (degrees) used to tabulate bounds on the rotation term R_T.
_SECTOR = 10.0
_N_SECTORS = 36
# After this many one-by-one exact evaluations, evaluate the remaining candidates with numpy.
_MAX_SCALAR_CANDIDATES = 24
# Relative / absolute slack on comparisons against bounds (guards against rounding).
_REL_SLACK = 1e-9
_ABS_SLACK = 1e-12

# Stop memoising exact repeats of the same working color after this many distinct values.
_CACHE_LIMIT = 1 << 16


def _circ_dist(x: np.ndarray | float, y: np.ndarray | float) -> np.ndarray:
    """Circular distance in degrees, in [0, 180]."""
    return np.abs(np.remainder(np.asarray(x) - y + 180.0, 360.0) - 180.0)


def _rt_factor(dist_to_275: np.ndarray) -> np.ndarray:
    """``1 - |R_T|max / 2`` when the mean hue is at least ``dist_to_275`` degrees from 275.

    ``|R_T| = |sin(2 dtheta)| R_C`` with ``R_C < 2`` and
    ``dtheta = 30 exp(-((h_bar - 275) / 25)**2)`` degrees.
    """
    d = np.maximum(dist_to_275, 0.0)
    return 1.0 - np.sin(np.radians(60.0) * np.exp(-((d / 25.0) ** 2)))


class _NearestPalette:
    """Exact CIEDE2000 nearest-palette search for one Lab color at a time.

    Evaluating CIEDE2000 against every palette entry costs ~70 numpy calls per pixel, which
    dominates a sequential dither.  Instead each query computes, for all entries at once, a
    cheap *guaranteed lower bound* of the squared CIEDE2000 distance::

        (dL / S_L)**2  +  F * ((1+G)**2 da**2 + db**2) / (1 + 0.045 * (1+G) * C_mean)**2

    * the lightness term and ``1+G`` (a function of the mean chroma) are exact;
    * ``dC'**2 + dH'**2 = (1+G)**2 da**2 + db**2`` exactly;
    * ``S_C >= S_H`` (since T < 3) and ``S_C <= 1 + 0.045 * (1+G) * C_mean`` since
      ``C' <= (1+G) C``;
    * the cross term gives ``tc**2 + th**2 + R_T tc th >= (1 - |R_T|/2)(tc**2 + th**2)``, and
      ``F = 1 - |R_T|max/2`` comes from a table indexed by the query's hue sector: ``R_T`` is
      only large when the pair's mean hue is near 275 degrees, and the mean of the stretched
      hues is within ``_HUE_SHIFT`` of the mean of the raw hues (away from opposite hues).

    One exact evaluation at the entry with the smallest bound gives an upper bound on the
    minimum; every entry whose lower bound is below it is then checked exactly (branch and
    bound, usually a handful, in pure Python; numpy if there are many).  The answer is the
    exact CIEDE2000 argmin, ties to the lowest index, the same as brute force.
    """

    def __init__(self, palette_lab: np.ndarray) -> None:
        pal = np.asarray(palette_lab, dtype=np.float64)
        self.L2 = np.ascontiguousarray(pal[:, 0])
        self.a2 = np.ascontiguousarray(pal[:, 1]) + 0.0  # no -0.0: atan2(0, -0) is pi
        self.b2 = np.ascontiguousarray(pal[:, 2]) + 0.0
        c2 = np.hypot(self.a2, self.b2)
        self.c2h = 0.5 * c2
        self.L2h = 0.5 * self.L2 - 50.0
        self.table = np.stack([self.a2, self.b2, self.c2h])
        self.a2_list = self.a2.tolist()
        self.b2_list = self.b2.tolist()
        self.c2h_list = self.c2h.tolist()
        self.has_grey = bool((c2 == 0.0).any())
        self.cos_scale = np.array([1.0, 2.0, 3.0, 4.0])[:, None]
        self.cos_shift = (np.array([-30.0, 0.0, 6.0, -63.0]) * _RAD)[:, None]
        self.cos_weight = np.array([-0.17, 0.24, 0.32, -0.20])
        self.rt_rows, self.rt_grey_row = self._rt_tables(self.a2, self.b2, c2 == 0.0)

    @staticmethod
    def _rt_tables(
        a2: np.ndarray, b2: np.ndarray, grey2: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per hue sector of the query, per palette entry: the factor ``1 - |R_T|max/2``."""
        h2 = np.where(grey2, 0.0, np.degrees(np.arctan2(b2, a2)) % 360.0)
        s0 = (np.arange(_N_SECTORS) * _SECTOR)[:, None]
        # Query hue h1 sweeps [s0, s0 + w]; the raw mean hue then sweeps [e0, e0 + w/2].
        delta = np.remainder(h2 - s0 + 180.0, 360.0) - 180.0
        e0 = s0 + 0.5 * delta
        d_chroma = _circ_dist(275.0, e0 + 0.25 * _SECTOR) - 0.25 * _SECTOR - _HUE_SHIFT
        # Near-opposite hues: the short arc may flip, so no hue information is usable.
        anti = _circ_dist(h2, s0 + 180.0 + 0.5 * _SECTOR) - 0.5 * _SECTOR
        d_chroma = np.where(anti < 2.0 * _HUE_SHIFT + 1e-6, 0.0, d_chroma)
        # Achromatic palette entry: the mean hue is the query's own hue.
        d_grey = _circ_dist(275.0, s0 + 0.5 * _SECTOR) - 0.5 * _SECTOR - _HUE_SHIFT
        rows = _rt_factor(np.where(grey2, d_grey, d_chroma))
        # Achromatic query: the mean hue is the palette entry's hue (0 for achromatic ones).
        grey_row = _rt_factor(_circ_dist(275.0, h2) - _HUE_SHIFT)
        return np.ascontiguousarray(rows), grey_row

    def _exact_sq(
        self,
        a1: float,
        b1: float,
        c1: float,
        a2: np.ndarray,
        b2: np.ndarray,
        c2h: np.ndarray,
        tl2: np.ndarray,
    ) -> np.ndarray:
        """Squared CIEDE2000 from one color to palette entries, given the lightness term.

        ``a2, b2, c2h`` are the entries' a*, b* and half chroma; ``tl2`` the exact squared
        lightness term ``(dL / S_L)**2`` already computed for the bounds.

        Same formula as :func:`craftpix.color.delta_e_2000`, written with fewer numpy calls:
        hues stay in radians, the hue difference is wrapped with one ``remainder`` and the
        mean hue is taken as ``h1' + dh'/2`` (equal to the textbook case analysis except for
        hue differences of exactly 180 degrees, where the choice is arbitrary anyway).
        """
        cbar = c2h + 0.5 * c1
        c7 = cbar**7
        g1 = 1.5 - 0.5 * np.sqrt(c7 / (c7 + _K7))
        a1p = g1 * a1
        a2p = g1 * a2
        c1p = np.hypot(a1p, b1)
        c2p = np.hypot(a2p, b2)
        h1 = np.arctan2(b1, a1p)
        h2 = np.arctan2(b2, a2p)
        dh = np.remainder(h2 - h1 + math.pi, _TWO_PI) - math.pi
        prod = c1p * c2p
        d_hp = 2.0 * np.sqrt(prod) * np.sin(0.5 * dh)
        if c1 == 0.0:
            h_bar = np.remainder(h2, _TWO_PI)
        else:
            h_bar = np.remainder(h1 + 0.5 * dh, _TWO_PI)
            if self.has_grey:
                h_bar = np.where(prod == 0.0, np.remainder(h1 + h2, _TWO_PI), h_bar)
        t = 1.0 + self.cos_weight @ np.cos(self.cos_scale * h_bar + self.cos_shift)
        z = (h_bar - 275.0 * _RAD) * (_DEG / 25.0)
        sin_2dtheta = np.sin((60.0 * _RAD) * np.exp(-(z * z)))
        c_barp = 0.5 * (c1p + c2p)
        cbp7 = c_barp**7
        r_t = -2.0 * np.sqrt(cbp7 / (cbp7 + _K7)) * sin_2dtheta
        tc = (c2p - c1p) / (1.0 + 0.045 * c_barp)
        th = d_hp / (1.0 + 0.015 * c_barp * t)
        return tl2 + tc * tc + th * th + r_t * tc * th

    def _exact_sq_one(self, a1: float, b1: float, c1: float, j: int, tl2: float) -> float:
        """Scalar (pure Python) version of :meth:`_exact_sq` for palette entry ``j``."""
        a2 = self.a2_list[j]
        b2 = self.b2_list[j]
        cbar = self.c2h_list[j] + 0.5 * c1
        c7 = cbar**7
        g1 = 1.5 - 0.5 * math.sqrt(c7 / (c7 + _K7))
        a1p = g1 * a1
        a2p = g1 * a2
        c1p = math.hypot(a1p, b1)
        c2p = math.hypot(a2p, b2)
        h1 = math.atan2(b1, a1p)
        h2 = math.atan2(b2, a2p)
        dh = (h2 - h1 + math.pi) % _TWO_PI - math.pi
        prod = c1p * c2p
        d_hp = 2.0 * math.sqrt(prod) * math.sin(0.5 * dh)
        if c1 == 0.0:
            h_bar = h2 % _TWO_PI
        elif prod == 0.0:
            h_bar = (h1 + h2) % _TWO_PI
        else:
            h_bar = (h1 + 0.5 * dh) % _TWO_PI
        t = (
            1.0
            - 0.17 * math.cos(h_bar - 30.0 * _RAD)
            + 0.24 * math.cos(2.0 * h_bar)
            + 0.32 * math.cos(3.0 * h_bar + 6.0 * _RAD)
            - 0.20 * math.cos(4.0 * h_bar - 63.0 * _RAD)
        )
        z = (h_bar - 275.0 * _RAD) * (_DEG / 25.0)
        sin_2dtheta = math.sin((60.0 * _RAD) * math.exp(-(z * z)))
        c_barp = 0.5 * (c1p + c2p)
        cbp7 = c_barp**7
        r_t = -2.0 * math.sqrt(cbp7 / (cbp7 + _K7)) * sin_2dtheta
        tc = (c2p - c1p) / (1.0 + 0.045 * c_barp)
        th = d_hp / (1.0 + 0.015 * c_barp * t)
        return tl2 + tc * tc + th * th + r_t * tc * th

    def lower_bound_sq(self, L1: float, a1: float, b1: float) -> tuple[np.ndarray, np.ndarray]:
        """(lower bound of squared CIEDE2000 to every entry, exact squared lightness term)."""
        c1 = math.hypot(a1, b1)
        if c1 == 0.0:
            f = self.rt_grey_row
        else:
            h1 = math.degrees(math.atan2(b1, a1)) % 360.0
            f = self.rt_rows[min(int(h1 // _SECTOR), _N_SECTORS - 1)]
        lm = (self.L2h + 0.5 * L1) ** 2
        tl = (self.L2 - L1) / (1.0 + 0.015 * lm / np.sqrt(20.0 + lm))
        tl2 = tl * tl
        cbar = self.c2h + 0.5 * c1
        c7 = cbar**7
        g1 = 1.5 - 0.5 * np.sqrt(c7 / (c7 + _K7))  # 1 + G, exact
        da = g1 * (self.a2 - a1)
        db = self.b2 - b1
        sc_hi = 1.0 + (0.045 * g1) * cbar  # C' <= (1 + G) C
        lower = tl2 + f * (da * da + db * db) / (sc_hi * sc_hi)
        return lower, tl2

    def __call__(self, L1: float, a1: float, b1: float) -> int:
        a1 += 0.0
        b1 += 0.0
        c1 = math.hypot(a1, b1)
        lower, tl2 = self.lower_bound_sq(L1, a1, b1)
        # One exact evaluation at the smallest bound caps the minimum ...
        best_i = int(np.argmin(lower))
        best = self._exact_sq_one(a1, b1, c1, best_i, float(tl2[best_i]))
        cand = np.flatnonzero(lower <= best * (1.0 + _REL_SLACK) + _ABS_SLACK)
        if cand.size <= 1:
            return best_i
        # ... and branch and bound, most promising first, settles the survivors.
        order = np.argsort(lower[cand], kind="stable")
        cand = cand[order]
        lows = lower[cand].tolist()
        for k, i in enumerate(cand.tolist()):
            if lows[k] > best * (1.0 + _REL_SLACK) + _ABS_SLACK:
                return best_i
            if k == _MAX_SCALAR_CANDIDATES:
                # Unusually many: finish the rest in one vectorized evaluation.
                rest = cand[k:]
                rest = rest[rest != best_i]
                a2, b2, c2h = self.table[:, rest]
                d2 = self._exact_sq(a1, b1, c1, a2, b2, c2h, tl2[rest])
                j = int(np.argmin(d2))
                d, i = float(d2[j]), int(rest[j])
                # argmin takes the first of equal values, which is not the lowest index here
                ties = rest[d2 == d]
                i = int(ties.min()) if ties.size > 1 else i
                if d < best or (d == best and i < best_i):
                    best_i = i
                return best_i
            if i == best_i:
                continue
            d = self._exact_sq_one(a1, b1, c1, i, float(tl2[i]))
            if d < best or (d == best and i < best_i):
                best, best_i = d, i
        return best_i


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
    (lo_l, lo_a, lo_b), (hi_l, hi_a, hi_b) = (
        pal_lab.min(axis=0).tolist(),
        pal_lab.max(axis=0).tolist(),
    )
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
