"""Pixel art from any source: the true grid of a scaled-up sprite and each cell's own color.

Image generators and editors hand out pixel art scaled by a fractional factor (7.3, 11.6 …),
its cell edges drifting by a pixel or two, blurred and saved as JPEG. :func:`find_sprite`
recovers the sprite, one pixel per cell, in its own few colors:

1. **Edge profile** per axis: the absolute color differences between neighbouring pixel
   columns (rows), summed over the image, the median removed (JPEG noise is a floor, edges
   stand above it).
2. **Pitch**: the profile's periodicity, the magnitude of its Fourier transform (zero-padded
   FFT, then refined by direct evaluation) relative to its sum: 1 for edges exactly on a
   lattice. Every harmonic of the true pitch (p/2, p/3 …) is also periodic, so each peak is a
   candidate and the **coarsest** candidate whose piecewise-constant reconstruction along that
   axis explains the image as well as the finest one wins.
3. **Edge positions** under drift: a Viterbi path over each lattice line's offset
   (within ±0.4 pitch) that follows the edge profile where the line has edges and keeps the
   offset steady where it has none.
4. **Cell colors**: the per-channel median of each cell's central half (away from blur and
   ringing), then grouped into the sprite's colors (CIEDE2000 within :data:`SAME_COLOR`, in
   order of frequency, centres re-fitted as medians), so every cell of one sprite color gets
   exactly one color: an outline stays one black, a one-cell highlight keeps its own.

The result is only accepted as pixel art when both axes are clearly periodic and the cells
are flat inside (:data:`MAX_RESIDUAL`) in at most :data:`MAX_COLORS` colors; photos, logos
and drawings give None.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from craftpix.color import delta_e_2000, pairwise_delta_e_2000, rgb8_to_lab

__all__ = [
    "MAX_COLORS",
    "MAX_RESIDUAL",
    "MIN_CELLS",
    "SAME_COLOR",
    "Sprite",
    "find_sprite",
    "sample_cells",
    "sprite_colors",
]

#: Fewest cells along each side of a sprite.
MIN_CELLS = 4
#: Most cells along a side (the pattern's own limit is 500).
MAX_CELLS = 500
#: Smallest and largest pitch (pixels per cell) looked for.
MIN_PITCH, MAX_PITCH = 2.0, 64.0
#: Least periodicity (Fourier magnitude over sum of the edge profile) of a pixel-art axis:
#: a blurred (σ = 1 px) lattice at pitch 7 has ≈ 0.7; photos stay below ≈ 0.15.
MIN_PERIODICITY = 0.3
#: Edges on a lattice are periodic at its pitch and at every harmonic (p/2, p/3 …) alike, the
#: true pitch the most (blur damps the harmonics): candidates within this factor of the most
#: periodic one tie, and the coarsest of them whose cells are flat inside wins.
TIE = 0.85
#: "Flat inside": a mean absolute deviation (8-bit units) of the cells' central pixels at most
#: this factor of the flattest tied candidate's, plus a quarter unit.
COARSER_SLACK = 1.5
#: Cell colors within this CIEDE2000 of a sprite color are that color (JPEG q70 and blur move
#: a cell's median by a few units; pixel-art palettes keep their colors further apart: the
#: closest two of PICO-8's 16 are 13.6 apart).
SAME_COLOR = 10.0
#: Most sprite colors (the flat-art limit of craftpix.imageio).
MAX_COLORS = 48
#: Least share of the grid lines, along each axis, that some color change crosses: sprites
#: change color on most lines (≥ 0.38 on the generator-style sprites of the tests); a photo of
#: a few flat shapes read on JPEG's 8-pixel blocks changes on a handful.
MIN_CHANGING = 0.25
#: Mean CIEDE2000 between the cells' central pixels and their sprite color, at most; and the
#: largest share of cells whose own mean is over twice that (a drawing's curved edges cross
#: its would-be cells' centres).
MAX_RESIDUAL = 4.0
MAX_MIXED = 0.03
#: Pixels that differ from the sprite's reconstruction by more than ``OFF_GRID_DIFF`` (8-bit,
#: any channel) must lie within ``EDGE_BAND`` of a pitch of a grid line; at most
#: ``MAX_OFF_GRID`` of them elsewhere (a drawing's curves and lines cross cells anywhere).
OFF_GRID_DIFF = 64
EDGE_BAND = 0.3
MAX_OFF_GRID = 0.02
#: The edge search's cost per pixel of change in a lattice line's offset from the previous one.
OFFSET_CHANGE = 0.05
_FFT_OVERSAMPLE = 16


@dataclass(frozen=True)
class Sprite:
    """Pixel art recovered from an image.

    ``cells`` is the sprite one pixel per cell (RGB, or RGBA with alpha 0 or 255 when the
    image had transparency), in its own colors; ``xs`` (w + 1,) and ``ys`` (h + 1,) are the
    cell edges in image pixels; ``pitch`` the mean pixels per cell (x, y); ``colors`` the
    sprite's colors, (K, 3) uint8.
    """

    cells: Image.Image
    xs: np.ndarray
    ys: np.ndarray
    pitch: tuple[float, float]
    colors: np.ndarray

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in cells."""
        return self.cells.size


