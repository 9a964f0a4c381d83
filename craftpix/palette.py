"""Catalogs of real colors: loading, nearest color, and choosing a subset for an image.

A catalog is a CSV under ``palettes/`` (``code,name,hex`` first, extra columns allowed, ``#``
comment lines on top naming the source). Users may also pass their own CSV in that format,
a GIMP ``.gpl`` palette, or a ``.hex`` file (one ``RRGGBB`` per line, as Lospec exports).
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from craftpix.color import (
    hex_to_rgb8,
    nearest_color_indices,
    pairwise_delta_e_2000,
    pairwise_match_cost,
    rgb8_to_hex,
    rgb_to_lab,
)
from craftpix.errors import InputError, excerpt, printable
from craftpix.pattern import Color
from craftpix.resources import bundled_dir


def palettes_dir() -> Path:
    """Folder of the built-in catalogs (``CRAFTPIX_PALETTES`` overrides it)."""
    env = os.environ.get("CRAFTPIX_PALETTES")
    return Path(env) if env else bundled_dir("palettes")


TITLES = {
    "dmc": "DMC six-strand embroidery floss",
    "anchor": "Anchor stranded cotton",
    "perler": "Perler fuse beads (midi, 5 mm)",
    "hama": "Hama fuse beads (midi, 5 mm)",
    "artkal": "Artkal S-series fuse beads (5 mm)",
    "perler-mini": "Perler Mini fuse beads",  # + the peg pitch of craftpix.media.BEAD_LINES
    "hama-mini": "Hama mini fuse beads",
    "artkal-mini": "Artkal C-series mini fuse beads",
    "lego": "LEGO plates, round plates and tiles 1x1",
}



def catalog_title(name: str) -> str:
    """The product line of catalog ``name`` for listings; a mini bead line adds its peg pitch
    from :data:`craftpix.media.BEAD_LINES` (the pitch the charts print at), e.g. "Perler Mini
    fuse beads (2.625 mm pegs)"."""
    from craftpix.media import BEAD_LINES, pitch_text

    title = TITLES.get(name, name)
    line = BEAD_LINES.get(name)
    return f"{title} ({pitch_text(line.pitch_mm)} mm pegs)" if line is not None else title


#: Largest palette accepted: ten times the largest catalog (DMC, about 500 floss colors).
#: Choosing colors compares up to 4096 image colors with every palette color in memory.
MAX_COLORS = 5000
#: Longest code or name (characters); longer CSV fields are refused, not parsed
MAX_FIELD = 200
#: Largest palette file read (bytes)
MAX_FILE_BYTES = 4_000_000


class PaletteError(InputError):
    """A palette file is malformed or a catalog is unknown."""


