"""Which color-difference decision picks catalog colors people name the same way? (issue: blue→purple)

Human data: the XKCD color survey's named colors (CC0; matplotlib ships them as ``XKCD_COLORS``).
Each survey color whose name ends in a basic hue word (red, orange, yellow, green, blue, purple,
pink, brown; violet→purple, magenta→pink, cyan→blue, teal→green) is a source color. For each
catalog (the colors a plain run may use) and each candidate decision, the source's chosen catalog
color is named by the 7 nearest survey colors (CIELAB distance, majority of their hue words) —
what people would call it — and we count how often that name is the source's own hue ("hue
agreement"), and the mean CIEDE2000 paid for it.

Candidates: CIEDE2000 (Sharma et al. 2005); ΔE_ITP (ITU-R BT.2124, sRGB white at 100 cd/m²);
CIEDE2000 with kH = 0.5 for far matches; and craftpix's match cost
(:func:`craftpix.color.pairwise_match_cost`) at several hue weights.

    .venv/bin/python bench/color_measure.py            # the table in docs/BENCHMARKS.md
"""

from __future__ import annotations

from collections import Counter

import numpy as np

import craftpix.color as color
from craftpix.api import resolve_palette
from craftpix.color import delta_e_2000, hex_to_rgb8, pairwise_delta_e_2000, rgb_to_lab
from craftpix.media import get_medium

HUES = {"red", "orange", "yellow", "green", "blue", "purple", "pink", "brown"}
NAMER = HUES | {"grey", "black", "white"}
ALIAS = {"gray": "grey", "violet": "purple", "magenta": "pink", "cyan": "blue", "teal": "green"}
CATALOGS = [("perler", "beads"), ("hama", "beads"), ("artkal", "beads"), ("lego", "bricks"),
            ("dmc", "stitch")]


def survey() -> tuple[np.ndarray, np.ndarray]:
    from matplotlib._color_data import XKCD_COLORS

    names, rgb = [], []
    for key, hexcode in XKCD_COLORS.items():
        head = key[5:].split()[-1].replace("ish", "")
        head = ALIAS.get(head, head)
        if head in NAMER:
            names.append(head)
            rgb.append(hex_to_rgb8(hexcode))
    return np.array(names), np.array(rgb, dtype=np.float64) / 255.0


def namer(names: np.ndarray, lab: np.ndarray):
    def name(q: np.ndarray) -> np.ndarray:
        d = np.linalg.norm(q[:, None, :] - lab[None], axis=-1)
        near = np.argsort(d, axis=1)[:, :7]
        return np.array([Counter(names[row]).most_common(1)[0][0] for row in near])
    return name


# ΔE_ITP, ITU-R BT.2124-0 (2019), with BT.2100 PQ and the BT.709→BT.2020 primaries conversion.
_M709_2020 = np.array([[0.6274, 0.3293, 0.0433], [0.0691, 0.9195, 0.0114], [0.0164, 0.0880, 0.8956]])
_M2020_LMS = np.array([[1688, 2146, 262], [683, 2951, 462], [99, 309, 3688]]) / 4096
_M_ICTCP = np.array([[2048, 2048, 0], [6610, -13613, 7003], [17933, -17390, -543]]) / 4096


def _itp(rgb: np.ndarray) -> np.ndarray:
    lms = np.clip(color.srgb_to_linear(rgb) @ _M709_2020.T @ _M2020_LMS.T, 0, None) * 0.01
    m1, m2 = 2610 / 16384, 2523 / 4096 * 128
    c1, c2, c3 = 3424 / 4096, 2413 / 4096 * 32, 2392 / 4096 * 32
    y = lms ** m1
    return (((c1 + c2 * y) / (1 + c3 * y)) ** m2) @ _M_ICTCP.T * np.array([1.0, 0.5, 1.0])


def candidates():
    def de00(a, b, ra, rb):
        return pairwise_delta_e_2000(a, b)

    def itp(a, b, ra, rb):
        return 720 * np.linalg.norm(_itp(ra)[:, None] - _itp(rb)[None], axis=-1)

    def kh(a, b, ra, rb):
        d = pairwise_delta_e_2000(a, b)
        w = color.match_cost_weight(d)
        return (1 - w) * d + w * delta_e_2000(a[:, None], b[None], kH=0.5)

    def match(weight):
        def f(a, b, ra, rb):
            saved = color._HUE_WEIGHT
            color._HUE_WEIGHT = weight
            try:
                return color.pairwise_match_cost(a, b)
            finally:
                color._HUE_WEIGHT = saved
        return f

    yield "CIEDE2000", de00
    yield "ΔE_ITP", itp
    yield "CIEDE2000, kH=0.5 when far", kh
    for w in (0.5, 0.75, 1.0):
        yield f"match cost, hue weight {w}" + (" (craftpix)" if w == color._HUE_WEIGHT else ""), match(w)


def main() -> None:
    names, rgb = survey()
    lab = rgb_to_lab(rgb)
    name = namer(names, lab)
    own = name(lab)
    chromatic = np.isin(own, list(HUES))
    pals = {c: resolve_palette(get_medium(m), c, None, False)[0] for c, m in CATALOGS}
    print(f"{int(chromatic.sum())} XKCD survey colors with a hue name; hue agreement % "
          "(mean ΔE00 paid)\n")
    print("| decision | " + " | ".join(pals) + " | mean |")
    print("|---|" + "---|" * (len(pals) + 1))
    for label, f in candidates():
        cells, agree = [], []
        for pal in pals.values():
            pick = f(lab, pal.lab, rgb, pal.rgb).argmin(axis=1)
            a = float((name(pal.lab)[pick] == own)[chromatic].mean() * 100)
            de = float(pairwise_delta_e_2000(lab, pal.lab)[np.arange(len(pick)), pick].mean())
            agree.append(a)
            cells.append(f"{a:.1f} ({de:.2f})")
        print(f"| {label} | " + " | ".join(cells) + f" | {np.mean(agree):.1f} |")


if __name__ == "__main__":
    main()
