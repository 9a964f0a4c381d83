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

from craftpix import __version__, sizing
from craftpix.edit import clean, convert, exclude, fill, replace, set_cell
from craftpix.errors import CraftpixError, InputError, printable
from craftpix.media import BRICK_PARTS, MEDIA, Medium, get_medium
from craftpix.palette import Palette, load_catalog, load_palette
from craftpix.pattern import Pattern
from craftpix.sizing import SizeSpec

if TYPE_CHECKING:
    from craftpix.export import ExportResult
    from craftpix.fileio import OutputSet
    from craftpix.imageio import Reference

__all__ = [  # edits: see craftpix.edit
    "ENGINES",
    "FITS",
    "EditRequest",
    "MAX_SIDE",
    "MIN_SIDE",
    "PatternRequest",
    "PatternResult",
    "Progress",
    "apply_edits",
    "check_brand",
    "clean",
    "convert",
    "convert_pattern",
    "exclude",
    "export",
    "fill",
    "import_pattern",
    "load",
    "make_pattern",
    "make_sizes",
    "replace",
    "resize",
    "resolve_palette",
    "set_cell",
    "write_edited",
    "board_cell",
]

MIN_SIDE, MAX_SIDE = 2, 500
MAX_SEED = 2**32 - 1  # numpy's and torch's generators both take any seed in 0 .. 2**32 - 1
MAX_STEPS = 100_000
ENGINES = ("auto", "photo", "sds")
FITS = sizing.FITS  # pad (the default) keeps the whole image
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

    ``size`` is ``(width, height)`` in cells, each side ``MIN_SIDE..MAX_SIDE``, or a size
    text as crafters say it (``"48"``: longer side, ``"48x"``, ``"x60"``, ``"64x48"``,
    ``"30cmx20cm"``, ``"8inx10in"``; see :mod:`craftpix.sizing`); ``boards`` (``"2x2"`` or
    ``(2, 2)``) gives the size in pegboards/baseplates of the ``section`` size instead.
    ``fit`` says what happens when both sides are given and the image's shape differs:
    ``pad`` (default) keeps the whole image with empty cells around it, ``crop`` cuts the
    middle, ``stretch`` distorts; each says so in the notes. ``image`` is a
    path to a photo or drawing; ``prompt`` describes what to make (diffusion engine). ``brand``
    names a built-in catalog (default: the medium's), ``palette`` a palette file
    (``code,name,hex`` CSV, GIMP ``.gpl`` or ``.hex``) used instead. ``colors`` caps the number
    of colors; ``None`` lets the engine choose (photos) or keeps 16 (a prompt alone).
    ``smooth`` is the clean-up strength (``None`` = 1; 0 = exactly the nearest color per cell);
    ``features`` (photo engine, default on) spares eyes, mouths and other small details from it
    (:mod:`craftpix.features`; faces need the ``faces`` extra).
    Transparent areas of the image (alpha < 50 %) become empty cells, or ``background`` (a
    catalog code or ``#RRGGBB``) when given.
    Colors (:mod:`craftpix.inventory`): ``exclude`` lists codes never to use; ``only`` lists
    the codes allowed (or names a file of them); ``inventory`` names a ``code,count[,price]``
    CSV of what you own: owned pieces are used first and, when they do not suffice, the rest
    comes from the catalog (the shopping list names only what to buy); with ``only_owned``
    nothing but owned colors, at most ``count`` of each. ``prefer_cheap`` and ``budget`` (in the
    prices' currency, what the packs to buy cost) trade color accuracy for cost, with prices
    from the inventory or the palette file's ``price`` column (see :mod:`craftpix.prices`).
    ``export`` holds keyword arguments of :func:`craftpix.export.export_pattern` (paper,
    formats, hoop, merge, part, section, fabric_count, strands, pdf, preview). ``sds`` is an
    ``SDSSettings`` for the diffusion engine (``None`` = its defaults). ``out`` is the output
    folder; ``None`` writes nothing.
    """

    medium: str
    size: tuple[int, int] | int | str | SizeSpec | None = None
    image: str | os.PathLike[str] | None = None
    prompt: str | None = None
    brand: str | None = None
    palette: str | os.PathLike[str] | None = None
    colors: int | None = None
    all_finishes: bool = False
    fit: str = sizing.DEFAULT_FIT
    engine: str = "auto"
    steps: int | None = None
    smooth: float | None = None
    dither: bool = False
    seed: int = 0
    background: str | None = None
    clean_up: bool = False  # diffusion engine: the photo engine's clean-up on its final argmax
    features: bool = True  # photo engine: spare faces' features and small details (craftpix.features)
    export: Mapping[str, Any] = field(default_factory=dict)
    sds: Any = None
    out: str | os.PathLike[str] | None = None
    quiet: bool = True
    boards: tuple[int, int] | str | None = None
    exclude: tuple[str, ...] = ()
    only: tuple[str, ...] | str | os.PathLike[str] | None = None
    inventory: str | os.PathLike[str] | None = None
    prefer_cheap: bool = False
    budget: float | None = None
    only_owned: bool = False
    restore: str = "auto"  # restore a poor photo first: auto | on | off (craftpix.restore)
    force: bool = False  # replace a pattern in ``out`` that was edited after it was made

    def validated(self) -> PatternRequest:
        """This request with defaults resolved; raises :class:`InputError` (one line) if bad."""
        if self.medium not in MEDIA:
            raise InputError(f"unknown craft {self.medium!r}; choose one of {', '.join(MEDIA)}")
        medium = MEDIA[self.medium]
        if self.size is not None and self.boards is not None:
            raise InputError("give a size or a number of boards, not both")
        boards = None
        if self.boards is not None:
            if not medium.sections:
                raise InputError(f"boards are pegboards or baseplates; {medium.title} is sized "
                                 "with a size such as 20cmx15cm or 80x60")
            boards = sizing.parse_boards(self.boards)
        elif self.size is None:
            raise InputError("give a size (e.g. 48, 48x, 64x48, 30cmx20cm) or a number of boards")
        spec = sizing.parse_size(self.size) if self.size is not None else None
        if spec is not None and spec.both:  # whole cells can be checked now
            assert spec.width is not None and spec.height is not None
            if spec.width.unit == spec.height.unit == "cells":
                sizing.resolve(spec, medium.pitch_mm)
        check_brand(medium, self.brand, self.palette)
        if self.budget is not None and not (math.isfinite(self.budget) and self.budget > 0):
            raise InputError(f"budget must be a positive amount, got {self.budget}")
        if self.only_owned and self.inventory is None:
            raise InputError("--only-owned needs --inventory FILE (the list of what you own)")
        if self.image is None and (self.inventory is not None or self.prefer_cheap
                                   or self.budget is not None):
            raise InputError("an inventory, --prefer-cheap and --budget need an image to "
                             "compare colors with")
        prompt = self.prompt.strip() if isinstance(self.prompt, str) else None
        if prompt is not None:
            try:
                prompt.encode("utf-8")
            except UnicodeEncodeError:  # a lone surrogate: no file could record it
                raise InputError("the prompt holds a character that is not valid Unicode") \
                    from None
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
        return dataclasses.replace(self, size=spec, boards=boards, prompt=prompt or None,
                                   engine=engine, exclude=tuple(self.exclude))



@dataclass
class PatternResult:
    """What :func:`make_pattern` made: the pattern, the files written, what to tell the user."""

    pattern: Pattern
    summary: str
    files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    exported: ExportResult | None = None
    seconds: float = 0.0


def check_brand(medium: Medium, brand: str | None,
                palette_file: str | os.PathLike[str] | None = None) -> None:
    """Refuse another craft's catalog (``beads --brand lego``) unless a palette is given.

    A built-in catalog of another craft can still be used on purpose with
    ``palette=<name>``. Raises :class:`InputError` (one line).
    """
    if brand is None or palette_file is not None:
        return
    name = brand.lower()
    if name in medium.brands:
        return
    owner = next((m for m in MEDIA.values() if name in m.brands), None)
    if owner is None:
        return  # an unknown catalog: load_palette names the ones there are
    verb = "use" if medium.title.endswith("s") else "uses"  # "fuse beads use", "… painting uses"
    brands = ", ".join(b.upper() if b in ("dmc", "lego") else b for b in medium.brands)
    raise InputError(f"{name} is a {owner.title} catalog; {medium.title} {verb} {brands} colors "
                     f"(to use {name} colors anyway: --palette {name})")


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
    pal = load_catalog(name)  # a name, never a path (files come in through palette_file)
    notes: list[str] = []
    if "finish" in pal.columns and not all_finishes:
        pal = pal.subset([i for i, e in enumerate(pal.extra)
                          if e.get("finish", "").lower() in STANDARD_FINISHES])
    if part and part not in BRICK_PARTS:
        raise InputError(f"unknown brick part {part[:40]!r}; choose {', '.join(BRICK_PARTS)}")
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

    With ``out``, ``pattern.json`` and every export are written as one output set
    (:class:`craftpix.fileio.OutputSet`): the folder ends with the whole new set, or — after
    an error, Ctrl-C or SIGTERM — the previous one untouched.
    """
    progress = on_progress or _noop
    req = request.validated()
    medium = get_medium(req.medium, req.brand)
    image, placement, size_notes = _plan_size(req, medium)
    export_kwargs = _export_settings(req.export, req.medium, _sewn_estimate(req, image, placement),
                                     req.brand)
    if req.engine == "sds":
        from craftpix.engines.sds import require_diffusion

        require_diffusion()
    if req.out is None:
        return _make_pattern(req, export_kwargs, progress, None, image, placement, size_notes)
    from craftpix.fileio import OutputSet

    # Checked, created and locked before any long computation; published as one unit.
    with OutputSet(req.out) as outputs:
        if not req.force:
            _refuse_edited(outputs.out / "pattern.json")
        return _make_pattern(req, export_kwargs, progress, outputs, image, placement,
                             size_notes)


def _refuse_edited(path: Path) -> None:
    """Raise :class:`InputError` when ``path`` holds a pattern the crafter has edited: a new
    run would silently replace that work (``force=True`` / ``--force`` replaces it)."""
    try:
        edits = Pattern.load(path).meta.get("edits") or []
    except (OSError, ValueError, CraftpixError):
        return  # none there, or not a pattern craftpix can read: nothing edited to lose
    if edits:
        raise InputError(f"{printable(path)} holds a pattern you edited ({len(edits)} "
                         f"edit{'' if len(edits) == 1 else 's'}, last: {edits[-1]}); choose "
                         "another --out, or give --force to replace it")


def _make_pattern(
    req: PatternRequest, export_kwargs: dict[str, Any], progress: Progress,
    outputs: OutputSet | None, image: Any, placement: sizing.Placement, size_notes: list[str],
) -> PatternResult:
    """The body of :func:`make_pattern` for a validated, sized request."""
    from craftpix.metrics import isolated_cell_rate, mean_delta_e
    from craftpix.pattern import pattern_from_indices

    medium = get_medium(req.medium, req.brand)
    progress("load", 0.0)
    # The diffusion engine keeps its checkpoints (for --resume) in the output folder itself.
    out = outputs.out if outputs is not None else None
    part = export_kwargs.get("part") if req.medium == "bricks" else None
    catalog, brand, notes = resolve_palette(medium, req.brand, req.palette, req.all_finishes, part)
    notes += size_notes
    # color step 1 (before the engine): --exclude, --only, the inventory's colors
    catalog, stock, color_notes, buyable = _filter_colors(req, catalog)
    notes += color_notes
    ref, flat = None, None
    if image is not None:
        from craftpix.imageio import reference_from_image
        from craftpix.restore import restored_image

        placed = restored_image(image.crop(placement.crop_box), placement.inner_w,
                                placement.inner_h, req.restore, req.engine, notes)
        ref = reference_from_image(placed, placement.inner_w, placement.inner_h)
        if req.engine != "sds":  # flat art by its real colors, from any file (craftpix.flatart)
            from craftpix.flatart import find_flat_art

            flat = find_flat_art(placed, placement.inner_w, placement.inner_h)
            ref = ref._replace(flat_colors=None if flat is None else flat.colors,
                               flat_counts=None if flat is None else flat.counts)
    reference = ref.rgb if ref is not None else None

    progress("engine", 0.1)
    t0 = time.perf_counter()
    # the engines see the image's part of the grid; padding is added after them
    engine_req = dataclasses.replace(req, size=(placement.inner_w, placement.inner_h))
    reference_image = None
    if req.engine == "sds":
        indices, palette, meta = _run_sds(engine_req, catalog, ref, out,
                                          lambda label, f: progress(label, 0.1 + 0.8 * f))
        reference_image = meta.pop("reference_image", None)
    else:
        assert ref is not None
        indices, palette, meta, engine_notes = _run_photo(engine_req, catalog, ref, flat)
        notes += engine_notes
    seconds = time.perf_counter() - t0
    # color step 2 (after the engine): inventory counts and prices
    indices, palette, choice_meta, choice_notes = _apply_stock(
        req, indices, palette, catalog, stock, reference, export_kwargs, buyable)
    notes += choice_notes

    meta = {"engine": meta.pop("engine", req.engine), "seed": req.seed, "craftpix": __version__,
            "seconds": round(seconds, 2), **meta}
    meta[MADE_WITH] = made_with(req)
    if req.prompt:
        meta["prompt"] = req.prompt
    if req.image is not None:
        meta["image"] = Path(req.image).name
        meta["delta_e00_mean"] = round(mean_delta_e(indices, palette.rgb, reference), 3)
    meta["isolated_cells"] = round(isolated_cell_rate(indices), 4)
    meta.update(choice_meta)
    if reference is not None:  # which source color each catalog color stands for, how far
        from craftpix.flatart import far_note, stands_for

        meta["stands_for"] = stands_for(indices, palette.codes, palette.lab, reference, flat)
        # owned colors standing in for a color that ran out or a better one to buy have their note
        stand_ins = {c for v in choice_meta.get("ran_out", {}).values() for c in v["shown_as"]}
        stand_ins |= set(choice_meta.get("better_to_buy", {}))
        far = far_note({c: v for c, v in meta["stands_for"].items() if c not in stand_ins},
                       dict(zip(palette.codes, palette.names, strict=True)), brand)
        if far:
            notes.append(far)
    meta.update(_purchase_meta(medium, palette.codes, buyable, stock))
    if req.size is not None:
        meta["size"] = req.size.text()
    if placement.padded:  # where the image sits; the other cells are empty
        meta["image_box"] = [placement.left, placement.top, placement.inner_w, placement.inner_h]
    pattern = pattern_from_indices(_embed(indices, placement), palette.codes, palette.names,
                                   palette.hexes, req.medium, brand, meta)
    result = PatternResult(pattern, "", notes=notes, seconds=seconds)
    if outputs is not None:
        progress("export", 0.9)
        from craftpix.export import export_pattern

        if req.background is not None:
            export_kwargs.setdefault("background", req.background)
        # export_pattern saves pattern.json too, with the export settings it used
        result.exported = export_pattern(pattern, outputs.staging, **export_kwargs)
        if reference_image is not None:  # a prompt's generated reference, beside the pattern
            from craftpix.engines.sds.run import REFERENCE_FILE
            from craftpix.fileio import atomic_path

            with atomic_path(outputs.staging / REFERENCE_FILE) as tmp:
                reference_image.save(tmp, format="PNG")
            result.exported.paths.append(outputs.staging / REFERENCE_FILE)
        result.exported.paths = [outputs.final(p) for p in result.exported.paths]
        result.files = list(result.exported.paths)
        outputs.publish()
        result.notes += result.exported.notes + outputs.notes
    result.summary = summarize(pattern, medium, brand, seconds, result.exported)
    progress("done", 1.0)
    return result


#: ``meta`` key of the settings a pattern was made with (:func:`made_with`)
MADE_WITH = "made_with"


def made_with(req: PatternRequest) -> dict[str, Any]:
    """The make settings of a validated request, as ``pattern.json`` keeps them in
    ``meta["made_with"]``: what the web form and the craft commands' options set besides the
    size, catalog and export settings (``fit``, ``smooth`` — resolved, ``None`` is 1 —,
    ``dither``, ``colors`` — ``None``: the engine chose —, ``all_finishes``, ``seed``,
    ``features``, ``restore``, ``size`` as given). A reopened pattern continues with exactly
    these (the pattern's ``settings`` hold its export settings)."""
    return {"size": req.size.text() if isinstance(req.size, SizeSpec) else None,
            "fit": req.fit, "smooth": 1.0 if req.smooth is None else float(req.smooth),
            "dither": bool(req.dither), "colors": None if req.colors is None else int(req.colors),
            "all_finishes": bool(req.all_finishes), "seed": int(req.seed),
            "features": bool(req.features), "restore": req.restore}


def _plan_size(req: PatternRequest, medium: Medium
               ) -> tuple[Any, sizing.Placement, list[str]]:
    """The size step: the loaded image (or None), where it goes in the grid, and notes.

    Lengths use the medium's cell pitch (cross-stitch: at the requested fabric count);
    boards use the requested section size (else the medium's). Raises :class:`InputError`.
    """
    if req.boards is not None:
        across, down = req.boards  # type: ignore[misc]
        section = int(req.export.get("section") or medium.default_section)
        spec = SizeSpec.cells(across * section, down * section)
    else:
        assert isinstance(req.size, SizeSpec)
        spec = req.size
    cell_mm = medium.cell_mm(req.export.get("fabric_count"), req.export.get("drill"))
    hoop_mm = _hoop_mm(req.export.get("hoop")) if spec.hoop else None
    if spec.hoop and medium.name != "stitch":
        raise InputError("--size hoop is for cross-stitch machine files")
    if spec.auto and req.image is None:
        raise InputError("--size auto reads the grid of pixel art: it needs an image")
    image, sprite_notes = None, []
    if spec.auto:
        image, grid, sprite_notes = _pixel_art(req.image)
        if grid is None:
            raise InputError(f"{Path(req.image).name} is not pixel art (no regular grid of "
                             "flat cells found); give the size, e.g. --size 48")
        spec = SizeSpec.cells(*grid)
    if req.image is None:
        width, height = sizing.resolve(spec, cell_mm, hoop_mm=hoop_mm)
        return None, sizing.Placement(width, height, 0, 0, width, height, (0, 0, 0, 0)), []
    if spec.both and not spec.hoop:  # the grid is known before the image: check the exports
        # (cross-stitch: the hoop is checked once the stitched extent is known)
        _export_settings(req.export, req.medium,
                         None if req.medium == "stitch" else sizing.resolve(spec, cell_mm),
                         req.brand)
    if image is None:  # transparency kept: it becomes empty cells
        from craftpix.imageio import open_image

        image = open_image(req.image)
        width, height = sizing.resolve(spec, cell_mm, image.size, hoop_mm,
                                       alpha=_margins(image, spec, req))
        image, sprite_notes = _sprite_for_grid(image, (width, height))
    width, height = sizing.resolve(spec, cell_mm, image.size, hoop_mm,
                                   alpha=_margins(image, spec, req))
    placement = sizing.place(width, height, image.size, req.fit, both_given=spec.both)
    notes = sprite_notes + list(placement.notes)
    frames = sizing.frame_count(req.image)
    if frames > 1:
        notes.append(f"{Path(req.image).name} is animated ({frames} frames): only the first "
                     "frame is used")
    return image, placement, notes


def _margins(image: Any, spec: SizeSpec, req: PatternRequest) -> np.ndarray | None:
    """For ``--size hoop``: the image's alpha plane, so that its transparent margins (empty
    cells, not sewn) take no room in the hoop; None without transparency, with a
    ``background`` (that fills them) or for another size."""
    if not spec.hoop or str(req.background or "none").strip().lower() != "none":
        return None
    return sizing.alpha_plane(image)


def _pixel_grid_note(native: tuple[int, int], grid: tuple[int, int]) -> list[str]:
    """A note when pixel art of ``native`` (w, h) cells is made at another ``grid``: its
    cells do not land one per bead/stitch ([] when they do)."""
    from craftpix.notes import Hint, Note

    if tuple(native) == tuple(grid):
        return []
    w, h = native
    k = grid[0] // w
    what = (f"each of its pixels becomes {k}×{k} cells" if grid == (k * w, k * h)
            else "its pixels do not land one per cell")
    return [Note(f"the picture is pixel art of {w}×{h}: at {grid[0]}×{grid[1]} {what}",
                 [Hint("size", f"{w}x{h}", "gives one cell per pixel")])]


def _sprite_for_grid(image: Any, grid: tuple[int, int]) -> tuple[Any, list[str]]:
    """``image`` as the sprite in its own colors when it is pixel art whose cells fit ``grid``.

    A size given by hand uses the sprite reading (:func:`craftpix.pixelart.find_sprite`) only
    when the requested ``(width, height)`` in cells is the sprite's own grid or a whole multiple
    of it (each sprite cell then becomes ``k × k`` cells); any other size, or an image that is
    not pixel art, keeps the image as it is, so flat art and photos resample as before.
    Returns ``(image, notes)``.
    """
    from PIL import Image

    from craftpix.imageio import native_grid
    from craftpix.pixelart import find_sprite

    width, height = grid
    native = native_grid(image)
    if native is not None:  # exact art resamples exactly already; say when cells are split
        return image, _pixel_grid_note(native, (width, height))
    if min(image.size) < 2 * min(width, height):
        return image, []  # no room for a coarser grid
    sprite = find_sprite(image)
    if sprite is None:
        return image, []
    w, h = sprite.size
    if width % w or height % h or width // w != height // h:
        return image, []
    factor = max(1, round(image.width / w))
    note = (f"pixel art: read its {w}×{h} grid ({sprite.pitch[0]:.1f} pixels per cell) and "
            f"its {len(sprite.colors)} colors")
    return sprite.cells.resize((w * factor, h * factor), Image.Resampling.NEAREST), [note]


def _pixel_art(path: str | os.PathLike[str]) -> tuple[Any, tuple[int, int] | None, list[str]]:
    """The image at ``path`` and, when it is scaled-up pixel art, its grid: (image, grid, notes).

    Exact whole-factor art keeps its image (:func:`craftpix.imageio.native_grid`); otherwise
    :func:`craftpix.pixelart.find_sprite` reads the grid under fractional scale, drift, blur
    and JPEG, and the image is replaced by the sprite in its own colors, enlarged by a whole
    factor to about the image's size (so sizes in cm and the shape are kept). Not pixel art:
    (the image, None, []). Raises :class:`InputError` for an unreadable image.
    """
    from PIL import Image

    from craftpix.imageio import native_grid, open_image
    from craftpix.pixelart import find_sprite

    image = open_image(path)
    grid = native_grid(image)
    if grid is not None:
        return image, grid, []
    sprite = find_sprite(image)
    if sprite is None:
        return image, None, []
    w, h = sprite.size
    factor = max(1, round(image.width / w))
    note = (f"pixel art: read its {w}×{h} grid ({sprite.pitch[0]:.1f} pixels per cell) and "
            f"its {len(sprite.colors)} colors")
    return sprite.cells.resize((w * factor, h * factor), Image.Resampling.NEAREST), (w, h), [note]


def _hoop_mm(value: Any) -> tuple[float, float] | None:
    """The sewing field ``(width, height)`` in mm of a hoop setting (``None``: none given)."""
    if value is None:
        return None
    from craftpix.export.options import parse_hoop

    hoop = parse_hoop(value)
    if hoop is None:
        return None
    size = getattr(hoop, "size", hoop)  # a named preset carries its size; else (w, h) mm
    return float(size[0]), float(size[1])


def _embed(indices: np.ndarray, placement: sizing.Placement) -> np.ndarray:
    """The engine's ``(inner_h, inner_w)`` cells in the full grid; -1 (empty) around them."""
    if not placement.padded:
        return indices
    cells = np.full((placement.height, placement.width), -1, dtype=np.int64)
    cells[placement.top:placement.top + placement.inner_h,
          placement.left:placement.left + placement.inner_w] = indices
    return cells


def _purchase_meta(medium: Medium, codes: list[str], catalog: Palette, stock: Any
                   ) -> dict[str, Any]:
    """``meta["prices"]`` (pack prices of the colors used, from the palette file and the
    inventory) and ``meta["owned"]`` (pieces owned of them), for :mod:`craftpix.prices`."""
    from craftpix.inventory import _code_map
    from craftpix.prices import palette_prices

    prices = palette_prices(catalog.codes, catalog.extra or (), medium.name,
                            medium.pack_size or 1, catalog.name)
    if stock is not None:
        prices.update(stock.prices)
    used = list(codes)
    out: dict[str, Any] = {}
    kept = _code_map(prices, used)
    if kept:
        out["prices"] = {c: round(float(v), 4) for c, v in kept.items()}  # type: ignore[arg-type]
    if stock is not None:
        owned = _code_map(stock.counts, used)
        out["owned"] = {c: owned[c] for c in used if c in owned}
    return out


def _filter_colors(req: PatternRequest, catalog: Palette
                   ) -> tuple[Palette, Any, list[str], Palette]:
    """Color step 1: the catalog less ``exclude``, limited to ``only`` and the inventory; and
    the catalog less ``exclude`` and limited to ``only`` (what may be bought)."""
    from craftpix import inventory

    stock = inventory.read_inventory(req.inventory) if req.inventory is not None else None
    only = req.only
    if isinstance(only, (str, os.PathLike)):
        only = inventory.read_codes(only)
    if (req.prefer_cheap or req.budget is not None) and not (
            (stock is not None and stock.prices) or "price" in catalog.columns):
        raise InputError("--prefer-cheap and --budget need prices: a 'price' column in the "
                         "--inventory or --palette file")
    if not req.exclude and only is None and stock is None:
        return catalog, None, [], catalog
    filtered, notes = inventory.filter_catalog(catalog, req.exclude, only, stock)
    buyable = filtered
    if stock is not None:
        buyable = inventory.filter_catalog(catalog, req.exclude, only, None)[0]
    return filtered, stock, notes, buyable


def _apply_stock(
    req: PatternRequest, indices: np.ndarray, palette: Palette, catalog: Palette, stock: Any,
    reference: np.ndarray | None, export_kwargs: Mapping[str, Any], buyable: Palette,
) -> tuple[np.ndarray, Palette, dict[str, Any], list[str]]:
    """Color step 2: inventory counts and price preference on the engine's labels."""
    if stock is None and not req.prefer_cheap and req.budget is None:
        return indices, palette, {}, []
    assert reference is not None  # validated(): these need an image
    from craftpix import inventory

    medium = get_medium(req.medium)
    choice = inventory.constrain(
        indices, reference, palette, catalog, medium=req.medium, stock=stock,
        prefer_cheap=req.prefer_cheap, budget=req.budget, pack_size=medium.pack_size or 1,
        fabric_count=export_kwargs.get("fabric_count"), strands=export_kwargs.get("strands"),
        buyable=None if req.only_owned else buyable,
        price_file=(Path(req.inventory).name if stock is not None and stock.prices
                    else Path(req.palette).name if req.palette is not None else None))
    return choice.labels, choice.palette, dict(choice.meta), choice.notes


def _sewn_estimate(req: PatternRequest, image: Any, placement: sizing.Placement
                   ) -> tuple[int, int] | None:
    """The cells a hoop must hold, as far as known before the engine: the image's part of the
    grid (padding is not sewn); None when transparent areas may leave more margin (the hoop is
    then checked on the pattern's stitched extent, before anything is written)."""
    if req.medium != "stitch":
        return placement.width, placement.height
    if image is not None and ("A" in image.getbands() or "transparency" in image.info):
        return None
    return placement.inner_w, placement.inner_h


def _export_settings(
    values: Mapping[str, Any], medium: str, size: tuple[int, int] | None,
    brand: str | None = None,
) -> dict[str, Any]:
    """Export keyword arguments checked against the craft and size before any work."""
    from craftpix.export.options import OPTION_NAMES, export_settings

    unknown = sorted(set(values) - set(OPTION_NAMES))
    if unknown:
        raise InputError(f"unknown export setting {unknown[0]!r}; "
                         f"known: {', '.join(OPTION_NAMES)}")
    return export_settings({**values, "size": size} if size is not None else dict(values),
                           medium=medium, brand=brand)


def summarize(pattern: Pattern, medium: Medium, brand: str, seconds: float,
              exported: ExportResult | None = None) -> str:
    """One line for a person: size, colors, pieces, confetti, ΔE00, merge savings, time."""
    from craftpix.media import plural

    pieces = int(pattern.counts().sum())
    n = len(pattern.palette)
    merged = exported.merged if exported is not None else None
    built = (medium.pieces(pieces) if merged is None  # merged: the studs, and the parts to buy
             else f"{plural(pieces, 'stud')}, {merged.pieces_after} pieces after merging")
    text = (f"{pattern.width}×{pattern.height} {medium.title}, {n} {brand} "
            f"color{'' if n == 1 else 's'}, {built}, "
            f"{pattern.meta.get('isolated_cells', 0.0):.1%} isolated cells")
    if "delta_e00_mean" in pattern.meta:
        text += f", mean ΔE00 {pattern.meta['delta_e00_mean']:.2f}"
    cost = exported.bom.cost if exported is not None else pattern.meta.get("cost")
    if cost is not None:
        owned = " beyond what you own" if pattern.meta.get("owned") else ""
        text += f", to buy{owned}: {cost:.2f}"
    text = f"{text}, {seconds:.1f} s"
    shown = pattern.meta.get("stands_for") or {}
    parts = [f"{c.name} for {shown[c.code]['source']} (ΔE00 {shown[c.code]['delta_e00']:.1f})"
             for c in pattern.palette if c.code in shown]
    return f"{text}\ncolors: {'; '.join(parts)}" if parts else text


def _run_photo(
    req: PatternRequest, catalog: Palette, ref: Reference, flat: Any = None,
) -> tuple[np.ndarray, Palette, dict[str, Any], list[str]]:
    """The model-free engine: cell indices into the colors it chose, meta values, notes."""
    from craftpix.engines.photo import PhotoSettings, make_photo_pattern

    result = make_photo_pattern(ref, catalog, PhotoSettings(
        colors=req.colors, smooth=1.0 if req.smooth is None else req.smooth,
        dither=req.dither, seed=req.seed, background=req.background, medium=req.medium,
        features=req.features), flat)
    return result.indices, result.palette, {"engine": "dither" if req.dither else "photo"}, \
        result.notes


def _run_sds(
    req: PatternRequest, catalog: Palette, ref: Reference | None, out: Path | None,
    progress: Progress | None = None,
) -> tuple[np.ndarray, Palette, dict[str, Any]]:
    """The diffusion engine (SD-πXL): cell indices into the palette and meta values (a
    generated reference image under ``"reference_image"``, for the caller to save)."""
    import tempfile

    from craftpix.engines.sds.run import run_sds
    from craftpix.engines.sds.settings import SDSSettings
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
    smooth = 1.0 if req.smooth is None else req.smooth
    settings = req.sds if req.sds is not None else SDSSettings()
    try:
        steps = settings.steps_for(req.steps)  # None: the --quality preset's
    except ValueError as exc:
        raise InputError(str(exc)) from None
    settings = keep_final_checkpoint(settings, steps)  # what craftpix.resize continues from
    width, height = req.size
    with tempfile.TemporaryDirectory(prefix="craftpix-sds-") as scratch:
        result = run_sds(settings, prompt=req.prompt, image=fitted, reference_rgb=reference,
                         palette_rgb=palette.rgb, height=height, width=width, colors=budget,
                         medium=req.medium, steps=steps, seed=req.seed,
                         smooth=SDS_FFT_WEIGHT * smooth,
                         out_dir=out if out is not None else Path(scratch), quiet=req.quiet,
                         on_progress=progress)
    meta: dict[str, Any] = {"steps": result.steps, "quality": settings.quality}
    if result.reference is not None:
        meta["reference"] = result.reference_meta
        meta["reference_image"] = result.reference
    indices = result.indices
    if req.clean_up:  # the argmax has stray cells too; the photo engine's last pass absorbs them
        from craftpix.engines.photo import clean_up

        indices = clean_up(indices, reference, palette, smooth)
        meta["clean_up"] = True
    if result.steps and result.entropy is not None:  # near 0: a crisp result
        meta["entropy"] = round(result.entropy, 4)
    return indices, palette, meta


def load(path: str | os.PathLike[str]) -> Pattern:
    """Read a ``pattern.json``; raises :class:`craftpix.pattern.PatternError` (one line).

    A publish into its folder that a kill cut short is finished first
    (:func:`craftpix.fileio.settle`), so the pattern read is the folder's whole new set.
    """
    from craftpix.fileio import settle

    settle(Path(path).parent)
    return Pattern.load(path)


def export(pattern: Pattern, out: str | os.PathLike[str], **settings: Any) -> ExportResult:
    """Write every export of ``pattern`` into folder ``out``.

    ``settings`` are the keyword arguments of :func:`craftpix.export.export_pattern`.
    """
    from craftpix.export import export_pattern

    return export_pattern(pattern, out, **settings)


# --- changing a saved pattern -------------------------------------------------------------------
@dataclass(frozen=True)
class EditRequest:
    """Edits to a pattern, applied in this order: replace, exclude, set, fill, clean.

    ``replace`` maps old code → new code (``None``: empty those cells); ``exclude`` lists codes
    whose cells take the nearest remaining color; ``set_cells`` and ``fill`` hold
    ``(row, col, code)`` with 0-based row and column (``code`` ``None``: empty); ``clean`` > 0
    absorbs same-color regions of at most that many cells. See :mod:`craftpix.edit`.
    """

    replace: Mapping[str, str | None] = field(default_factory=dict)
    exclude: tuple[str, ...] = ()
    set_cells: tuple[tuple[int, int, str | None], ...] = ()
    fill: tuple[tuple[int, int, str | None], ...] = ()
    clean: int = 0

    @property
    def empty(self) -> bool:
        return not (self.replace or self.exclude or self.set_cells or self.fill or self.clean)


def board_cell(pattern: Pattern, board: int, row: int, col: int,
               settings: Mapping[str, Any] | None = None) -> tuple[int, int]:
    """The 0-based design ``(row, col)`` of peg/stud ``(row, col)`` (counted from 1, as the
    grey numbers of the chart) on board ``board`` (numbered as the chart's pages).

    Boards are those of the chart (:func:`craftpix.export.layout.section_plan`, the board
    size from ``settings["section"]`` or the craft's default). With ``settings["mirror"]``
    they are the mirrored chart's boards, as printed: board 1 is the top-left board of the
    back, and its pegs count from its left edge, which holds the design's right edge. Raises
    :class:`InputError` for a craft without boards, a board the chart does not have, or an
    empty peg.
    """
    from craftpix.export.layout import section_plan

    medium = get_medium(pattern.medium)
    if not medium.sections:
        raise InputError(f"{medium.title} charts have no boards: give ROW,COL as on the chart")
    section = int((settings or {}).get("section") or medium.default_section)
    plan = section_plan(pattern.width, pattern.height, section)
    if not 1 <= board <= len(plan):
        raise InputError(f"the chart has boards 1 to {len(plan)}, not board {board}")
    page = plan[board - 1]
    r, c = page.row0 + row - 1 - page.peg_row0, page.col0 + col - 1 - page.peg_col0
    if not (page.row0 <= r < page.row1 and page.col0 <= c < page.col1):
        raise InputError(f"board {board}, row {row}, column {col} is outside the design (the "
                         f"design covers rows {page.peg_row0 + 1}\u2013"
                         f"{page.peg_row0 + page.rows}, columns {page.peg_col0 + 1}\u2013"
                         f"{page.peg_col0 + page.cols} of that board)")
    if (settings or {}).get("mirror"):
        c = pattern.width - 1 - c  # the mirrored chart's column c is the design's W-1-c
    return r, c


def apply_edits(pattern: Pattern, edits: EditRequest, catalog: Palette | None = None) -> Pattern:
    """``pattern`` with ``edits`` applied (a new pattern; the input is unchanged).

    New colors come from ``catalog`` (default: the pattern's own built-in catalog). Raises
    :class:`InputError` (one line) for an unknown color, a cell outside the pattern, or no
    edit at all.
    """
    if edits.empty:
        raise InputError("nothing to change: give --replace, --exclude, --set, --fill or --clean")
    if edits.replace:
        pattern = replace(pattern, edits.replace, catalog)
    if edits.exclude:
        pattern = exclude(pattern, edits.exclude)
    for row, col, code in edits.set_cells:
        pattern = set_cell(pattern, row, col, code, catalog)
    for row, col, code in edits.fill:
        pattern = fill(pattern, row, col, code, catalog)
    if edits.clean:
        pattern = clean(pattern, edits.clean)
    return pattern


def stored_settings(pattern: Pattern) -> dict[str, Any]:
    """The export settings saved in the pattern's ``pattern.json`` (``{}`` when none are)."""
    return dict(pattern.settings)


def write_edited(
    pattern: Pattern, path: str | os.PathLike[str], settings: Mapping[str, Any] | None = None,
    like: str | os.PathLike[str] | None = None,
) -> ExportResult:
    """Re-run every export of a changed ``pattern`` next to ``path``, then save it to ``path``.

    ``settings`` are the export settings to use (normally :func:`stored_settings` of the
    pattern before the change, so a pattern made at 18 count is re-exported at 18 count),
    widened to every file craftpix wrote in folder ``like`` (default: ``path``'s folder;
    :func:`craftpix.export.settings_for_folder`): machine files that ``export`` kept there are
    rewritten from the changed pattern too, so none describes the pattern before the change.
    Files of the earlier set that cannot be written again are removed, and the notes name
    them; the reference image of a prompt's pattern stays. The exports are checked before
    anything is written, so a failing export leaves the old files. The files are published
    as one output set (:class:`craftpix.fileio.OutputSet`): recorded in the folder's manifest
    as craftpix's, and never seen half old, half new. Returns the export result; its
    ``paths`` include ``path``.
    """
    from craftpix.engines.sds.run import REFERENCE_FILE
    from craftpix.export import settings_for_folder
    from craftpix.fileio import OutputSet, read_manifest

    target = Path(path)
    given = dict(settings or {})
    wanted = settings_for_folder(pattern, like if like is not None else target.parent, given)
    with OutputSet(target.parent) as outputs:
        why = ""
        try:
            result = export(Pattern(pattern.cells.copy(), list(pattern.palette), pattern.medium,
                                    pattern.brand, dict(pattern.meta), dict(pattern.settings)),
                            outputs.staging, **wanted)
        except InputError as exc:
            if wanted == given:
                raise
            why = f": {exc}"  # the widened set cannot be written; the stored one may
            result = export(pattern, outputs.staging, **given)
        staged = outputs.staging / target.name
        if staged not in result.paths:  # export saves pattern.json itself; another name: save it
            result.paths.append(pattern.save(staged))
        written = {p.name for p in result.paths}
        if same_folder(like, target.parent):
            outputs.keep(REFERENCE_FILE)  # the picture a prompt's pattern was made from
        owned = read_manifest(target.parent)
        gone = sorted(n for n in owned if n not in written and n != REFERENCE_FILE
                      and (target.parent / n).is_file())
        result.paths = [outputs.final(p) for p in result.paths]
        outputs.publish()
    gone = [n for n in gone if not (target.parent / n).exists()]
    if gone:
        result.notes.append(f"removed {', '.join(gone)} of the earlier set: not written for "
                            f"this pattern{why}")
    result.notes += outputs.notes
    return result


def same_folder(a: str | os.PathLike[str] | None, b: str | os.PathLike[str]) -> bool:
    """Whether folder ``a`` (``None``: ``b`` itself) is folder ``b``."""
    return a is None or Path(a).resolve() == Path(b).resolve()


def convert_pattern(
    pattern: Pattern, brand: str | None = None, palette: str | os.PathLike[str] | None = None,
) -> Pattern:
    """Re-map ``pattern`` to the built-in catalog ``brand`` or the palette file ``palette``,
    one color per color (:func:`craftpix.edit.convert`).

    Another craft's catalog is refused unless given as ``palette``
    (:func:`check_brand`). A stored board size that the new catalog's bead line has no board
    of (midi 29 → a mini line) is dropped from the settings, so the new line's board is used.
    Raises :class:`InputError` (one line).
    """
    if (brand is None) == (palette is None):
        raise InputError("give a catalog to convert to: --brand NAME or --palette FILE")
    medium = get_medium(pattern.medium)
    check_brand(medium, brand, palette)
    catalog = load_palette(palette if palette is not None else str(brand))
    name = catalog.name if palette is not None else str(brand).lower()
    if "finish" in catalog.columns:  # plain finishes, as for new patterns
        catalog = catalog.subset([i for i, e in enumerate(catalog.extra)
                                  if e.get("finish", "").lower() in STANDARD_FINISHES])
    converted = convert(pattern, catalog, name)
    _convert_backstitch_color(pattern, converted, catalog)
    section = converted.settings.get("section")
    if section is not None and section not in get_medium(converted.medium, name).sections:
        converted.settings = {k: v for k, v in converted.settings.items() if k != "section"}
    return converted


def _convert_backstitch_color(pattern: Pattern, converted: Pattern, catalog: Palette) -> None:
    """Give ``converted`` (``pattern`` re-mapped to ``catalog``) a backstitch thread of the new
    catalog in place of the stored ``backstitch_color`` code of the old one.

    A thread that is also a cell color takes the color its cells took; any other takes the
    nearest catalog color by the one color decision
    (:func:`craftpix.color.nearest_color_indices`). The thread joins the palette, as the
    export adds it, so a custom palette's pattern knows it too. An unknown code is left for
    the export to report.
    """
    from craftpix.color import nearest_color_indices, rgb8_to_lab
    from craftpix.palette import pattern_catalog
    from craftpix.pattern import Color

    code = converted.settings.get("backstitch_color")
    if not code:
        return
    source = None
    for i, c in enumerate(pattern.palette):
        if c.code.lower() == str(code).lower():
            source = c
            cells = pattern.cells == i
            if cells.any():  # the thread is a cell color too: the same new color as its cells
                new = converted.palette[int(converted.cells[cells][0])]
                converted.settings["backstitch_color"] = new.code
                return
    if source is None:
        old = pattern_catalog(pattern.brand)
        if old is None or str(code).lower() not in (k.lower() for k in old.codes):
            return
        i = [k.lower() for k in old.codes].index(str(code).lower())
        source = Color(old.codes[i], old.names[i], old.hexes[i])
    j = int(nearest_color_indices(rgb8_to_lab(np.array([source.rgb8], dtype=np.uint8)),
                                  catalog.lab)[0])
    converted.settings["backstitch_color"] = catalog.codes[j]
    if catalog.codes[j] not in (c.code for c in converted.palette):
        converted.palette = [*converted.palette,
                             Color(catalog.codes[j], catalog.names[j], catalog.hexes[j])]


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
    ``sds`` settings (default: read back from the run). The result keeps the pattern's stored
    export settings (fabric count, strands, formats, mirror, merge, drill, …), so
    :func:`export` writes it as the pattern was. ``out`` keeps the continued run's
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
    medium = get_medium(req.medium, req.brand)
    done: list[PatternResult] = []
    base = (result.pattern.width, result.pattern.height)
    for size in sizes:
        w, h = target_size(base, size)
        if (w, h) == base:
            continue
        export_kwargs = _export_settings(req.export, req.medium, (w, h), req.brand)
        sub = Path(req.out) / f"{w}x{h}" if req.out is not None else None
        notes: list[str] = []
        t0 = time.perf_counter()
        pattern = resize(result.pattern, (w, h), req.image, run_dir=req.out, fit=req.fit,
                         smooth=req.smooth, sds=req.sds, out=sub, quiet=req.quiet, notes=notes)
        res = PatternResult(pattern, "", notes=notes, seconds=time.perf_counter() - t0)
        if sub is not None:
            from craftpix.fileio import ensure_out_dir

            # export writes pattern.json too, with the settings it used
            res.exported = export(pattern, ensure_out_dir(sub), **export_kwargs)
            res.files += res.exported.paths
            res.notes += res.exported.notes
        brand = pattern.brand
        res.summary = summarize(pattern, medium, brand, res.seconds, res.exported)
        done.append(res)
    return done


# --- charts from other programs (craftpix.oxs_import) -----------------------------------------
#: File types :func:`import_pattern` reads, by suffix
IMPORT_SUFFIXES = (".oxs",)
#: What :func:`import_pattern` writes besides the PDF and previews unless ``export`` names
#: ``formats``: the chart as OXS again (machine files only when asked for)
IMPORT_FORMATS = ("oxs",)


def import_pattern(
    path: str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
    *,
    brand: str | None = None,
    export: Mapping[str, Any] | None = None,
) -> PatternResult:
    """Read a cross-stitch chart saved by another program (an OXS file) as a craftpix pattern.

    Colors are mapped onto the catalog ``brand`` (default: the cross-stitch default, DMC): by
    code where the file names one, else to the nearest catalog color (see
    :mod:`craftpix.oxs_import`, which also says what is not carried over; the notes of the
    result say it for this file). The pattern keeps the file's fabric count and strands as
    its export settings. With ``out``, ``pattern.json`` and every export (options ``export``,
    the keyword arguments of :func:`craftpix.export.export_pattern`; ``formats`` defaults to
    :data:`IMPORT_FORMATS`, the chart as OXS and no machine files) are written there as one
    output set. Raises :class:`InputError` (one line) for a file that is not a readable chart,
    breaks a bound (size, nesting, a document type declaration), or has no stitch.
    """
    from craftpix.metrics import isolated_cell_rate
    from craftpix.oxs_import import MAX_FILE_BYTES, chart_to_pattern, parse_oxs

    t0 = time.perf_counter()
    src = Path(path)
    if src.suffix.lower() not in IMPORT_SUFFIXES:
        raise InputError(f"craftpix imports OXS charts ({', '.join(IMPORT_SUFFIXES)}); "
                         f"{printable(src.name)} is not one")
    medium = get_medium("stitch")
    check_brand(medium, brand)
    name = (brand or medium.default_brand).lower()
    catalog = load_catalog(name)
    try:
        with open(src, "rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise InputError(f"chart file {printable(src)} does not exist") from None
    except IsADirectoryError:
        raise InputError(f"chart file {printable(src)} is a folder") from None
    except OSError as exc:
        raise InputError(f"cannot read chart file {printable(src)}: "
                         f"{exc.strerror or exc}") from None
    chart = parse_oxs(data, src.name)
    pattern, notes = chart_to_pattern(chart, catalog, name, src.name)
    pattern.meta["imported"]["file"] = src.name
    pattern.meta["isolated_cells"] = round(isolated_cell_rate(pattern.cells), 4)
    result = PatternResult(pattern, "", notes=notes)
    if out is not None:
        from craftpix.export import export_pattern
        from craftpix.fileio import OutputSet

        wanted = dict(export or {})
        wanted.setdefault("formats", IMPORT_FORMATS)  # a chart in, a chart out: no machine files
        kwargs = _export_settings(wanted, "stitch", (pattern.width, pattern.height))
        with OutputSet(out) as outputs:
            result.exported = export_pattern(pattern, outputs.staging, **kwargs)
            result.exported.paths = [outputs.final(p) for p in result.exported.paths]
            result.files = list(result.exported.paths)
            outputs.publish()
        result.notes += result.exported.notes + outputs.notes
    result.seconds = time.perf_counter() - t0
    software = chart.software or "another program"
    result.summary = (f"{printable(src.name)} ({printable(software, 60)}): "
                      + summarize(pattern, medium, name, result.seconds, result.exported))
    return result
