"""The library API: a typed request in, a pattern (and its files) out.

    from craftpix.api import PatternRequest, make_pattern

    result = make_pattern(PatternRequest(medium="beads", image="photo.jpg", size=(24, 24),
                                         colors=6, seed=7))
    result.pattern          # the Pattern: a grid of catalog colors (or empty cells)
    result.summary          # one line for a person

Every entry point (the ``craftpix`` command, the web app, batch runs) builds a
:class:`PatternRequest` and calls :func:`make_pattern`; none holds pipeline logic of its own.
Files are written only when the request names an output folder (``out``). Every user error is
a :class:`craftpix.errors.CraftpixError` with a one-line message.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from craftpix import __version__
from craftpix.edit import clean, convert, exclude, fill, replace, set_cell
from craftpix.errors import InputError
from craftpix.media import BRICK_PARTS, MEDIA, Medium, get_medium
from craftpix.palette import Palette, load_palette
from craftpix.pattern import Pattern

if TYPE_CHECKING:
    from craftpix.export import ExportResult
    from craftpix.imageio import Reference

__all__ = [  # edits: see craftpix.edit
    "ENGINES",
    "FITS",
    "MAX_SIDE",
    "MIN_SIDE",
    "PatternRequest",
    "PatternResult",
    "Progress",
    "clean",
    "convert",
    "exclude",
    "export",
    "fill",
    "load",
    "make_pattern",
    "make_sizes",
    "replace",
    "resize",
    "resolve_palette",
    "set_cell",
]

MIN_SIDE, MAX_SIDE = 2, 500
MAX_SEED = 2**32 - 1  # numpy's and torch's generators both take any seed in 0 .. 2**32 - 1
MAX_STEPS = 100_000
ENGINES = ("auto", "photo", "sds")
FITS = ("crop", "pad", "stretch")
DEFAULT_SDS_STEPS = 6000
# A prompt alone keeps this many colors unless ``colors`` says otherwise: score distillation
# over a whole catalog gives patterns of dozens of barely different colors.
DEFAULT_PROMPT_COLORS = 16
SDS_FFT_WEIGHT = 20.0  # SD-πXL's FFT weight, which smooth = 1 stands for
STANDARD_FINISHES = ("standard", "solid")

#: ``on_progress(stage, fraction)``: stage is ``"load"``, ``"engine"``, ``"export"`` or
#: ``"done"``; fraction is the share of the whole run done, 0..1.
Progress = Callable[[str, float], None]


@dataclass(frozen=True)
class PatternRequest:
    """Everything that decides a pattern, as plain values.

    ``size`` is ``(width, height)`` in cells, each side ``MIN_SIDE..MAX_SIDE``. ``image`` is a
    path to a photo or drawing; ``prompt`` describes what to make (diffusion engine). ``brand``
    names a built-in catalog (default: the medium's), ``palette`` a palette file
    (``code,name,hex`` CSV, GIMP ``.gpl`` or ``.hex``) used instead. ``colors`` caps the number
    of colors; ``None`` lets the engine choose (photos) or keeps 16 (a prompt alone).
    ``smooth`` is the clean-up strength (``None`` = 1; 0 = exactly the nearest color per cell).
    Transparent areas of the image (alpha < 50 %) become empty cells, or ``background`` (a
    catalog code or ``#RRGGBB``) when given.
    ``export`` holds keyword arguments of :func:`craftpix.export.export_pattern` (paper,
    formats, hoop, merge, part, section, fabric_count, strands, pdf, preview). ``sds`` is an
    ``SDSSettings`` for the diffusion engine (``None`` = its defaults). ``out`` is the output
    folder; ``None`` writes nothing.
    """

    medium: str
    size: tuple[int, int]
    image: str | os.PathLike[str] | None = None
    prompt: str | None = None
    brand: str | None = None
    palette: str | os.PathLike[str] | None = None
    colors: int | None = None
    all_finishes: bool = False
    fit: str = "crop"
    engine: str = "auto"
    steps: int | None = None
    smooth: float | None = None
    dither: bool = False
    seed: int = 0
    background: str | None = None
    export: Mapping[str, Any] = field(default_factory=dict)
    sds: Any = None
    out: str | os.PathLike[str] | None = None
    quiet: bool = True
    restore: str = "auto"  # restore a poor photo first: auto | on | off (craftpix.restore)

    def validated(self) -> PatternRequest:
        """This request with defaults resolved; raises :class:`InputError` (one line) if bad."""
        if self.medium not in MEDIA:
            raise InputError(f"unknown craft {self.medium!r}; choose one of {', '.join(MEDIA)}")
        try:
            width, height = (int(v) for v in self.size)
        except (TypeError, ValueError):
            raise InputError(f"size must be (width, height) in cells, got {self.size!r}") from None
        for side in (width, height):
            if not MIN_SIDE <= side <= MAX_SIDE:
                raise InputError(f"size {width}x{height} is out of range: each side must be "
                                 f"{MIN_SIDE} to {MAX_SIDE} cells")
        prompt = self.prompt.strip() if isinstance(self.prompt, str) else None
        if not prompt and self.image is None:
            raise InputError("give a prompt, an image, or both")
        if self.engine not in ENGINES:
            raise InputError(f"unknown engine {self.engine!r}; choose one of {', '.join(ENGINES)}")
        engine = self.engine if self.engine != "auto" else ("sds" if prompt else "photo")
        if engine == "photo" and self.image is None:
            raise InputError("the photo engine needs an image (a prompt alone uses the sds engine)")
        if self.dither and self.image is None:
            raise InputError("dithering needs an image")
        if self.fit not in FITS:
            raise InputError(f"fit must be one of {', '.join(FITS)}, got {self.fit!r}")
        if self.colors is not None and not 1 <= int(self.colors) <= 500:
            raise InputError(f"colors must be 1 to 500, got {self.colors}")
        if self.smooth is not None and not (math.isfinite(self.smooth) and 0 <= self.smooth <= 100):
            raise InputError(f"smooth must be a number from 0 to 100, got {self.smooth}")
        if not 0 <= int(self.seed) <= MAX_SEED:
            raise InputError(f"seed must be 0 to {MAX_SEED}, got {self.seed}")
        if self.steps is not None and not 0 <= int(self.steps) <= MAX_STEPS:
            raise InputError(f"steps must be 0 to {MAX_STEPS}, got {self.steps}")
        return dataclasses.replace(self, size=(width, height), prompt=prompt or None, engine=engine)


@dataclass
class PatternResult:
    """What :func:`make_pattern` made: the pattern, the files written, what to tell the user."""

    pattern: Pattern
    summary: str
    files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    exported: ExportResult | None = None
    seconds: float = 0.0


def resolve_palette(
    medium: Medium, brand: str | None, palette_file: str | os.PathLike[str] | None,
    all_finishes: bool, part: str | None = None,
) -> tuple[Palette, str, list[str]]:
    """The catalog a run may use, its name, and notes about what was left out.

    Transparent, glow, neon, pearl and metallic pieces do not look like their swatch once
    placed (transparent plates go dark on a baseplate), so plain finishes are used unless
    ``all_finishes``. For bricks, ``part`` keeps only the colors that part is made in.
    Raises :class:`InputError` for an unknown catalog or a malformed palette file.
    """
    if palette_file is not None:
        pal = load_palette(palette_file)
        return pal, pal.name, []
    name = (brand or medium.default_brand).lower()
    pal = load_palette(name)
    notes: list[str] = []
    if "finish" in pal.columns and not all_finishes:
        pal = pal.subset([i for i, e in enumerate(pal.extra)
                          if e.get("finish", "").lower() in STANDARD_FINISHES])
    if part and "parts" in pal.columns:
        ids, title = BRICK_PARTS[part]
        wanted = set(ids.split("/"))
        made = [i for i, e in enumerate(pal.extra) if wanted & set(e.get("parts", "").split(";"))]
        if made:
            pal = pal.subset(made)
        else:
            notes.append(f"the {name} catalog does not say which colors {title} ({ids}) is "
                         "made in; check availability before ordering")
    return pal, name, notes


def _noop(stage: str, fraction: float) -> None:
    del stage, fraction


def make_pattern(request: PatternRequest, on_progress: Progress | None = None) -> PatternResult:
    """Make the pattern a request describes; write its files when ``request.out`` is set.

    Data flows one way: catalog → engine → :class:`Pattern` → exports. Raises
    :class:`craftpix.errors.CraftpixError` (one line) for anything the user can fix: a bad
    request, an unreadable image or palette, a missing model or extra, export options that do
    not apply to the craft.
    """
    from craftpix.metrics import isolated_cell_rate, mean_delta_e
    from craftpix.pattern import pattern_from_indices

    progress = on_progress or _noop
    req = request.validated()
    medium = get_medium(req.medium)
    width, height = req.size
    export_kwargs = _export_settings(req.export, req.medium, req.size)
    if req.engine == "sds":
        _require_diffusion()
    progress("load", 0.0)
    out = None
    if req.out is not None:  # checked before any long computation
        from craftpix.fileio import ensure_out_dir

        out = ensure_out_dir(req.out)
    part = export_kwargs.get("part") if req.medium == "bricks" else None
    catalog, brand, notes = resolve_palette(medium, req.brand, req.palette, req.all_finishes, part)
    ref = None
    if req.image is not None:
        from craftpix.restore import restored_reference

        ref = restored_reference(req.image, width, height, req.fit, req.restore, req.engine, notes)

    progress("engine", 0.1)
    t0 = time.perf_counter()
    if req.engine == "sds":
        indices, palette, meta = _run_sds(req, catalog, ref, out)
    else:
        assert ref is not None
        indices, palette, meta, engine_notes = _run_photo(req, catalog, ref)
        notes += engine_notes
    seconds = time.perf_counter() - t0

    meta = {"engine": meta.pop("engine", req.engine), "seed": req.seed, "craftpix": __version__,
            "seconds": round(seconds, 2), **meta}
    if req.prompt:
        meta["prompt"] = req.prompt
    if req.image is not None:
        meta["image"] = Path(req.image).name
        meta["delta_e00_mean"] = round(mean_delta_e(indices, palette.rgb, ref.rgb), 3)
    meta["isolated_cells"] = round(isolated_cell_rate(indices), 4)
    pattern = pattern_from_indices(indices, palette.codes, palette.names, palette.hexes,
                                   req.medium, brand, meta)
    result = PatternResult(pattern, "", notes=notes, seconds=seconds)
    if out is not None:
        progress("export", 0.9)
        from craftpix.export import export_pattern

        result.files.append(pattern.save(out / "pattern.json"))
        result.exported = export_pattern(pattern, out, **export_kwargs)
        result.files += result.exported.paths
        result.notes += result.exported.notes
    result.summary = summarize(pattern, medium, brand, seconds, result.exported)
    progress("done", 1.0)
    return result


def _export_settings(
    values: Mapping[str, Any], medium: str, size: tuple[int, int],
) -> dict[str, Any]:
    """Export keyword arguments checked against the craft and size before any work."""
    from craftpix.export.options import OPTION_NAMES, export_settings

    unknown = sorted(set(values) - set(OPTION_NAMES))
    if unknown:
        raise InputError(f"unknown export setting {unknown[0]!r}; "
                         f"known: {', '.join(OPTION_NAMES)}")
    return export_settings({**values, "size": size}, medium=medium)


def summarize(pattern: Pattern, medium: Medium, brand: str, seconds: float,
              exported: ExportResult | None = None) -> str:
    """One line for a person: size, colors, pieces, confetti, ΔE00, merge savings, time."""
    pieces = int(pattern.counts().sum())
    plural = "es" if medium.piece.endswith("ch") else "s"
    text = (f"{pattern.width}×{pattern.height} {medium.title}, {len(pattern.palette)} {brand} "
            f"colors, {pieces} {medium.piece}{plural}, "
            f"{pattern.meta.get('isolated_cells', 0.0):.1%} isolated cells")
    if "delta_e00_mean" in pattern.meta:
        text += f", mean ΔE00 {pattern.meta['delta_e00_mean']:.2f}"
    if exported is not None and exported.merged is not None:
        m = exported.merged
        text += f", {m.pieces_after} pieces after merging ({m.pieces_before} plates 1×1)"
    return f"{text}, {seconds:.1f} s"


def _run_photo(
    req: PatternRequest, catalog: Palette, ref: Reference,
) -> tuple[np.ndarray, Palette, dict[str, Any], list[str]]:
    """The model-free engine: cell indices into the colors it chose, meta values, notes."""
    from craftpix.engines.photo import PhotoSettings, make_photo_pattern

    result = make_photo_pattern(ref, catalog, PhotoSettings(
        colors=req.colors, smooth=1.0 if req.smooth is None else req.smooth,
        dither=req.dither, seed=req.seed, background=req.background, medium=req.medium))
    return result.indices, result.palette, {"engine": "dither" if req.dither else "photo"}, \
        result.notes


def _require_diffusion() -> None:
    """Raise one line naming the extra when the diffusion stack is not installed."""
    import importlib.util

    from craftpix.errors import CraftpixError

    missing = [m for m in ("torch", "diffusers", "transformers")
               if importlib.util.find_spec(m) is None]
    if missing:
        raise CraftpixError(
            f"prompts need the diffusion engine ({', '.join(missing)} not installed): "
            'pip install "craftpix[diffusion]"')


def _run_sds(
    req: PatternRequest, catalog: Palette, ref: Reference | None, out: Path | None,
) -> tuple[np.ndarray, Palette, dict[str, Any]]:
    """The diffusion engine (SD-πXL): cell indices into the palette and meta values."""
    import tempfile

    from craftpix.guidance.options import SDSSettings
    from craftpix.guidance.run import run_sds
    from craftpix.resize import keep_final_checkpoint

    fitted = ref.fitted if ref is not None else None
    reference = ref.rgb if ref is not None else None
    palette = catalog
    if req.colors is not None and req.colors < len(catalog) and reference is not None:
        palette = catalog.select(reference, req.colors, seed=req.seed)
    budget = None
    if reference is None:  # without a photo the color budget is met by pruning during the run
        wanted = DEFAULT_PROMPT_COLORS if req.colors is None else req.colors
        budget = wanted if wanted < len(palette) else None
    steps = DEFAULT_SDS_STEPS if req.steps is None else req.steps
    smooth = 1.0 if req.smooth is None else req.smooth
    settings = req.sds if req.sds is not None else SDSSettings()
    settings = keep_final_checkpoint(settings, steps)  # what craftpix.resize continues from
    width, height = req.size
    with tempfile.TemporaryDirectory(prefix="craftpix-sds-") as scratch:
        result = run_sds(settings, prompt=req.prompt, image=fitted, reference_rgb=reference,
                         palette_rgb=palette.rgb, height=height, width=width, colors=budget,
                         medium=req.medium, steps=steps, seed=req.seed,
                         smooth=SDS_FFT_WEIGHT * smooth,
                         out_dir=out if out is not None else Path(scratch), quiet=req.quiet)
    meta: dict[str, Any] = {"steps": steps}
    if result.entropy is not None:  # how decided the cells were: near 0 is a crisp result
        meta["entropy"] = round(result.entropy, 4)
    return result.indices, palette, meta


def load(path: str | os.PathLike[str]) -> Pattern:
    """Read a ``pattern.json``; raises :class:`craftpix.pattern.PatternError` (one line)."""
    return Pattern.load(path)


def export(pattern: Pattern, out: str | os.PathLike[str], **settings: Any) -> ExportResult:
    """Write every export of ``pattern`` into folder ``out``.

    ``settings`` are the keyword arguments of :func:`craftpix.export.export_pattern`.
    """
    from craftpix.export import export_pattern

    return export_pattern(pattern, out, **settings)


# --- size change (craftpix.resize) ------------------------------------------------------------
def resize(
    pattern: Pattern | str | os.PathLike[str], size: int | tuple[int, int],
    image: str | os.PathLike[str] | None = None, *, run_dir: str | os.PathLike[str] | None = None,
    fit: str = "crop", smooth: float | None = None, steps: int | None = None, sds: Any = None,
    out: str | os.PathLike[str] | None = None, quiet: bool = True,
    notes: list[str] | None = None,
) -> Pattern:
    """``pattern`` (or a ``pattern.json`` path) at a new size, keeping the design.

    ``size`` is ``(width, height)`` in cells or one number (the new longer side). Photo
    patterns are re-solved over their own colors with a consistency term to the resampled
    original (and ``image``, the photo, when given); SDS patterns continue their run from the
    checkpoint in ``run_dir`` (default: the pattern file's folder) for ``steps`` steps, with
    ``sds`` settings (default: read back from the run). ``out`` keeps the continued run's
    checkpoint; nothing else is written. Fallbacks are appended to ``notes``. Raises
    :class:`CraftpixError` (one line). See :mod:`craftpix.resize`.
    """
    from craftpix.resize import resize_pattern

    if not isinstance(pattern, Pattern):
        path = Path(pattern)
        pattern = load(path)
        run_dir = path.parent if run_dir is None else run_dir
    if fit not in FITS:
        raise InputError(f"fit must be one of {', '.join(FITS)}, got {fit!r}")
    if steps is not None and not 0 <= int(steps) <= MAX_STEPS:
        raise InputError(f"steps must be 0 to {MAX_STEPS}, got {steps}")
    return resize_pattern(pattern, size, image, run_dir=run_dir, fit=fit,
                          smooth=1.0 if smooth is None else smooth, steps=steps, settings=sds,
                          out_dir=out, quiet=quiet, notes=notes)


def make_sizes(
    request: PatternRequest, result: PatternResult, sizes: list[int | tuple[int, int]],
) -> list[PatternResult]:
    """The pattern of ``result`` at each of ``sizes`` (``--sizes``), through :func:`resize`.

    Each size other than the request's own is written to ``request.out / "WxH"`` (pattern and
    exports) when the request has an output folder.
    """
    from craftpix.resize import target_size

    req = request.validated()
    medium = get_medium(req.medium)
    done: list[PatternResult] = []
    for size in sizes:
        w, h = target_size(req.size, size)
        if (w, h) == req.size:
            continue
        export_kwargs = _export_settings(req.export, req.medium, (w, h))
        sub = Path(req.out) / f"{w}x{h}" if req.out is not None else None
        notes: list[str] = []
        t0 = time.perf_counter()
        pattern = resize(result.pattern, (w, h), req.image, run_dir=req.out, fit=req.fit,
                         smooth=req.smooth, sds=req.sds, out=sub, quiet=req.quiet, notes=notes)
        res = PatternResult(pattern, "", notes=notes, seconds=time.perf_counter() - t0)
        if sub is not None:
            from craftpix.fileio import ensure_out_dir

            res.files.append(pattern.save(ensure_out_dir(sub) / "pattern.json"))
            res.exported = export(pattern, sub, **export_kwargs)
            res.files += res.exported.paths
            res.notes += res.exported.notes
        brand = pattern.brand
        res.summary = summarize(pattern, medium, brand, res.seconds, res.exported)
        done.append(res)
    return done
