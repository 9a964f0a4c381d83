"""Color science for craftpix: sRGB <-> XYZ <-> CIELAB, CIEDE2000, IPT, and the one color decision.

**The one color decision** is :func:`pairwise_match_cost` (and :func:`nearest_color_indices`,
its argmin): the cost of showing a source color with a catalog color. It is CIEDE2000 while
the match is close (ΔE00 <= 5, where CIEDE2000 was fitted and is the best formula we have) and
adds a hue-faithfulness term as the match gets far (fully at ΔE00 >= 10, the gamut edge, where
CIEDE2000's blue region bends toward purple): pure blue then picks a blue, not a violet. The
term and its weights were chosen on human data (the XKCD color survey's names, see
``bench/color_measure.py`` and docs/BENCHMARKS.md). Every place that *chooses which catalog
color stands for a source color* goes through it: the photo engine's color choice, flat art's
mapping, inventory/``--only``, ``convert``, edits, resize (the SDS engine's ``"de2000"`` init
stays CIEDE2000/100, as that option says). Labelling cells among the colors so chosen (Potts data term, dithering) and reported fidelity (mean ΔE00) stay plain CIEDE2000, the
formula fitted for those small differences.

Every array function accepts either a numpy array (anything ``np.asarray`` takes) or a
``torch.Tensor`` and returns the same kind.  The torch path is differentiable and its
gradients stay finite everywhere (zero chroma, greys, black, identical pairs): square roots
and ``atan2`` are guarded so that their undefined points get a zero gradient instead of NaN,
while the forward values match the numpy path.

Conventions (chosen to agree with ``colormath2``'s defaults):

* sRGB transfer curve of IEC 61966-2-1 (threshold 0.04045 / 0.0031308).
* sRGB primaries with a D65 white; the RGB->XYZ matrix is the one derived from the sRGB
  primaries and the ASTM E308 D65 white ``(0.95047, 1.0, 1.08883)``, so sRGB white maps to
  ``L*=100, a*=b*=0`` exactly.  (colormath2 ships a slightly older 6-digit matrix; the two
  differ by < 0.02 in L*a*b*.)
* CIELAB relative to that same D65 2-degree white, with the exact CIE constants
  ``epsilon = 216/24389`` and ``kappa = 24389/27`` (colormath2 rounds ``kappa/116`` to 7.787).
* CIEDE2000 as in Sharma, Wu & Dalal (2005).  (colormath2's ``delta_e_cie2000`` differs by
  up to ~1e-4 for some pairs whose hues are more than 180 degrees apart: it never takes
  the "-360" branch of the mean hue.)
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from typing import TypeAlias

    import torch

    Array: TypeAlias = np.ndarray | torch.Tensor

__all__ = [
    "CLOSE_MATCH_DE00",
    "D65_WHITE",
    "delta_e_2000",
    "hex_to_rgb8",
    "lab_to_rgb",
    "lab_to_xyz",
    "linear_rgb_to_xyz",
    "linear_to_srgb",
    "lab_to_ipt",
    "match_cost_weight",
    "nearest_color_indices",
    "pairwise_delta_e_2000",
    "pairwise_match_cost",
    "rgb8_to_hex",
    "rgb8_to_lab",
    "rgb_to_lab",
    "srgb_to_linear",
    "xyz_to_lab",
    "xyz_to_linear_rgb",
]

# --------------------------------------------------------------------------------------
# Constants
# --------------------------------------------------------------------------------------

#: D65, CIE 1931 2-degree observer, ASTM E308 (same numbers colormath2 uses for "d65").
D65_WHITE = np.array([0.95047, 1.0, 1.08883], dtype=np.float64)


def _rgb_to_xyz_matrix(white: np.ndarray) -> np.ndarray:
    """Linear sRGB -> XYZ matrix from the sRGB (ITU-R BT.709) primaries and ``white``.

    Full-precision version of the familiar 0.4124564, 0.3575761, ... matrix, so that sRGB
    white lands exactly on the white point (L*=100, a*=b*=0).
    """
    xy = np.array([[0.64, 0.33], [0.30, 0.60], [0.15, 0.06]])
    primaries = np.stack([xy[:, 0] / xy[:, 1], np.ones(3), (1.0 - xy.sum(axis=1)) / xy[:, 1]])
    return primaries * np.linalg.solve(primaries, white)


#: Linear sRGB -> XYZ (D65).
_RGB_TO_XYZ = _rgb_to_xyz_matrix(D65_WHITE)
_XYZ_TO_RGB = np.linalg.inv(_RGB_TO_XYZ)

_SRGB_ENC_THRESH = 0.04045  # on the encoded (gamma) side
_SRGB_LIN_THRESH = 0.0031308  # on the linear side

_LAB_EPS = 216.0 / 24389.0  # (6/29)**3
_LAB_KAPPA = 24389.0 / 27.0  # (29/3)**3
_LAB_F_EPS = 6.0 / 29.0  # f(eps)

_POW25_7 = 25.0**7
_DEG = 180.0 / math.pi
_RAD = math.pi / 180.0

#: Below this, a guarded torch sqrt / atan2 returns 0 with a zero gradient.
_TINY = 1e-30

#: Default number of pair evaluations per chunk in the pairwise / nearest functions.
_PAIRS_PER_CHUNK = 1 << 18


# --------------------------------------------------------------------------------------
# numpy / torch dispatch helpers
# --------------------------------------------------------------------------------------


def _is_torch(x: Any) -> bool:
    """True if ``x`` is a torch tensor (without importing torch when it isn't loaded)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def _np_float(x: Any) -> np.ndarray:
    """``x`` as a floating numpy array (float64 unless it already is floating)."""
    a = np.asarray(x)
    if a.dtype.kind != "f":
        a = a.astype(np.float64)
    return a


def _t_float(x: torch.Tensor) -> torch.Tensor:
    import torch

    return x if x.is_floating_point() else x.to(torch.get_default_dtype())


def _check_last3(x: Any, name: str) -> None:
    if x.ndim < 1 or x.shape[-1] != 3:
        raise ValueError(f"{name} must have shape (..., 3), got {tuple(x.shape)}")


class _NumpyOps:
    """Elementwise primitives for the numpy backend."""

    where = staticmethod(np.where)
    sin = staticmethod(np.sin)
    cos = staticmethod(np.cos)
    exp = staticmethod(np.exp)
    abs = staticmethod(np.abs)

    @staticmethod
    def sqrt(x: np.ndarray) -> np.ndarray:
        return np.sqrt(np.maximum(x, 0.0))

    @staticmethod
    def hue_deg(y: np.ndarray, x: np.ndarray) -> np.ndarray:
        h = np.arctan2(y + 0.0, x + 0.0) * _DEG  # +0.0 turns -0.0 into 0.0: atan2(0, -0) is pi
        return np.where(h < 0.0, h + 360.0, h)


class _TorchOps:
    """Elementwise primitives for the torch backend, with NaN-free gradients."""

    @staticmethod
    def where(cond: torch.Tensor, a: Any, b: Any) -> torch.Tensor:
        import torch

        return torch.where(cond, a, b)

    @staticmethod
    def sin(x: torch.Tensor) -> torch.Tensor:
        return x.sin()

    @staticmethod
    def cos(x: torch.Tensor) -> torch.Tensor:
        return x.cos()

    @staticmethod
    def exp(x: torch.Tensor) -> torch.Tensor:
        return x.exp()

    @staticmethod
    def abs(x: torch.Tensor) -> torch.Tensor:
        return x.abs()

    @staticmethod
    def sqrt(x: torch.Tensor) -> torch.Tensor:
        import torch

        ok = x > _TINY
        return torch.where(ok, torch.where(ok, x, torch.ones_like(x)).sqrt(), torch.zeros_like(x))

    @staticmethod
    def hue_deg(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        import torch

        ok = (x * x + y * y) > _TINY
        ys = torch.where(ok, y, torch.zeros_like(y))
        xs = torch.where(ok, x, torch.ones_like(x))
        h = torch.atan2(ys, xs) * _DEG
        h = torch.where(h < 0.0, h + 360.0, h)
        return torch.where(ok, h, torch.zeros_like(h))


# --------------------------------------------------------------------------------------
# Transfer curve, matrices, CIELAB
# --------------------------------------------------------------------------------------


def srgb_to_linear(x: Array) -> Array:
    """Decode sRGB values (float, nominally [0, 1]) to linear light (IEC 61966-2-1)."""
    if _is_torch(x):
        import torch

        x = _t_float(x)
        hi = ((torch.clamp(x, min=_SRGB_ENC_THRESH) + 0.055) / 1.055) ** 2.4
        return torch.where(x <= _SRGB_ENC_THRESH, x / 12.92, hi)
    x = _np_float(x)
    hi = ((np.maximum(x, _SRGB_ENC_THRESH) + 0.055) / 1.055) ** 2.4
    return np.where(x <= _SRGB_ENC_THRESH, x / 12.92, hi)


def linear_to_srgb(x: Array) -> Array:
    """Encode linear-light values to sRGB (IEC 61966-2-1); not clipped."""
    if _is_torch(x):
        import torch

        x = _t_float(x)
        hi = 1.055 * torch.clamp(x, min=_SRGB_LIN_THRESH) ** (1.0 / 2.4) - 0.055
        return torch.where(x <= _SRGB_LIN_THRESH, x * 12.92, hi)
    x = _np_float(x)
    hi = 1.055 * np.maximum(x, _SRGB_LIN_THRESH) ** (1.0 / 2.4) - 0.055
    return np.where(x <= _SRGB_LIN_THRESH, x * 12.92, hi)


def _apply_matrix(x: Array, m: np.ndarray, name: str) -> Array:
    if _is_torch(x):
        import torch

        x = _t_float(x)
        _check_last3(x, name)
        return x @ torch.as_tensor(m.T, dtype=x.dtype, device=x.device)
    x = _np_float(x)
    _check_last3(x, name)
    return x @ m.T.astype(x.dtype, copy=False)


def linear_rgb_to_xyz(x: Array) -> Array:
    """Linear sRGB (..., 3) -> CIE XYZ (..., 3), D65, Y of white = 1."""
    return _apply_matrix(x, _RGB_TO_XYZ, "linear rgb")


def xyz_to_linear_rgb(x: Array) -> Array:
    """CIE XYZ (..., 3), D65 -> linear sRGB (..., 3); not clipped."""
    return _apply_matrix(x, _XYZ_TO_RGB, "xyz")


def xyz_to_lab(xyz: Array) -> Array:
    """CIE XYZ (..., 3) -> CIELAB (..., 3) relative to the D65 2-degree white."""
    if _is_torch(xyz):
        import torch

        xyz = _t_float(xyz)
        _check_last3(xyz, "xyz")
        t = xyz / torch.as_tensor(D65_WHITE, dtype=xyz.dtype, device=xyz.device)
        f = torch.where(
            t > _LAB_EPS,
            torch.clamp(t, min=_LAB_EPS) ** (1.0 / 3.0),
            (_LAB_KAPPA * t + 16.0) / 116.0,
        )
        fx, fy, fz = f.unbind(-1)
        return torch.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], dim=-1)
    xyz = _np_float(xyz)
    _check_last3(xyz, "xyz")
    t = xyz / D65_WHITE.astype(xyz.dtype, copy=False)
    f = np.where(t > _LAB_EPS, np.cbrt(t), (_LAB_KAPPA * t + 16.0) / 116.0)
    fx, fy, fz = f[..., 0], f[..., 1], f[..., 2]
    return np.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], axis=-1)