@dataclass(frozen=True)
class Palette:
    """An ordered set of catalog colors."""

    name: str
    title: str
    codes: tuple[str, ...]
    names: tuple[str, ...]
    rgb8: np.ndarray  # (n, 3) uint8
    extra: tuple[dict[str, str], ...] = ()
    source: str = ""
    columns: tuple[str, ...] = field(default=())

    def __len__(self) -> int:
        return len(self.codes)

    @cached_property
    def rgb(self) -> np.ndarray:
        """Colors as float sRGB in [0, 1], shape (n, 3)."""
        return self.rgb8.astype(np.float64) / 255.0

    @cached_property
    def lab(self) -> np.ndarray:
        return rgb_to_lab(self.rgb)

    @cached_property
    def hexes(self) -> tuple[str, ...]:
        return tuple(rgb8_to_hex(c) for c in self.rgb8)

    def colors(self) -> list[Color]:
        """The entries as pattern colors."""
        return [Color(c, n, h) for c, n, h in zip(self.codes, self.names, self.hexes, strict=True)]

    def subset(self, indices: np.ndarray | list[int]) -> Palette:
        """A palette of the given entries, in the given order."""
        idx = [int(i) for i in indices]
        return Palette(
            name=self.name,
            title=self.title,
            codes=tuple(self.codes[i] for i in idx),
            names=tuple(self.names[i] for i in idx),
            rgb8=self.rgb8[idx],
            extra=tuple(self.extra[i] for i in idx) if self.extra else (),
            source=self.source,
            columns=self.columns,
        )

    def where(self, column: str, value: str) -> Palette:
        """Entries whose extra ``column`` equals ``value`` (case-insensitive)."""
        keep = [i for i, e in enumerate(self.extra) if e.get(column, "").lower() == value.lower()]
        return self.subset(keep)

    def nearest(self, rgb: np.ndarray) -> np.ndarray:
        """Index of the CIEDE2000-nearest entry for each float sRGB color (..., 3)."""
        return nearest_color_indices(rgb_to_lab(np.asarray(rgb, dtype=np.float64)), self.lab)

    def select(self, image_rgb: np.ndarray, n: int, max_samples: int = 4096, seed: int = 0) -> Palette:
        """The ``n`` catalog colors that best represent an image (float sRGB, (..., 3)).

        A weighted k-medoids over the catalog: greedy facility location (add the color that
        most lowers the total ΔE00 of the pixels to their nearest chosen color), then
        alternate between assigning pixels and re-picking each cluster's best catalog color,
        then swap single colors while that lowers the total (so an image made of k catalog
        colors gets exactly those k back). Every chosen color is a distinct catalog entry.
        """
        if n < 1:
            raise InputError("the number of colors must be at least 1")
        if n >= len(self):
            return self
        px = np.asarray(image_rgb, dtype=np.float64).reshape(-1, 3)
        # Equal pixels cost the same: work on unique colors (at 8 bits) with weights.
        q, weights = np.unique(np.round(px * 255).astype(np.int64), axis=0, return_counts=True)
        if len(q) > max_samples:
            rng = np.random.default_rng(seed)
            pick = rng.choice(len(q), size=max_samples, replace=False, p=weights / weights.sum())
            q, weights = q[pick], weights[pick]
        d = pairwise_match_cost(rgb_to_lab(q / 255.0), self.lab)  # (N, M)
        w = weights.astype(np.float64)
        chosen = _greedy_facility_location(d, w, n)
        chosen = _refine_medoids(d, w, chosen)
        chosen = _swap_medoids(d, w, chosen)
        return self.subset(sorted(chosen))


    def choose(self, image_rgb: np.ndarray, n: int | None = None, cap: int = 24,
               gain: float = 0.15, weights: np.ndarray | None = None,
               max_colors: int = 4096) -> Palette:
        """Catalog colors for an image, their number chosen per image unless ``n`` is given.

        ``image_rgb`` (..., 3) float sRGB 0..1 (optionally with per-pixel ``weights``). The
        colors are a weighted k-medoids in CIEDE2000 as in :meth:`select`. Without ``n`` the
        count is where one more color stops paying: the greedy (facility location) order is
        followed while the next color lowers the mean ΔE00 per pixel by at least ``gain``,
        up to ``cap`` colors. Colors a crafter cannot tell apart (ΔE00 < :data:`DISTINCT`
        from another chosen color) are then dropped unless the image needs both (dropping
        one would raise its pixels' ΔE00 by more than 2 on average). Pixels are grouped by
        color first (8 bits per channel, coarser when there are more than ``max_colors``).
        Raises InputError if ``n`` < 1.
        """
        if n is not None and n < 1:
            raise InputError("the number of colors must be at least 1")
        colors, w = unique_colors(image_rgb, weights, max_colors)
        d = pairwise_match_cost(rgb_to_lab(colors), self.lab)
        return self.subset(sorted(choose_indices(d, w, self.lab, n, cap, gain)))


def choose_indices(d: np.ndarray, w: np.ndarray, lab: np.ndarray, n: int | None = None,
                   cap: int = 24, gain: float = 0.15) -> list[int]:
    """:meth:`Palette.choose` on precomputed distances: catalog indices of the chosen colors.

    ``d`` (N, M) ΔE00 from N pixel colors with weights ``w`` (N,) to the M catalog colors
    whose CIELAB values are ``lab`` (M, 3).
    """
    limit = max(1, min(d.shape[1], d.shape[0], n if n is not None else cap))
    chosen = _greedy_facility_location(d, w, limit, stop_gain=None if n is not None else gain)
    chosen = _refine_medoids(d, w, chosen)
    chosen = _swap_medoids(d, w, chosen)
    return drop_indistinct(d, w, chosen, lab)