def _profile(arr: np.ndarray, axis: int) -> np.ndarray:
    """Edge strength before each pixel along ``axis`` (1: columns, 0: rows), summed across it.

    ``arr`` (H, W, C) int. Returns (n,) float, index i = between pixel i − 1 and i (0 at 0),
    the median subtracted and clipped at 0.
    """
    d = np.abs(np.diff(arr.astype(np.int16), axis=axis)).sum(axis=2, dtype=np.int32)
    prof = d.sum(axis=1 - axis, dtype=np.int64).astype(np.float64)
    out = np.zeros(len(prof) + 1)
    out[1:] = np.maximum(prof - np.median(prof), 0.0)
    return out


def _coherence(prof: np.ndarray, freqs: np.ndarray) -> np.ndarray:
    """|Σ prof · e^(−2πi f x)| / Σ prof for each frequency (cycles per pixel)."""
    x = np.arange(len(prof), dtype=np.float64)
    total = prof.sum()
    out = np.empty(len(freqs))
    for start in range(0, len(freqs), 256):
        f = freqs[start:start + 256, None]
        out[start:start + 256] = np.abs(np.exp(-2j * np.pi * f * x) @ prof) / total
    return out


def _pitch_candidates(prof: np.ndarray) -> list[tuple[float, float, float]]:
    """Candidate pitches as (pitch, phase, periodicity), strongest first.

    Peaks of the zero-padded FFT of the edge profile within the pitch range, refined by direct
    evaluation, kept when at least half the strongest and :data:`MIN_PERIODICITY`.
    """
    n = len(prof)
    total = prof.sum()
    if total <= 0:
        return []
    size = _FFT_OVERSAMPLE * n
    spectrum = np.abs(np.fft.rfft(prof, size)) / total
    freqs = np.fft.rfftfreq(size)
    lo, hi = 1.0 / min(MAX_PITCH, n / MIN_CELLS), 1.0 / MIN_PITCH
    band = np.flatnonzero((freqs >= lo) & (freqs <= hi))
    if len(band) < 3:
        return []
    s = spectrum[band]
    peaks = band[1:-1][(s[1:-1] >= s[:-2]) & (s[1:-1] >= s[2:])]
    if len(peaks) == 0:
        return []
    best = spectrum[peaks].max()
    peaks = peaks[spectrum[peaks] >= max(0.5 * best, MIN_PERIODICITY)]
    out = []
    step = 1.0 / size
    x = np.arange(n, dtype=np.float64)
    for k in peaks[np.argsort(-spectrum[peaks])][:6]:
        fine = freqs[k] + np.linspace(-step, step, 41)
        c = _coherence(prof, fine)
        f = float(fine[np.argmax(c)])
        z = np.exp(-2j * np.pi * f * x) @ prof
        phase = (-np.angle(z) / (2 * np.pi) / f) % (1.0 / f)
        out.append((1.0 / f, float(phase), float(c.max())))
    return out


def _strength(prof: np.ndarray) -> np.ndarray:
    """The edge profile square-rooted (weak edges count) and normalised to a maximum of 1."""
    strength = np.sqrt(prof)
    return strength / max(float(strength.max()), 1e-12)