def lab_to_xyz(lab: Array) -> Array:
    """CIELAB (..., 3), D65 2-degree white -> CIE XYZ (..., 3)."""
    if _is_torch(lab):
        import torch

        lab = _t_float(lab)
        _check_last3(lab, "lab")
        L, a, b = lab.unbind(-1)
        fy = (L + 16.0) / 116.0
        f = torch.stack([fy + a / 500.0, fy, fy - b / 200.0], dim=-1)
        t = torch.where(f > _LAB_F_EPS, f**3, (116.0 * f - 16.0) / _LAB_KAPPA)
        return t * torch.as_tensor(D65_WHITE, dtype=lab.dtype, device=lab.device)
    lab = _np_float(lab)
    _check_last3(lab, "lab")
    L, a, b = lab[..., 0], lab[..., 1], lab[..., 2]
    fy = (L + 16.0) / 116.0
    f = np.stack([fy + a / 500.0, fy, fy - b / 200.0], axis=-1)
    t = np.where(f > _LAB_F_EPS, f**3, (116.0 * f - 16.0) / _LAB_KAPPA)
    return t * D65_WHITE.astype(lab.dtype, copy=False)


def rgb_to_lab(rgb: Array) -> Array:
    """Float sRGB in [0, 1], shape (..., 3) -> CIELAB (..., 3)."""
    return xyz_to_lab(linear_rgb_to_xyz(srgb_to_linear(rgb)))