#: Two catalog colors closer than this (CIEDE2000) are hard to tell apart once placed
#: (e.g. DMC B5200 and BLANC); about 2–3 is the usual "just noticeable" range for ΔE00.
DISTINCT = 2.5


def unique_colors(image_rgb: np.ndarray, weights: np.ndarray | None = None,
                  max_colors: int = 4096, return_inverse: bool = False) -> Any:
    """Distinct colors of an image with their total weights: (U, 3) float sRGB 0..1, (U,).

    Colors are rounded to 8 bits per channel; while there are more than ``max_colors`` they
    are grouped by fewer bits (7, 6, ...) and each group is represented by its weighted mean.
    With ``return_inverse`` also the group of every pixel (P,), as a third value.
    """
    px = np.asarray(image_rgb, dtype=np.float64).reshape(-1, 3)
    w = np.ones(len(px)) if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    q8 = np.clip(np.rint(px * 255), 0, 255).astype(np.int64)
    for bits in range(8, 0, -1):
        q = q8 >> (8 - bits)
        key = (q[:, 0] << 16) | (q[:, 1] << 8) | q[:, 2]
        uniq, inverse = np.unique(key, return_inverse=True)
        if len(uniq) <= max_colors or bits == 1:
            break
    tot = np.bincount(inverse, weights=w, minlength=len(uniq))
    if bits == 8:
        colors = np.stack([(uniq >> 16) & 255, (uniq >> 8) & 255, uniq & 255], -1) / 255.0
    else:
        colors = np.stack([np.bincount(inverse, weights=w * px[:, c], minlength=len(uniq))
                           for c in range(3)], -1) / np.maximum(tot, 1e-12)[:, None]
    keep = tot > 0
    if not return_inverse:
        return colors[keep], tot[keep]
    renum = np.cumsum(keep) - 1
    return colors[keep], tot[keep], renum[inverse]


def drop_indistinct(d: np.ndarray, w: np.ndarray, chosen: list[int], lab: np.ndarray,
                    threshold: float = DISTINCT, need: float = 2.0) -> list[int]:
    """Leave out chosen colors within ``threshold`` ΔE00 of another chosen color.

    ``d`` (N, M) ΔE00 from N pixel colors (weights ``w``) to the M catalog colors, ``lab``
    (M, 3) the catalog. Of each close pair the color whose removal costs least is dropped,
    unless removing it raises the mean ΔE00 of its pixels by more than ``need``.
    """
    chosen = list(chosen)
    while len(chosen) > 1:
        sub = lab[chosen]
        close = pairwise_delta_e_2000(sub, sub) < threshold
        np.fill_diagonal(close, False)
        if not close.any():
            break
        dc = d[:, chosen]
        near = np.argmin(dc, axis=1)
        best: tuple[float, int] | None = None
        for j in np.flatnonzero(close.any(axis=1)):
            mine = near == j
            if not mine.any():
                best = (0.0, int(j))
                break
            rest = np.delete(dc[mine], j, axis=1).min(axis=1)
            rise = float((w[mine] * (rest - dc[mine, j])).sum() / w[mine].sum())
            if rise <= need and (best is None or rise < best[0]):
                best = (rise, int(j))
        if best is None:
            break
        del chosen[best[1]]
    return chosen


def _greedy_facility_location(d: np.ndarray, w: np.ndarray, n: int,
                              stop_gain: float | None = None) -> list[int]:
    """Greedy facility location: add, up to n times, the color that most lowers Σ w·min ΔE00.

    With ``stop_gain`` it stops (after the first color) as soon as the next color would lower
    the weighted mean ΔE00 by less than that. Returns the chosen catalog indices.
    """
    best = np.full(d.shape[0], np.inf)
    chosen: list[int] = []
    total = float(w.sum())
    previous = np.inf
    for _ in range(n):
        cost = w @ np.minimum(best[:, None], d)
        cost[chosen] = np.inf
        k = int(np.argmin(cost))
        if chosen and stop_gain is not None and (previous - cost[k]) / total < stop_gain:
            break
        chosen.append(k)
        previous = float(cost[k])
        best = np.minimum(best, d[:, k])
    return chosen