def _lines(strength: np.ndarray, pitch: float, phase: float) -> tuple[float, np.ndarray]:
    """The lattice lines ``phase + k · pitch`` moved onto the edges: (score, positions).

    Each line moves by an offset within ±0.4 pitch chosen by a Viterbi path: gain = the edge
    strength at the line's position, cost = :data:`OFFSET_CHANGE` per pixel the offset changes
    from one line to the next (drift is smooth; a line without edges keeps the offset).
    """
    n = len(strength) - 1
    base = phase + pitch * np.arange(-1, int(n / pitch) + 2)
    base = base[(base > 0.5) & (base < n - 0.5)]
    if len(base) == 0:
        return 0.0, np.zeros(0, dtype=np.int64)
    r = max(1, min(int(round(0.4 * pitch)), 6))
    offsets = np.arange(-r, r + 1)
    pos = np.clip(np.rint(base[:, None] + offsets[None, :]).astype(np.int64), 1, n - 1)
    gain = strength[pos]  # (L, O)
    move = OFFSET_CHANGE * np.abs(offsets[:, None] - offsets[None, :])  # (O_prev, O)
    score = gain[0].copy()
    back = np.zeros((len(base), len(offsets)), dtype=np.int64)
    cols = np.arange(len(offsets))
    for i in range(1, len(base)):
        total = score[:, None] - move
        back[i] = np.argmax(total, axis=0)
        score = total[back[i], cols] + gain[i]
    path = np.empty(len(base), dtype=np.int64)
    path[-1] = int(np.argmax(score))
    for i in range(len(base) - 1, 0, -1):
        path[i - 1] = back[i, path[i]]
    return float(score.max()), pos[np.arange(len(base)), path]


def _edges(prof: np.ndarray, pitch: float, phase: float) -> tuple[np.ndarray, float]:
    """Cell edges (pixel indices, increasing, 0 and n included) along one axis under drift,
    and the pitch. The lattice's lines are moved onto the edges by :func:`_lines`; segments
    at either end shorter than half a pitch are dropped.
    """
    n = len(prof) - 1
    strength = _strength(prof)
    _, lines = _lines(strength, pitch, phase)
    edges = np.unique(np.concatenate([[0], lines, [n]]))
    if len(edges) > 2 and edges[1] - edges[0] < 0.5 * pitch:
        edges = edges[1:]
    if len(edges) > 2 and edges[-1] - edges[-2] < 0.5 * pitch:
        edges = edges[:-1]
    return edges, pitch


