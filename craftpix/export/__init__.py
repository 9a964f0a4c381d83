"""Everything a finished :class:`~craftpix.pattern.Pattern` turns into.

* ``preview.png`` — looks like the made object; ``preview-pixels.png`` — one flat square per
  cell (:mod:`craftpix.export.preview`);
* ``pattern.pdf`` — cover, bill of materials, board/page map, charts (:mod:`.pdf`);
* ``pattern.<fmt>`` — machine-embroidery files of true cross stitches (:mod:`.embroidery`).

Exports read plain values only: no tensors, no models.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from craftpix.errors import InputError
from craftpix.export.bom import Bom, ExportSettings, build_bom, resolve_settings
from craftpix.export.embroidery import (
    DEFAULT_FORMATS,
    StitchPlan,
    check_hoop,
    parse_formats,
    parse_hoop,
    plan_cross_stitch,
    write_embroidery,
)
from craftpix.export.merge import MergeResult, merge_plates
from craftpix.fileio import ensure_out_dir
from craftpix.pattern import Pattern

__all__ = [
    "ExportResult",
    "export_all",
    "export_pattern",
    "validate_options",
]

PAPERS = ("a4", "letter")


@dataclass
class ExportResult:
    """What :func:`export_pattern` wrote and computed."""

    paths: list[Path]
    settings: ExportSettings
    bom: Bom
    formats: tuple[str, ...]
    merged: MergeResult | None = None  # bricks with merge: pieces before/after
    stitch_plan: StitchPlan | None = None  # when embroidery files were written
    notes: list[str] = field(default_factory=list)  # things the user should be told


class ResolvedOptions(NamedTuple):
    """Export options after :func:`validate_options`: checked, defaults filled in."""

    settings: ExportSettings
    formats: tuple[str, ...]
    notes: list[str]
    paper: str  # lower case
    hoop: tuple[float, float]  # mm


def validate_options(
    medium: str,
    size: tuple[int, int] | None = None,
    *,
    pdf: bool = True,
    paper: str = "a4",
    formats: str | Sequence[str] | None = None,
    hoop: tuple[float, float] | str = (100.0, 100.0),
    merge: bool = False,
    part: str = "plate",
    section: int | None = None,
    fabric_count: int | None = None,
    strands: int | None = None,
    preview: bool = True,
) -> ResolvedOptions:
    """Check export options against a medium (and a ``(W, H)`` size for the hoop).

    Returns the resolved settings, the embroidery formats to write, notes for the user, and
    the normalized paper and hoop.
    Raises :class:`InputError` with one plain line for anything that does not apply, for a
    malformed hoop, and when formats named by the caller do not fit the hoop. The default formats (``formats=None``
    on a cross-stitch pattern) are dropped with a note instead when the design is larger than
    the hoop: a large chart for hand stitching is not an error.
    """
    del pdf, preview  # accepted so that the same kwargs as export_all can be passed
    paper = paper.lower()
    if paper not in PAPERS:
        raise InputError(f"unknown paper {paper!r}; choose one of: {', '.join(PAPERS)}")
    settings = resolve_settings(medium, part=part, section=section, fabric_count=fabric_count,
                                strands=strands, merge=merge)
    if formats is None:
        fmts: tuple[str, ...] = DEFAULT_FORMATS if medium == "stitch" else ()
    else:
        fmts = parse_formats(formats)
        if fmts and medium != "stitch":
            raise InputError(
                f"embroidery files ({', '.join(fmts)}) are made from cross-stitch patterns, "
                f"not from {medium}"
            )
    hoop_mm = parse_hoop(hoop)
    notes: list[str] = []
    if fmts and size is not None:
        assert settings.fabric_count is not None
        try:
            check_hoop(size[0], size[1], settings.fabric_count, hoop_mm)
        except InputError as exc:
            if formats is not None:
                raise
            fmts = ()
            notes.append(f"no embroidery files written: {exc}")
    return ResolvedOptions(settings, fmts, notes, paper, hoop_mm)


def export_pattern(
    pattern: Pattern,
    out_dir: str | os.PathLike[str],
    *,
    pdf: bool = True,
    paper: str = "a4",
    formats: str | Sequence[str] | None = None,
    hoop: tuple[float, float] | str = (100.0, 100.0),
    merge: bool = False,
    part: str = "plate",
    section: int | None = None,
    fabric_count: int | None = None,
    strands: int | None = None,
    preview: bool = True,
) -> ExportResult:
    """Write every export of ``pattern`` into ``out_dir``.

    Returns the paths written with the bill of materials, merge result and stitch plan.

    Files: ``preview.png`` (craft look) and ``preview-pixels.png`` when ``preview``;
    ``pattern.pdf`` when ``pdf`` (``paper`` ``"a4"`` or ``"letter"``); embroidery files
    ``pattern.<fmt>``.

    Embroidery formats rule: ``formats=None`` means the medium's default — ``pes,dst`` for a
    cross-stitch pattern that fits ``hoop``, none for beads and bricks (and none, with a note
    on the PDF cover and in :attr:`ExportResult.notes`, for a cross-stitch design larger than
    the hoop: big hand-stitching charts are not an error). Formats named by the caller
    (``"pes,dst"`` or a sequence) are always written, or fail: naming formats for a bead or
    brick pattern, or for a design larger than the hoop, is an :class:`InputError` (the
    design is never cut). An empty sequence (or ``"none"``) means no embroidery files.

    ``hoop`` is ``(width, height)`` in mm, or ``"WxH"``. ``merge`` (bricks, with ``part="plate"``) covers
    same-color areas with larger plates inside each ``section``; ``part`` picks the 1×1
    element (plate 3024, round 4073/6141, tile 3070b). ``section`` is the board size in
    cells (beads 29; bricks 16/32/48; default: the medium's first). ``fabric_count`` (11, 14,
    16, 18; default 14) and ``strands`` (default 3 on 11 ct, else 2) are for cross-stitch.

    All options are checked before anything is written; every file is written atomically.
    """
    settings, fmts, notes, paper, hoop_mm = validate_options(
        pattern.medium, (pattern.width, pattern.height), paper=paper, formats=formats,
        hoop=hoop, merge=merge, part=part, section=section, fabric_count=fabric_count,
        strands=strands,
    )
    out = ensure_out_dir(out_dir)
    merged = None
    if merge:
        assert settings.section is not None
        merged = merge_plates(pattern.cells, settings.section)
    bom = build_bom(pattern, settings, merged)
    plan = None
    if fmts:
        assert settings.fabric_count is not None
        plan = plan_cross_stitch(pattern, settings.fabric_count)
    written: list[Path] = []
    craft_img = None
    if preview or pdf:
        from craftpix.export.preview import render_preview

        craft_img = render_preview(pattern, "craft", fabric_count=settings.fabric_count,
                                   part=settings.part)
    if preview:
        from craftpix.export.preview import save_preview, write_png

        assert craft_img is not None
        written.append(write_png(craft_img, out / "preview.png"))
        written.append(save_preview(pattern, out / "preview-pixels.png", "pixels",
                                    fabric_count=settings.fabric_count))
    if pdf:
        from craftpix.export.pdf import write_pdf

        written.append(write_pdf(pattern, out / "pattern.pdf", settings, bom, paper=paper,
                                 merged=merged, preview=craft_img, embroidery=plan,
                                 formats=list(fmts), hoop=hoop_mm, notes=notes))
    if plan is not None:
        written += write_embroidery(pattern, out, fmts, plan.fabric_count, hoop_mm, plan=plan)
    return ExportResult(written, settings, bom, fmts, merged, plan, notes)


def export_all(pattern: Pattern, out_dir: str | os.PathLike[str], **options: Any) -> list[Path]:
    """Write every export of ``pattern`` into ``out_dir``; return the paths written.

    Takes the keyword options of :func:`export_pattern` (which documents them).
    """
    return export_pattern(pattern, out_dir, **options).paths