def _refine_medoids(d: np.ndarray, w: np.ndarray, chosen: list[int], iters: int = 10) -> list[int]:
    chosen = list(chosen)
    for _ in range(iters):
        assign = np.argmin(d[:, chosen], axis=1)
        changed = False
        for j in range(len(chosen)):
            members = assign == j
            if not members.any():
                continue
            cost = (w[members, None] * d[members]).sum(0)
            others = [c for i, c in enumerate(chosen) if i != j]
            cost[others] = np.inf
            k = int(np.argmin(cost))
            if k != chosen[j] and cost[k] < cost[chosen[j]] - 1e-9:
                chosen[j], changed = k, True
        if not changed:
            break
    return chosen


def _swap_medoids(d: np.ndarray, w: np.ndarray, chosen: list[int]) -> list[int]:
    """PAM-style swaps: while swapping one chosen color for another catalog color lowers the
    total weighted ΔE00, make the best such swap.

    All n×M swaps are scored at once (FastPAM1, Schubert & Rousseeuw 2019): moving chosen
    color j to candidate x changes the total by ``T[x] + sum over pixels of j of B[., x]``.
    """
    chosen = list(chosen)
    n, rows = len(chosen), np.arange(d.shape[0])
    for _ in range(10 * n + 10):
        dc = d[:, chosen]
        order = np.argsort(dc, axis=1, kind="stable")
        near = order[:, 0]
        dn = dc[rows, near]
        ds = dc[rows, order[:, 1]] if n > 1 else np.full(d.shape[0], np.inf)
        gain = w[:, None] * np.minimum(d - dn[:, None], 0.0)  # pixels that move to x anyway
        b = w[:, None] * (np.minimum(ds[:, None], d) - dn[:, None]) - gain
        onehot = np.zeros((n, d.shape[0]))
        onehot[near, rows] = 1.0
        delta = gain.sum(0)[None, :] + onehot @ b  # (n, M)
        delta[:, chosen] = np.inf
        j, x = np.unravel_index(int(np.argmin(delta)), delta.shape)
        if not delta[j, x] < -1e-9 * max(1.0, float((w * dn).sum())):
            break
        chosen[int(j)] = int(x)
    return chosen


# --- loading ----------------------------------------------------------------------------------
def available_palettes() -> list[str]:
    folder = palettes_dir()
    return sorted(p.stem for p in folder.glob("*.csv")) if folder.is_dir() else []


_CATALOG_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


def load_catalog(name: str) -> Palette:
    """A built-in catalog by name (``--brand``): a name, never a path.

    Raises :class:`PaletteError` for anything that is not the name of a built-in catalog.
    """
    key = str(name).strip().lower()
    if not _CATALOG_NAME.fullmatch(key):
        known = ", ".join(available_palettes()) or "none installed"
        raise PaletteError(f"{excerpt(name)} is not a catalog name (available: {known}); "
                           "use --palette FILE for a palette file")
    return load_palette(key)


def pattern_catalog(brand: str) -> Palette | None:
    """The built-in catalog that a received pattern's ``brand`` names, or None.

    A pattern file (``pattern.json`` from anywhere: an upload, an email, an OXS import) says
    which catalog its colors come from. That is a catalog *name*, looked up among the
    built-in catalogs and never opened as a path: ``"dmc"`` gives the DMC catalog, while
    ``"../../secret.csv"``, ``"/etc/x.csv"``, ``"my-own-colors"`` (a custom palette's stem) or
    any other string gives None (the pattern's own colors are all that is known). Every reader
    of a received pattern (edits, backstitch, ordering lists, catalog facts, the web app)
    uses this one function.
    """
    key = str(brand).strip().lower()
    if not _CATALOG_NAME.fullmatch(key) or not (palettes_dir() / f"{key}.csv").is_file():
        return None
    return load_palette(key)


def load_palette(name_or_path: str | os.PathLike[str]) -> Palette:
    """Load a built-in catalog by name (``dmc``, ``perler``, ...) or a palette file by path."""
    text = str(name_or_path)
    path = Path(text)
    if not text.strip():
        raise PaletteError("empty palette name")
    looks_like_path = path.suffix.lower() in {".csv", ".gpl", ".hex", ".txt"} or os.sep in text
    if not looks_like_path:
        builtin = palettes_dir() / f"{text.lower()}.csv"
        if not builtin.is_file():
            known = ", ".join(available_palettes()) or "none installed"
            raise PaletteError(f"unknown catalog {excerpt(text)}; available: {known}")
        path = builtin
    if not path.exists():
        raise PaletteError(f"palette file {printable(path)} does not exist")
    if not path.is_file():
        raise PaletteError(f"palette file {printable(path)} is not a regular file")
    stat = path.stat()
    if stat.st_size > MAX_FILE_BYTES:
        raise PaletteError(f"palette file {printable(path)} is {stat.st_size:,} bytes, over the "
                           f"limit of {MAX_FILE_BYTES:,}")
    return _load_cached(str(path.resolve()), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=32)