def lab_to_rgb(lab: Array) -> Array:
    """CIELAB (..., 3) -> float sRGB (..., 3); not clipped (out-of-gamut values leave [0, 1])."""
    return linear_to_srgb(xyz_to_linear_rgb(lab_to_xyz(lab)))


def rgb8_to_lab(rgb8: Array) -> Array:
    """8-bit sRGB (integers 0..255, shape (..., 3)) -> CIELAB (..., 3)."""
    if _is_torch(rgb8):
        return rgb_to_lab(_t_float(rgb8) / 255.0)
    a = np.asarray(rgb8)
    if a.size and (a.min() < 0 or a.max() > 255):
        raise ValueError("rgb8 values must lie in 0..255")
    return rgb_to_lab(a.astype(np.float64) / 255.0)


# --------------------------------------------------------------------------------------
# Hex strings
# --------------------------------------------------------------------------------------

_HEX_RE = re.compile(r"#?([0-9a-fA-F]{6})|#([0-9a-fA-F]{3})")


def hex_to_rgb8(s: str) -> tuple[int, int, int]:
    """Parse ``"#RRGGBB"``, ``"RRGGBB"`` or ``"#RGB"`` (any case, surrounding whitespace ok)."""
    if not isinstance(s, str):
        raise ValueError(f"hex color must be a str, got {type(s).__name__}")
    m = _HEX_RE.fullmatch(s.strip())
    if m is None:
        raise ValueError(f"invalid hex color {s!r}: expected '#RRGGBB', 'RRGGBB' or '#RGB'")
    digits = m.group(1) or "".join(c * 2 for c in m.group(2))
    return (int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16))