def _inner(lo: int, hi: int, least: int = 1) -> slice:
    """The central half of pixels lo..hi − 1 (at least ``least`` pixels, if it has them)."""
    q = (hi - lo) / 4.0
    a, b = int(np.ceil(lo + q)), int(np.floor(hi - q))
    want = min(least, hi - lo)
    if b - a < want:
        a = max(lo, (lo + hi - want) // 2)
        b = a + want
    return slice(a, b)


def _axis_error(arr: np.ndarray, edges: np.ndarray, axis: int) -> float:
    """How flat the segments between ``edges`` (along ``axis``) are inside: the mean absolute
    difference between each segment's central half and its median there (per row or column).

    Blur and anti-aliasing at the edges do not count, so a harmonic of the true pitch (p/2)
    scores like the true one, while a coarser or misplaced lattice has edges inside its cells.
    """
    a = np.moveaxis(arr, axis, 0).astype(np.float32)  # (n, m, C)
    err = 0.0
    count = 0
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        inner = a[_inner(int(lo), int(hi), least=2)]
        err += float(np.abs(inner - np.median(inner, axis=0)).sum())
        count += inner.size
    return err / max(count, 1)


def _axis_grid(arr: np.ndarray, axis: int) -> tuple[np.ndarray, float, float] | None:
    """(edges, pitch, periodicity) of one axis (1: x, 0: y), or None when not periodic."""
    prof = _profile(arr, axis)
    candidates = _pitch_candidates(prof)
    if not candidates:
        return None
    strongest = max(c[2] for c in candidates)
    scored = []
    for pitch, phase, coherence in candidates:
        if coherence < TIE * strongest:
            continue
        edges, pitch = _edges(prof, pitch, phase)
        cells = len(edges) - 1
        if MIN_CELLS <= cells <= MAX_CELLS:
            scored.append((pitch, edges, coherence, _axis_error(arr, edges, axis)))
    if not scored:
        return None
    floor = min(s[3] for s in scored)
    good = [s for s in scored if s[3] <= COARSER_SLACK * floor + 0.25]
    pitch, edges, coherence, _ = max(good, key=lambda s: s[0])
    return edges, float((edges[-1] - edges[0]) / (len(edges) - 1)), coherence


def sample_cells(arr: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Each cell's color: the per-channel median of its central half.

    ``arr`` (H, W, C) uint8, ``xs`` (w + 1,) and ``ys`` (h + 1,) cell edges in pixels.
    Returns (h, w, C) uint8.
    """
    cols = [_inner(int(a), int(b)) for a, b in zip(xs[:-1], xs[1:], strict=True)]
    out = np.empty((len(ys) - 1, len(xs) - 1, arr.shape[2]), dtype=np.uint8)
    for j, (a, b) in enumerate(zip(ys[:-1], ys[1:], strict=True)):
        band = arr[_inner(int(a), int(b))]
        for i, c in enumerate(cols):
            out[j, i] = np.median(band[:, c].reshape(-1, arr.shape[2]), axis=0)
    return out


def sprite_colors(cells: np.ndarray, same: float = SAME_COLOR) -> tuple[np.ndarray, np.ndarray]:
    """Group cell colors into the sprite's colors: (labels (N,), colors (K, 3) uint8).

    ``cells`` (N, 3) uint8. Colors are visited in order of frequency (5 bits per channel
    bins); one more than ``same`` CIEDE2000 from every color so far starts a new color. Each
    cell then takes the nearest color and each color becomes the median of its cells (twice).
    """
    rgb = np.asarray(cells, dtype=np.uint8).reshape(-1, 3)
    lab = rgb8_to_lab(rgb)
    bins = (rgb >> 3).astype(np.int64)
    key = (bins[:, 0] << 10) | (bins[:, 1] << 5) | bins[:, 2]
    uniq, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    means = np.zeros((len(uniq), 3))
    np.add.at(means, inverse, lab)
    means /= counts[:, None]
    centres: list[np.ndarray] = []
    for k in np.argsort(-counts, kind="stable"):
        if not centres or delta_e_2000(np.array(centres), means[k]).min() > same:
            centres.append(means[k])
            if len(centres) > MAX_COLORS:
                break
    centre_lab = np.array(centres)
    colors = np.zeros((len(centre_lab), 3), dtype=np.uint8)
    for _ in range(2):
        labels = np.argmin(pairwise_delta_e_2000(lab, centre_lab), axis=1)
        used = np.unique(labels)
        colors = np.array([np.median(rgb[labels == k], axis=0) for k in used]).round()
        colors = colors.astype(np.uint8)
        centre_lab = rgb8_to_lab(colors)
    labels = np.argmin(pairwise_delta_e_2000(lab, centre_lab), axis=1)
    return labels, colors


def find_sprite(image: Image.Image) -> Sprite | None:
    """The pixel art in ``image`` (RGB or RGBA), or None when it is not scaled-up pixel art.

    See the module docstring for the method. A sprite has at least :data:`MIN_CELLS` cells
    along each side, a pitch of 2–64 pixels, at most :data:`MAX_COLORS` colors, its cells'
    central pixels are on average within :data:`MAX_RESIDUAL` CIEDE2000 of their color (and
    at most :data:`MAX_MIXED` of the cells on their own beyond twice that), and
    colors change across at least :data:`MIN_CHANGING` of its grid lines along each axis.
    With transparency, a cell is opaque when its central median alpha is at least half.
    """
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = np.dstack([arr] * 3)
    h, w = arr.shape[:2]
    if min(h, w) < MIN_CELLS * MIN_PITCH:
        return None
    rgb = arr[..., :3]
    if arr.shape[2] == 4:  # transparent pixels count as white for the grid
        a = arr[..., 3:].astype(np.float32) / 255.0
        rgb = np.rint(rgb * a + 255.0 * (1.0 - a)).astype(np.uint8)
    gx = _axis_grid(np.concatenate([rgb, arr[..., 3:]], axis=2), 1)
    gy = _axis_grid(np.concatenate([rgb, arr[..., 3:]], axis=2), 0) if gx else None
    if gx is None or gy is None:
        return None
    xs, ys = gx[0], gy[0]
    cells = sample_cells(arr, xs, ys)
    ch, cw = cells.shape[:2]
    opaque = np.ones((ch, cw), dtype=bool) if arr.shape[2] == 3 else cells[..., 3] >= 128
    if not opaque.any():
        return None
    labels, colors = sprite_colors(cells[..., :3][opaque])
    if len(colors) > MAX_COLORS or (len(colors) < 2 and opaque.all()):
        return None
    residual = _residual(rgb, xs, ys, opaque, labels, colors)
    if residual.mean() > MAX_RESIDUAL or (residual > 2 * MAX_RESIDUAL).mean() > MAX_MIXED:
        return None
    grid = np.full((ch, cw), -1, dtype=np.int64)
    grid[opaque] = labels
    across = (grid[:, 1:] != grid[:, :-1]).any(axis=0).mean()
    down = (grid[1:] != grid[:-1]).any(axis=1).mean()
    if min(across, down) < MIN_CHANGING:  # a few shapes on a lattice of JPEG blocks
        return None
    out = np.zeros((ch, cw, arr.shape[2]), dtype=np.uint8)
    out[..., :3][opaque] = colors[labels]
    if _off_grid_share(rgb, xs, ys, out[..., :3], opaque) > MAX_OFF_GRID:
        return None  # color changes inside cells: curves and lines of a drawing, not cells
    if arr.shape[2] == 4:
        out[..., 3] = np.where(opaque, 255, 0)
    mode = "RGBA" if arr.shape[2] == 4 else "RGB"
    return Sprite(Image.fromarray(out, mode), xs, ys, (gx[1], gy[1]), colors)


def _off_grid_share(rgb: np.ndarray, xs: np.ndarray, ys: np.ndarray, cells: np.ndarray,
                    opaque: np.ndarray) -> float:
    """Share of the pixels that differ clearly from the sprite's reconstruction which lie away
    from every grid line (farther than :data:`EDGE_BAND` of a pitch, at least 2 px).

    Scaled-up pixel art differs from its reconstruction only along the cell edges (blur, JPEG
    ringing, drift); a drawing read on a lattice differs wherever its curves and lines cross
    the would-be cells. rgb (H, W, 3) uint8; xs (w + 1,), ys (h + 1,) cell edges in pixels;
    cells (h, w, 3) the sprite; opaque (h, w) bool. Returns 0 when nothing differs.
    """
    h, w = rgb.shape[:2]
    col = np.clip(np.searchsorted(xs, np.arange(w) + 0.5, side="right") - 1, 0, len(xs) - 2)
    row = np.clip(np.searchsorted(ys, np.arange(h) + 0.5, side="right") - 1, 0, len(ys) - 2)
    rebuilt = cells[row[:, None], col[None, :]].astype(np.int32)
    diff = np.abs(rgb.astype(np.int32) - rebuilt).max(axis=2) > OFF_GRID_DIFF
    diff &= opaque[row[:, None], col[None, :]]
    if not diff.any():
        return 0.0
    pitch = min(float(np.diff(xs).mean()), float(np.diff(ys).mean()))
    band = max(2.0, EDGE_BAND * pitch)
    dx = np.abs(np.arange(w)[:, None] + 0.5 - xs[None, :]).min(axis=1) > band
    dy = np.abs(np.arange(h)[:, None] + 0.5 - ys[None, :]).min(axis=1) > band
    return float((diff & dy[:, None] & dx[None, :]).sum() / diff.sum())


def _residual(rgb: np.ndarray, xs: np.ndarray, ys: np.ndarray, opaque: np.ndarray,
              labels: np.ndarray, colors: np.ndarray) -> np.ndarray:
    """Per opaque cell, the mean CIEDE2000 between its central pixels and its sprite color."""
    grid = np.full(opaque.shape, -1, dtype=np.int64)
    grid[opaque] = labels
    pixels, targets, owner = [], [], []
    cols = [_inner(int(a), int(b)) for a, b in zip(xs[:-1], xs[1:], strict=True)]
    for j, (a, b) in enumerate(zip(ys[:-1], ys[1:], strict=True)):
        band = rgb[_inner(int(a), int(b))]
        for i, c in enumerate(cols):
            if grid[j, i] >= 0:
                block = band[:, c].reshape(-1, 3)[::2]
                pixels.append(block)
                targets.append(np.repeat(grid[j, i], len(block)))
                owner.append(np.repeat(len(owner), len(block)))
    p = np.concatenate(pixels)
    t = np.concatenate(targets)
    o = np.concatenate(owner)
    de = delta_e_2000(rgb8_to_lab(p), rgb8_to_lab(colors)[t])
    return np.bincount(o, weights=de) / np.bincount(o)