def _load_cached(path: str, mtime_ns: int, size: int) -> Palette:
    p = Path(path)
    raw = b""
    try:
        raw = p.read_bytes()
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        body = raw[3:] if raw.startswith(b"\xef\xbb\xbf") else raw  # exc.start is past the BOM
        line = body[: exc.start].count(b"\n") + 1
        raise PaletteError(f"palette file {printable(p)} line {line}: not UTF-8 text") from None
    except OSError as exc:
        raise PaletteError(f"cannot read palette file {printable(p)}: "
                           f"{exc.strerror or exc}") from None
    suffix = p.suffix.lower()
    if suffix == ".gpl" or text.startswith("GIMP Palette"):
        pal = parse_gpl(text, p.stem, str(p))
    elif suffix in {".hex", ".txt"}:
        pal = parse_hex(text, p.stem, str(p))
    else:
        pal = parse_csv(text, p.stem, str(p))
    # Lab values are computed once per file and kept with the cached palette.
    _ = pal.lab
    return pal


def _check_count(source_label: str, n: int) -> None:
    if n > MAX_COLORS:
        raise PaletteError(f"{source_label}: more than {MAX_COLORS} colors (the limit)")


def _finish(name: str, source_label: str, rows: list[tuple[str, str, str, dict[str, str]]],
            comments: list[str], columns: tuple[str, ...] = ()) -> Palette:
    if not rows:
        raise PaletteError(f"{source_label}: no colors found")
    _check_count(source_label, len(rows))
    return Palette(
        name=name,
        title=catalog_title(name),
        codes=tuple(r[0] for r in rows),
        names=tuple(r[1] for r in rows),
        rgb8=np.array([hex_to_rgb8(r[2]) for r in rows], dtype=np.uint8),
        extra=tuple(r[3] for r in rows),
        source="\n".join(comments),
        columns=columns,
    )


def parse_csv(text: str, name: str, source_label: str = "palette") -> Palette:
    """A catalog CSV: ``#`` comments, header ``code,name,hex[,...]``, one row per color.

    Raises :class:`PaletteError` naming the line for a malformed row, a field longer than
    ``MAX_FIELD`` characters (code, name) or ``csv.field_size_limit()``, more than
    ``MAX_COLORS`` colors. File content in messages is quoted and cut short.
    """
    source_label = printable(source_label)
    comments: list[str] = []
    body_start = 0
    lines = text.splitlines()
    while body_start < len(lines) and (lines[body_start].startswith("#") or not lines[body_start].strip()):
        if lines[body_start].startswith("#"):
            comments.append(lines[body_start].lstrip("#").strip())
        body_start += 1
    reader = csv.reader(io.StringIO("\n".join(lines[body_start:])))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise PaletteError(f"{source_label}: no header line (expected code,name,hex)") from None
    except csv.Error as exc:
        raise PaletteError(f"{source_label} line {body_start + 1}: {_csv_problem(exc)}") from None
    if header[:3] != ["code", "name", "hex"]:
        got = (f"got {excerpt(','.join(header[:3]), 24)}" if len(header) >= 3
               else "the first line is not comma-separated")  # not a CSV: echo none of it
        raise PaletteError(f"{source_label}: header must start with code,name,hex ({got})")
    rows: list[tuple[str, str, str, dict[str, str]]] = []
    seen: set[str] = set()
    records = enumerate(_records(reader), start=body_start + 2)
    for lineno, rec in records:
        if isinstance(rec, csv.Error):
            raise PaletteError(f"{source_label} line {reader.line_num + body_start}: "
                               f"{_csv_problem(rec)}")
        if not rec or all(not c.strip() for c in rec):
            continue
        if len(rec) < 3:
            raise PaletteError(f"{source_label} line {lineno}: expected code,name,hex")
        code, cname, hexval = (c.strip() for c in rec[:3])
        if not code or not cname:
            raise PaletteError(f"{source_label} line {lineno}: empty code or name")
        if max(len(code), len(cname)) > MAX_FIELD:
            raise PaletteError(f"{source_label} line {lineno}: code or name longer than "
                               f"{MAX_FIELD} characters (the limit)")
        if code in seen:
            raise PaletteError(f"{source_label} line {lineno}: color code {excerpt(code)} "
                               "appears twice")
        try:
            hex_to_rgb8(hexval)
        except ValueError:
            raise PaletteError(f"{source_label} line {lineno}: bad hex color "
                               f"{excerpt(hexval)}") from None
        seen.add(code)
        _check_count(source_label, len(seen))
        extra = {header[i]: rec[i].strip() for i in range(3, min(len(header), len(rec)))}
        rows.append((code, cname, hexval, extra))
    return _finish(name, source_label, rows, comments, tuple(header[3:]))