def _as_channel(v: Any) -> int:
    if hasattr(v, "item") and not isinstance(v, (int, float)):
        v = v.item()  # numpy / torch scalars
    if isinstance(v, bool):
        raise ValueError(f"rgb channel must be an integer 0..255, got {v!r}")
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if not isinstance(v, int):
        raise ValueError(f"rgb channel must be an integer 0..255, got {v!r}")
    if not 0 <= v <= 255:
        raise ValueError(f"rgb channel out of range 0..255: {v}")
    return v


def rgb8_to_hex(rgb: Sequence[int] | np.ndarray) -> str:
    """``(r, g, b)`` integers 0..255 -> ``"#RRGGBB"`` (uppercase)."""
    try:
        vals = list(rgb)
    except TypeError:
        raise ValueError(f"expected three integers 0..255, got {rgb!r}") from None
    if len(vals) != 3:
        raise ValueError(f"expected three integers 0..255, got {len(vals)} values")
    r, g, b = (_as_channel(v) for v in vals)
    return f"#{r:02X}{g:02X}{b:02X}"


# --------------------------------------------------------------------------------------
# CIEDE2000
# --------------------------------------------------------------------------------------


def _ciede2000(lab1: Any, lab2: Any, kL: float, kC: float, kH: float, ops: Any) -> Any:
    """CIEDE2000 core shared by both backends (Sharma, Wu & Dalal 2005, eqs. 1-22)."""
    L1, a1, b1 = lab1[..., 0], lab1[..., 1], lab1[..., 2]
    L2, a2, b2 = lab2[..., 0], lab2[..., 1], lab2[..., 2]
    where, sqrt = ops.where, ops.sqrt

    c_bar = 0.5 * (sqrt(a1 * a1 + b1 * b1) + sqrt(a2 * a2 + b2 * b2))
    c_bar7 = c_bar**7
    g1 = 1.5 - 0.5 * sqrt(c_bar7 / (c_bar7 + _POW25_7))  # 1 + G
    a1p = g1 * a1
    a2p = g1 * a2
    c1p = sqrt(a1p * a1p + b1 * b1)
    c2p = sqrt(a2p * a2p + b2 * b2)
    h1p = ops.hue_deg(b1, a1p)
    h2p = ops.hue_deg(b2, a2p)

    prod = c1p * c2p
    achromatic = prod == 0.0
    dh = h2p - h1p
    dh = where(dh > 180.0, dh - 360.0, where(dh < -180.0, dh + 360.0, dh))
    dh = where(achromatic, 0.0 * dh, dh)
    d_lp = L2 - L1
    d_cp = c2p - c1p
    d_hp = 2.0 * sqrt(prod) * ops.sin(dh * (0.5 * _RAD))

    l_bar = 0.5 * (L1 + L2)
    c_barp = 0.5 * (c1p + c2p)
    h_sum = h1p + h2p
    h_bar = where(
        ops.abs(h1p - h2p) <= 180.0,
        0.5 * h_sum,
        where(h_sum < 360.0, 0.5 * h_sum + 180.0, 0.5 * h_sum - 180.0),
    )
    h_bar = where(achromatic, h_sum, h_bar)

    t = (
        1.0
        - 0.17 * ops.cos((h_bar - 30.0) * _RAD)
        + 0.24 * ops.cos((2.0 * h_bar) * _RAD)
        + 0.32 * ops.cos((3.0 * h_bar + 6.0) * _RAD)
        - 0.20 * ops.cos((4.0 * h_bar - 63.0) * _RAD)
    )
    d_theta = 30.0 * ops.exp(-(((h_bar - 275.0) / 25.0) ** 2))
    c_barp7 = c_barp**7
    r_c = 2.0 * sqrt(c_barp7 / (c_barp7 + _POW25_7))
    lm = (l_bar - 50.0) ** 2
    s_l = 1.0 + 0.015 * lm / (20.0 + lm) ** 0.5
    s_c = 1.0 + 0.045 * c_barp
    s_h = 1.0 + 0.015 * c_barp * t
    r_t = -ops.sin((2.0 * d_theta) * _RAD) * r_c

    tl = d_lp / (kL * s_l)
    tc = d_cp / (kC * s_c)
    th = d_hp / (kH * s_h)
    return sqrt(tl * tl + tc * tc + th * th + r_t * tc * th)