def _records(reader: Any) -> Iterator[list[str] | csv.Error]:
    """The reader's rows; a ``csv.Error`` (a field over the size limit) as the last item."""
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield exc
            return


def _csv_problem(exc: csv.Error) -> str:
    text = str(exc)
    if "field larger than field limit" in text:
        return f"a field longer than {csv.field_size_limit():,} characters (the limit)"
    return f"not valid CSV ({printable(text, 80)})"


_GPL_ROW = re.compile(r"^\s*(\d{1,3})\s+(\d{1,3})\s+(\d{1,3})(?:\s+(.*))?$")


def parse_gpl(text: str, name: str, source_label: str = "palette") -> Palette:
    """A GIMP palette: ``GIMP Palette`` header, ``R G B  name`` rows."""
    source_label = printable(source_label)
    lines = text.splitlines()
    if not lines or lines[0].strip() != "GIMP Palette":
        raise PaletteError(f"{source_label}: a .gpl file must start with 'GIMP Palette'")
    rows: list[tuple[str, str, str, dict[str, str]]] = []
    comments: list[str] = []
    seen: set[str] = set()
    for lineno, line in enumerate(lines[1:], start=2):
        s = line.strip()
        if not s or s.startswith("#"):
            if s.startswith("#"):
                comments.append(s.lstrip("#").strip())
            continue
        if re.match(r"^(Name|Columns)\s*:", s):
            continue
        m = _GPL_ROW.match(line)
        if not m:
            raise PaletteError(f"{source_label} line {lineno}: expected 'R G B name', "
                               f"got {excerpt(s)}")
        rgb = tuple(int(v) for v in m.group(1, 2, 3))
        if max(rgb) > 255:
            raise PaletteError(f"{source_label} line {lineno}: color values must be 0..255")
        hexval = rgb8_to_hex(rgb)
        label = (m.group(4) or "").strip()[:MAX_FIELD] or hexval
        code, k = label, len(rows) + 1
        while code in seen:  # repeated names: "name (n)", where n is free
            code, k = f"{label} ({k})", k + 1
        seen.add(code)
        _check_count(source_label, len(seen))
        rows.append((code, label, hexval, {}))
    return _finish(name, source_label, rows, comments)


def parse_hex(text: str, name: str, source_label: str = "palette") -> Palette:
    """One ``RRGGBB`` (or ``#RRGGBB``) per line, as Lospec exports."""
    source_label = printable(source_label)
    rows: list[tuple[str, str, str, dict[str, str]]] = []
    seen: set[str] = set()
    for lineno, line in enumerate(text.splitlines(), start=1):
        s = line.strip()
        if not s or s.startswith(("#", ";")) and not re.fullmatch(r"#[0-9A-Fa-f]{6}", s):
            continue
        try:
            hexval = rgb8_to_hex(hex_to_rgb8(s))
        except ValueError:
            raise PaletteError(f"{source_label} line {lineno}: expected RRGGBB, "
                               f"got {excerpt(s)}") from None
        if hexval in seen:
            continue
        seen.add(hexval)
        _check_count(source_label, len(seen))
        rows.append((hexval.lstrip("#"), hexval, hexval, {}))
    return _finish(name, source_label, rows, [])