def delta_e_2000(
    lab1: Array, lab2: Array, kL: float = 1.0, kC: float = 1.0, kH: float = 1.0
) -> Array:
    """CIEDE2000 color difference between Lab arrays (..., 3), broadcasting leading dims.

    Returns shape ``broadcast(lab1.shape, lab2.shape)[:-1]``.  If either input is a torch
    tensor the result is a (differentiable) tensor, otherwise a numpy array.
    """
    if _is_torch(lab1) or _is_torch(lab2):
        import torch

        ref = lab1 if _is_torch(lab1) else lab2
        ref = _t_float(ref)
        t1 = (
            torch.as_tensor(lab1, dtype=ref.dtype, device=ref.device)
            if not _is_torch(lab1)
            else _t_float(lab1)
        )
        t2 = (
            torch.as_tensor(lab2, dtype=ref.dtype, device=ref.device)
            if not _is_torch(lab2)
            else _t_float(lab2)
        )
        _check_last3(t1, "lab1")
        _check_last3(t2, "lab2")
        return _ciede2000(t1, t2, kL, kC, kH, _TorchOps)
    n1, n2 = _np_float(lab1), _np_float(lab2)
    _check_last3(n1, "lab1")
    _check_last3(n2, "lab2")
    return _ciede2000(n1, n2, kL, kC, kH, _NumpyOps)


def _chunk_rows(m: int, chunk_size: int | None) -> int:
    if chunk_size is not None:
        if chunk_size < 1:
            raise ValueError("chunk_size must be >= 1")
        return int(chunk_size)
    return max(1, _PAIRS_PER_CHUNK // max(m, 1))


def pairwise_delta_e_2000(a: Array, b: Array, chunk_size: int | None = None) -> Array:
    """All CIEDE2000 distances between Lab rows: a (N, 3), b (M, 3) -> (N, M).

    Work is chunked over N (``chunk_size`` rows at a time, by default about 2**18 pairs per
    chunk), so temporaries stay bounded; only the (N, M) result itself grows with N.
    """
    if _is_torch(a) or _is_torch(b):
        import torch

        ref = _t_float(a if _is_torch(a) else b)
        ta = torch.as_tensor(a, dtype=ref.dtype, device=ref.device)
        tb = torch.as_tensor(b, dtype=ref.dtype, device=ref.device)
        if ta.ndim != 2 or ta.shape[1] != 3 or tb.ndim != 2 or tb.shape[1] != 3:
            raise ValueError("pairwise_delta_e_2000 expects a (N, 3) and b (M, 3)")
        step = _chunk_rows(tb.shape[0], chunk_size)
        if ta.shape[0] <= step:
            return delta_e_2000(ta[:, None, :], tb[None, :, :])
        parts = [
            delta_e_2000(ta[i : i + step, None, :], tb[None, :, :])
            for i in range(0, ta.shape[0], step)
        ]
        return torch.cat(parts, dim=0)
    na, nb = _np_float(a), _np_float(b)
    if na.ndim != 2 or na.shape[1] != 3 or nb.ndim != 2 or nb.shape[1] != 3:
        raise ValueError("pairwise_delta_e_2000 expects a (N, 3) and b (M, 3)")
    step = _chunk_rows(nb.shape[0], chunk_size)
    out = np.empty((na.shape[0], nb.shape[0]), dtype=np.result_type(na, nb))
    for i in range(0, na.shape[0], step):
        out[i : i + step] = _ciede2000(
            na[i : i + step, None, :], nb[None, :, :], 1.0, 1.0, 1.0, _NumpyOps
        )
    return out


# --------------------------------------------------------------------------------------
# IPT and the one color decision
# --------------------------------------------------------------------------------------

#: XYZ (D65, Y = 1) -> LMS and L'M'S' -> IPT, Ebner & Fairchild, "Development and testing of a
#: color space (IPT) with improved hue uniformity", IS&T/SID 6th Color Imaging Conf. (1998).
_XYZ_TO_LMS = np.array([[0.4002, 0.7075, -0.0807], [-0.2280, 1.1500, 0.0612],
                        [0.0, 0.0, 0.9184]])
_LMS_TO_IPT = np.array([[0.4000, 0.4000, 0.2000], [4.4550, -4.8510, 0.3960],
                        [0.8056, 0.3572, -1.1628]])

#: The match is "close" below this CIEDE2000 (pure CIEDE2000) and "far" above ``_FAR`` (full
#: hue term); linear in between. Chosen with ``bench/color_measure.py`` (docs/BENCHMARKS.md).
CLOSE_MATCH_DE00, _FAR = 5.0, 10.0
#: Weight of the hue term (ΔE00 units per IPT chroma x 100) and the IPT chroma under which a
#: catalog color counts as grey (hue lost). Same source.
_HUE_WEIGHT = 0.75
_GREY_CHROMA = 0.02
#: CIELAB chroma C*ab of a source color over which its hue is seen (the hue term ramps in
#: linearly from the first to the second): IPT's 0.43 power has an infinite slope at black, so
#: a near-black such as #020000 (C*ab 0.6) has an IPT chroma like a pastel's and would be
#: matched by its invisible hue. A C*ab of 1 is about one just-noticeable difference.
_HUE_SEEN = (1.0, 5.0)
#: ... for dark colors only: the ramp fades out as L* goes from 10 to 20 (lighter colors keep
#: the full hue term, as measured with bench/color_measure.py and bench/photo_bench.py).
_DARK = (10.0, 20.0)


def lab_to_ipt(lab: np.ndarray) -> np.ndarray:
    """CIELAB (D65) (..., 3) -> IPT (..., 3): I in ~[0, 1], P and T in ~[-1, 1].

    IPT (Ebner & Fairchild 1998) was built for constant perceived hue along straight lines from
    its neutral axis, which CIELAB lacks in the blue region. Numpy only.
    """
    xyz = np.asarray(lab_to_xyz(np.asarray(lab, dtype=np.float64)), dtype=np.float64)
    lms = xyz @ _XYZ_TO_LMS.T
    return (np.sign(lms) * np.abs(lms) ** 0.43) @ _LMS_TO_IPT.T


def match_cost_weight(delta_e: np.ndarray) -> np.ndarray:
    """How much of the hue term a match of CIEDE2000 ``delta_e`` gets: 0 up to 5, 1 from 10."""
    return np.clip((np.asarray(delta_e, dtype=np.float64) - CLOSE_MATCH_DE00)
                   / (_FAR - CLOSE_MATCH_DE00), 0.0, 1.0)


def pairwise_match_cost(a: np.ndarray, b: np.ndarray, chunk_size: int | None = None) -> np.ndarray:
    """The cost of showing each source color ``a`` (N, 3 Lab) with each catalog color ``b``
    (M, 3 Lab) -> (N, M), in ΔE00 units. Numpy only (torch input is converted).

    ``cost = ΔE00 + w(ΔE00) · 0.75 · 100 · C_a · |û_a − u_b|`` where ``C_a`` is the source's
    IPT chroma, ``û_a`` its IPT hue direction (unit vector in the P-T plane) and ``u_b`` the
    catalog color's P-T vector divided by ``max(C_b, 0.02)`` (so a grey catalog color, whose hue
    is lost, costs as a 90° hue turn). ``|û_a − u_b| = 2 sin(Δh/2)`` for chromatic pairs.
    ``w`` is 0 for ΔE00 <= 5 (close matches are plain CIEDE2000, Sharma et al. 2005) and 1 for
    ΔE00 >= 10. For dark sources (L* < 20) ``C_a`` is scaled by 0 → 1 as the CIELAB chroma goes
    from 1 to 5 (a near-black's hue is not seen; see ``_HUE_SEEN`` and ``_DARK``).
    Raises ValueError for shapes other than (N, 3), (M, 3).
    """
    na = np.asarray(a.detach().cpu().numpy() if _is_torch(a) else a, dtype=np.float64)
    nb = np.asarray(b.detach().cpu().numpy() if _is_torch(b) else b, dtype=np.float64)
    if na.ndim != 2 or na.shape[1] != 3 or nb.ndim != 2 or nb.shape[1] != 3:
        raise ValueError("pairwise_match_cost expects a (N, 3) and b (M, 3)")
    d = pairwise_delta_e_2000(na, nb, chunk_size)
    w = match_cost_weight(d)
    far = w > 0.0
    if not far.any():
        return d
    rows = np.flatnonzero(far.any(axis=1))
    pa = lab_to_ipt(na[rows])[:, 1:]
    pb = lab_to_ipt(nb)[:, 1:]
    seen = np.maximum(  # near-blacks only: IPT's hue is sound away from black
        np.clip((np.hypot(na[rows, 1], na[rows, 2]) - _HUE_SEEN[0])
                / (_HUE_SEEN[1] - _HUE_SEEN[0]), 0.0, 1.0),
        np.clip((na[rows, 0] - _DARK[0]) / (_DARK[1] - _DARK[0]), 0.0, 1.0))
    ca = np.hypot(pa[:, 0], pa[:, 1]) * seen
    ua = pa / np.maximum(ca, 1e-12)[:, None]
    ub = pb / np.maximum(np.hypot(pb[:, 0], pb[:, 1]), _GREY_CHROMA)[:, None]
    turn = np.sqrt(np.maximum(0.0, (ua * ua).sum(1)[:, None] - 2.0 * ua @ ub.T
                              + (ub * ub).sum(1)[None, :]))
    d[rows] += w[rows] * (_HUE_WEIGHT * 100.0) * ca[:, None] * turn
    return d


def nearest_color_indices(lab: Array, palette_lab: Array, chunk_size: int | None = None) -> Array:
    """Index of the best catalog entry for every Lab color by :func:`pairwise_match_cost`.

    lab (..., 3), palette_lab (n, 3) -> int64 indices (...).  Ties go to the lowest index.
    Memory is bounded: costs are computed ``chunk_size`` colors at a time and repeated colors
    are evaluated once.  Torch input gives a torch int64 tensor (no gradient).
    Raises ValueError for a palette that is not (n >= 1, 3).
    """
    if _is_torch(lab) or _is_torch(palette_lab):
        import torch

        ref = lab if _is_torch(lab) else palette_lab
        idx = nearest_color_indices(
            lab.detach().cpu().numpy() if _is_torch(lab) else lab,
            palette_lab.detach().cpu().numpy() if _is_torch(palette_lab) else palette_lab,
            chunk_size)
        return torch.as_tensor(idx, dtype=torch.int64, device=ref.device)
    nl, npal = _np_float(lab), _np_float(palette_lab)
    _check_last3(nl, "lab")
    if npal.ndim != 2 or npal.shape[1] != 3 or npal.shape[0] == 0:
        raise ValueError("palette_lab must have shape (n, 3) with n >= 1")
    flat = nl.reshape(-1, 3)
    inverse = None
    if flat.shape[0] > 4 * npal.shape[0]:
        flat, inverse = np.unique(flat, axis=0, return_inverse=True)
    step = _chunk_rows(npal.shape[0], chunk_size)
    idx = np.empty(flat.shape[0], dtype=np.int64)
    for i in range(0, flat.shape[0], step):
        idx[i : i + step] = np.argmin(pairwise_match_cost(flat[i : i + step], npal), axis=1)
    if inverse is not None:
        idx = idx[inverse.reshape(-1)]
    return idx.reshape(nl.shape[:-1])
