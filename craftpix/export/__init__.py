"""Everything a finished :class:`~craftpix.pattern.Pattern` turns into.

* ``preview.png`` — looks like the made object; ``preview-pixels.png`` — one flat square per
  cell (:mod:`craftpix.export.preview`);
* ``pattern.pdf`` — cover, bill of materials, board/page map, charts (:mod:`.pdf`);
* ``pattern.<fmt>`` — machine-embroidery files of true cross stitches (:mod:`.embroidery`);
* ``pattern.oxs`` (cross-stitch, :mod:`.oxs`) and ``pattern.ldr`` (bricks, :mod:`.ldraw`) — the
  pattern for other programs (``--formats oxs`` / ``ldr``: :data:`INTERCHANGE_FORMATS`);
* ``shopping-list.csv`` and, for bricks, ``bricklink.xml`` (a BrickLink wanted list),
  ``rebrickable.csv`` and ``lego-pick-a-brick.csv`` — ordering lists (:mod:`.orders`);
* ``pattern.json`` — the pattern itself, with the export settings used (they stick: the next
  :func:`export_pattern` of that file uses them unless overridden).

Exports read plain values only: no tensors, no models.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from craftpix.errors import InputError
from craftpix.export.bom import Bom, ExportSettings, build_bom, resolve_settings
from craftpix.export.embroidery import (
    DEFAULT_FORMATS,
    StitchPlan,
    check_format_limits,
    check_hoop,
    design_size_mm,
    parse_formats,
    plan_cross_stitch,
    render_embroidery,
)
from craftpix.export.hoops import (
    Hoop,
    hoop_to_setting,
    needs_turn,
    parse_hoop,
    smallest_fitting_hoop,
)
from craftpix.export.merge import MergeResult, merge_plates
from craftpix.fileio import ensure_out_dir, write_bytes, write_text
from craftpix.pattern import Pattern

__all__ = [
    "ExportResult",
    "SETTING_KEYS",
    "export_all",
    "export_pattern",
    "merged_settings",
    "mirrored",
    "validate_options",
]

PAPERS = ("a4", "letter")

# Every export setting, as stored in pattern.json's "settings" object and accepted as a keyword
# by export_pattern. "background" is the engine's fill for empty cells (a catalog code, a hex
# color or "none"); it is stored so that edits and re-exports know it, exports draw the cells.
SETTING_KEYS = ("pdf", "preview", "orders", "paper", "formats", "hoop", "merge", "part",
                "section", "fabric_count", "strands", "legend_order", "backstitch",
                "backstitch_color", "background", "mirror", "drill")
LEGEND_ORDERS = ("usage", "code")

#: Files for other programs, by their ``--formats`` name: the craft they are made from and the
#: file written (the embroidery formats are :data:`craftpix.export.embroidery.FORMATS`).
INTERCHANGE_FORMATS: dict[str, tuple[str, str]] = {
    "oxs": ("stitch", "pattern.oxs"),  # Open Cross Stitch chart (craftpix.export.oxs)
    "ldr": ("bricks", "pattern.ldr"),  # LDraw model of the mosaic (craftpix.export.ldraw)
}


def parse_export_formats(value: str | Sequence[str] | None) -> tuple[str, ...]:
    """``"pes,dst,oxs"`` (or a sequence, or ``"none"``) → the validated lowercase names, in order.

    Accepts the embroidery formats and :data:`INTERCHANGE_FORMATS`. Raises :class:`InputError`
    for an unknown name.
    """
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else [str(v) for v in value]
    out: list[str] = []
    for raw in items:
        name = raw.strip().lower().lstrip(".")
        if name in ("", "none") or name in out:
            continue
        if name not in INTERCHANGE_FORMATS:
            from craftpix.export.embroidery import FORMATS

            if name not in FORMATS:
                known = ", ".join([*FORMATS, *INTERCHANGE_FORMATS])
                raise InputError(f"unknown format {raw.strip()!r}; choose from: {known}")
        out.append(name)
    return tuple(out)


def interchange_formats(value: str | Sequence[str] | None) -> tuple[str, ...]:
    """The :data:`INTERCHANGE_FORMATS` named in a ``formats`` value (see :func:`parse_export_formats`)."""
    return tuple(f for f in parse_export_formats(value) if f in INTERCHANGE_FORMATS)


#: the files each on/off export setting writes (the others: ``pattern.<format>``)
SETTING_FILES: dict[str, tuple[str, ...]] = {
    "pdf": ("pattern.pdf",),
    "preview": ("preview.png", "preview-pixels.png"),
    "orders": ("shopping-list.csv", "bricklink.xml", "rebrickable.csv", "lego-pick-a-brick.csv"),
}


def settings_for_folder(pattern: Pattern, folder: str | os.PathLike[str],
                        settings: Mapping[str, Any]) -> dict[str, Any]:
    """``settings`` widened so that an export of ``pattern`` rewrites every file of its kind
    that craftpix wrote in ``folder`` (as its manifest records, :func:`craftpix.fileio.read_manifest`).

    For ``edit`` and ``convert``: ``export --formats jef`` keeps the pattern.pes beside it, so
    the stored settings name fewer files than the folder holds; an edit must rewrite those
    too, or they would describe the pattern before the edit. A ``pattern.pdf``, preview or
    shopping list there switches ``pdf``, ``preview`` or ``orders`` on; a ``pattern.<fmt>`` of
    a format this craft writes is added to ``formats`` (after the stored ones, or after the
    default ``pes,dst`` of cross-stitch when none are stored). Returns a new dict.
    """
    from craftpix.export.embroidery import FORMATS
    from craftpix.fileio import read_manifest

    held = {name for name in read_manifest(folder) if Path(folder, name).is_file()}
    out = dict(settings)
    for key, names in SETTING_FILES.items():
        if held & set(names) and not merged_settings(pattern.settings, out).get(key, True):
            out[key] = True
    kinds = [name.removeprefix("pattern.") for name in sorted(held)
             if name.startswith("pattern.") and name != "pattern.json"]
    writable = [k for k in kinds
                if (k in FORMATS and pattern.medium == "stitch")
                or (k in INTERCHANGE_FORMATS and INTERCHANGE_FORMATS[k][0] == pattern.medium)]
    stored = merged_settings(pattern.settings, out).get("formats")
    now = (parse_export_formats(stored) if stored is not None
           else DEFAULT_FORMATS if pattern.medium == "stitch" else ())
    extra = [k for k in writable if k not in now]
    if extra:
        out["formats"] = [*now, *extra]
    return out


@dataclass
class ExportResult:
    """What :func:`export_pattern` wrote and computed."""

    paths: list[Path]
    settings: ExportSettings
    bom: Bom
    formats: tuple[str, ...]
    merged: MergeResult | None = None  # bricks with merge: the plates as built (the mirrored
    #                                     chart's with mirror), pieces before/after
    stitch_plan: StitchPlan | None = None  # when embroidery files were written
    notes: list[str] = field(default_factory=list)  # things the user should be told
    hoop: Hoop | None = None  # the hoop the machine files are for
    stored: dict[str, Any] = field(default_factory=dict)  # the settings saved with the pattern


class ResolvedOptions(NamedTuple):
    """Export options after :func:`validate_options`: checked, defaults filled in."""

    settings: ExportSettings
    formats: tuple[str, ...]
    notes: list[str]
    paper: str  # lower case
    hoop: Hoop | None  # the hoop used (given, or the smallest preset that fits); None: no files


def validate_options(
    medium: str,
    size: tuple[int, int] | None = None,
    *,
    pdf: bool = True,
    paper: str = "a4",
    formats: str | Sequence[str] | None = None,
    hoop: Hoop | tuple[float, float] | str | None = None,
    merge: bool = False,
    part: str = "plate",
    section: int | None = None,
    fabric_count: int | None = None,
    strands: int | None = None,
    preview: bool = True,
    orders: bool = True,
    legend_order: str = "usage",
    backstitch: str = "none",
    backstitch_color: str | None = None,
    background: str | None = None,
    mirror: bool = False,
    drill: str | None = None,
    brand: str | None = None,
) -> ResolvedOptions:
    """Check export options against a medium (and a ``(W, H)`` size in cells for the hoop).

    Returns the resolved settings, the embroidery formats to write, notes for the user, the
    normalized paper and the hoop. ``hoop=None`` picks the smallest preset hoop that holds the
    design (:func:`~craftpix.export.hoops.smallest_fitting_hoop`).
    Raises :class:`InputError` with one plain line for anything that does not apply, for a
    malformed hoop, and when formats named by the caller cannot be written (design larger
    than the hoop or than any preset, JEF beyond Janome's largest hoop). The default formats
    (``formats=None`` on a cross-stitch pattern) are dropped with a note instead: a large
    chart for hand stitching is not an error.
    """
    if legend_order not in LEGEND_ORDERS:
        raise InputError(f"unknown legend order {legend_order!r}; choose one of: "
                         f"{', '.join(LEGEND_ORDERS)}")
    if backstitch not in ("none", "auto"):
        raise InputError(f"unknown --backstitch {backstitch!r}; choose auto or none")
    if (backstitch == "auto" or backstitch_color) and medium != "stitch":
        raise InputError(f"backstitch applies to cross-stitch, not to {medium}")
    del pdf, preview, orders, background, backstitch_color  # accepted so that the same kwargs as export_pattern can be passed
    paper = paper.lower()
    if paper not in PAPERS:
        raise InputError(f"unknown paper {paper!r}; choose one of: {', '.join(PAPERS)}")
    settings = resolve_settings(medium, part=part, section=section, fabric_count=fabric_count,
                                strands=strands, merge=merge, brand=brand, mirror=mirror,
                                drill=drill)
    if formats is None:
        fmts: tuple[str, ...] = DEFAULT_FORMATS if medium == "stitch" else ()
    else:
        named = parse_export_formats(formats)
        for name in named:
            if name in INTERCHANGE_FORMATS and INTERCHANGE_FORMATS[name][0] != medium:
                what = "an OXS cross-stitch chart" if name == "oxs" else "an LDraw brick model"
                raise InputError(f"{name} is {what}; it is not made from {medium}")
        fmts = parse_formats([n for n in named if n not in INTERCHANGE_FORMATS])
        if fmts and medium != "stitch":
            raise InputError(
                f"embroidery files ({', '.join(fmts)}) are made from cross-stitch patterns, "
                f"not from {medium}"
            )
    given = parse_hoop(hoop)
    if given is not None and medium != "stitch":
        raise InputError(f"--hoop applies to cross-stitch machine files, not to {medium}")
    chosen = given
    notes: list[str] = []
    if fmts and size is not None:
        assert settings.fabric_count is not None
        w_mm, h_mm = design_size_mm(size[0], size[1], settings.fabric_count)
        if chosen is None:
            chosen = smallest_fitting_hoop(w_mm, h_mm)
        try:
            if chosen is None:
                raise InputError(
                    f"the design is {w_mm:.1f} x {h_mm:.1f} mm ({size[0]}x{size[1]} stitches at "
                    f"{settings.fabric_count} ct) and no preset hoop holds it; give --hoop WxHmm, "
                    "a finer --fabric-count or a smaller design"
                )
            check_hoop(size[0], size[1], settings.fabric_count, chosen)
            if "jef" in fmts:
                from craftpix.export.embroidery import check_jef_hoop

                turned = needs_turn(chosen, w_mm, h_mm)
                check_jef_hoop(*((h_mm, w_mm) if turned else (w_mm, h_mm)), chosen)
        except InputError as exc:
            if formats is not None:
                raise
            fmts = ()
            chosen = None
            notes.append(f"no embroidery files written: {exc}")
    return ResolvedOptions(settings, fmts, notes, paper, chosen)


def _add_backstitch_to_bom(pattern: Pattern, bom: Bom, bs: Any, fabric_count: int) -> None:
    """Count the outline's floss in the bill of materials (its own line, skeins in the total)."""
    from craftpix.export.backstitch import backstitch_cm, backstitch_skeins
    from craftpix.export.bom import BomRow, BuyLine

    cm = backstitch_cm(bs, fabric_count)
    line = BuyLine("skein", backstitch_skeins(bs, fabric_count), f"backstitch, {cm / 100:.1f} m",
                   plural="skeins", needed=bs.segments)
    for k, row in enumerate(bom.rows):
        if row.index == bs.color:
            bom.rows[k] = BomRow(row.index, row.color, row.symbol, row.count, (*row.buy, line))
            break
    else:
        bom.rows.append(BomRow(bs.color, pattern.palette[bs.color],
                               pattern.symbols()[bs.color], 0, (line,)))
    total = sum(b.quantity for r in bom.rows for b in r.buy)
    bom.totals[:] = [BuyLine("skein", total, plural="skeins")]


def code_key(code: str) -> tuple[int, int, str]:
    """Catalog order of a color code: numbers by value (DMC 150 before 1001), then the rest."""
    head = code.split("-")[-1]
    return (0, int(head), code) if head.isdigit() else (1, 0, code)


def merged_settings(stored: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The settings for one export: ``stored`` (pattern.json) overlaid by non-None ``overrides``.

    Raises :class:`InputError` for a key that is not an export setting (see :data:`SETTING_KEYS`).
    """
    out: dict[str, Any] = {}
    for source, label in ((stored, "pattern.json settings"), (overrides, "export option")):
        for key, value in source.items():
            if key not in SETTING_KEYS:
                raise InputError(f"unknown {label} {key!r}; known: {', '.join(SETTING_KEYS)}")
            if value is not None:
                out[key] = list(value) if isinstance(value, tuple) else value
    return out


def _settings_to_store(effective: Mapping[str, Any], resolved: ResolvedOptions) -> dict[str, Any]:
    """What goes into pattern.json: resolved values, plus formats and hoop when they were given."""
    s = resolved.settings
    out: dict[str, Any] = {
        "pdf": bool(effective.get("pdf", True)),
        "preview": bool(effective.get("preview", True)),
        "orders": bool(effective.get("orders", True)),
        "paper": resolved.paper,
        "legend_order": str(effective.get("legend_order", "usage")),
    }
    if s.mirror:
        out["mirror"] = True
    if s.medium == "bricks":
        out.update(part=s.part, section=s.section, merge=bool(effective.get("merge", False)))
        if effective.get("formats") is not None:
            out["formats"] = list(parse_export_formats(effective["formats"]))
    elif s.medium == "beads":
        out.update(section=s.section)
    elif s.medium == "diamond":
        out.update(drill=s.drill)
    else:
        out.update(fabric_count=s.fabric_count, strands=s.strands,
                   backstitch=str(effective.get("backstitch", "none")))
        if effective.get("backstitch_color"):
            out["backstitch_color"] = str(effective["backstitch_color"])
        if effective.get("formats") is not None:
            out["formats"] = list(parse_export_formats(effective["formats"]))
        if effective.get("hoop") is not None:
            out["hoop"] = hoop_to_setting(parse_hoop(effective["hoop"]))
    if effective.get("background") is not None:
        out["background"] = str(effective["background"])
    return out


def sewn_size(pattern: Pattern) -> tuple[int, int]:
    """``(W, H)`` cells the hoop must hold: a cross-stitch pattern's stitched extent (empty
    margins are not sewn), else the whole grid."""
    if pattern.medium == "stitch":
        from craftpix.export.embroidery import stitched_size

        return stitched_size(pattern)
    return pattern.width, pattern.height


def export_pattern(
    pattern: Pattern,
    out_dir: str | os.PathLike[str],
    *,
    save: bool = True,
    **overrides: Any,
) -> ExportResult:
    """Write every export of ``pattern`` into ``out_dir``, with its stored settings.

    The settings used are ``pattern.settings`` (from ``pattern.json``) overlaid by the
    non-None keyword ``overrides`` (:func:`merged_settings`); they are checked, recorded back on
    ``pattern.settings`` and, with ``save``, written with the pattern to
    ``out_dir/pattern.json``. Returns the paths written with the bill of materials, merge
    result, stitch plan, hoop and the stored settings.

    Settings (keys of :data:`SETTING_KEYS`): ``pdf``, ``preview`` and ``orders`` (bool;
    ``orders`` writes ``shopping-list.csv`` and for bricks ``bricklink.xml``); ``paper``
    (``"a4"``/``"letter"``); ``formats`` (``"pes,dst"``, a sequence, or ``"none"``; None = the
    medium's default: ``pes,dst`` for cross-stitch when the design fits a hoop, with a note
    otherwise); ``hoop`` (a preset such as ``"5x7"``, ``"130x180mm"``, ``"4x4in"`` or
    ``(w, h)`` mm; None = the smallest preset that fits); ``merge`` (bricks, with
    ``part="plate"``); ``part`` (plate 3024, round 4073/6141, tile 3070b); ``section`` (board
    size in cells: beads 29; bricks 16/32/48); ``legend_order`` (``"usage"``, most-used first,
    or ``"code"``, catalog order); ``fabric_count`` (11, 14, 16, 18; default 14)
    and ``strands`` (default 3 on 11 ct, else 2); ``background`` (recorded only).

    Everything is checked before anything is written — options, hoop, each machine format's
    limits (colors, stitch length, JEF hoop) and the read-back of every machine file against
    its plan — and every file is written atomically. Raises :class:`InputError` (or another
    :class:`~craftpix.errors.CraftpixError`) with a one-line message.
    """
    effective = merged_settings(pattern.settings, overrides)
    opts = {k: v for k, v in effective.items() if k != "preview"}
    resolved = validate_options(pattern.medium, sewn_size(pattern), **opts,
                                brand=pattern.brand)
    settings, fmts, notes, paper, hoop = resolved
    pdf, preview = bool(effective.get("pdf", True)), bool(effective.get("preview", True))
    merge = bool(effective.get("merge", False))
    out = ensure_out_dir(out_dir)
    if settings.section:
        from craftpix.export.layout import board_notes
        from craftpix.media import get_medium

        m = get_medium(pattern.medium, pattern.brand)
        notes += board_notes(pattern.width, pattern.height, settings.section,
                             "pegboard" if m.name == "beads" else "baseplate", m.piece)
    bs = None
    if effective.get("backstitch") == "auto":
        from craftpix.export.backstitch import plan_backstitch

        outlined, bs = plan_backstitch(pattern, effective.get("backstitch_color"))
        pattern.palette = outlined.palette  # the thread joins the palette
    pattern.palette = pattern.with_symbols().palette  # symbols stick from now on
    chart = mirrored(pattern)[0] if settings.mirror else pattern
    merged = None  # the plates as built: merged on the chart's layout (mirrored with --mirror)
    if merge:
        assert settings.section is not None
        from craftpix.export.layout import board_origin

        merged = merge_plates(chart.cells, settings.section,
                              origin=board_origin(chart.width, chart.height, settings.section))
    if settings.mirror:
        notes.append("charts are mirrored left to right: lay the beads or plates face down as "
                     "charted (iron from the back, or build on a transparent board), then turn "
                     "the piece over")
    bom = build_bom(pattern, settings, merged)
    if bs is not None:
        assert settings.fabric_count is not None
        _add_backstitch_to_bom(pattern, bom, bs, settings.fabric_count)
        notes.append(
            f"backstitch: {bs.segments} cell edges in {len(bs.paths)} lines, "
            f"{pattern.palette[bs.color].code} {pattern.palette[bs.color].name}, 1 strand, "
            "worked after the crosses; drawn as thick lines on the charts"
        )
    from craftpix.prices import apply_purchases

    apply_purchases(pattern, bom)  # owned pieces subtracted, prices per pack
    if effective.get("legend_order") == "code":
        bom.rows.sort(key=lambda r: code_key(r.color.code))
    plan = None
    machine_files: dict[str, bytes] = {}
    if fmts:
        assert settings.fabric_count is not None
        assert hoop is not None
        sewn_mm = design_size_mm(*sewn_size(pattern), settings.fabric_count)
        turn = needs_turn(hoop, *sewn_mm)
        plan = plan_cross_stitch(pattern, settings.fabric_count, backstitch=bs, turn=turn)
        if turn:
            notes.append(f"the design is turned a quarter turn in the machine files to fit the "
                         f"{hoop.label} hoop (it is {sewn_mm[0]:.1f} x {sewn_mm[1]:.1f} mm)")
        check_format_limits(pattern, fmts, plan, hoop)
        machine_files = render_embroidery(pattern, plan, fmts, hoop)  # read back and checked
        from craftpix.export.embroidery import thread_names

        notes += thread_names(pattern, plan.color_order)[1]
    stored = _settings_to_store(effective, resolved)
    written: list[Path] = []
    craft_img = None
    if preview or pdf:
        from craftpix.export.preview import render_preview

        craft_img = render_preview(pattern, "craft", fabric_count=settings.fabric_count,
                                   drill=settings.drill,
                                   part=settings.part, backstitch=bs)
    if preview:
        from craftpix.export.preview import save_preview, write_png

        assert craft_img is not None
        written.append(write_png(craft_img, out / "preview.png"))
        written.append(save_preview(pattern, out / "preview-pixels.png", "pixels",
                                    fabric_count=settings.fabric_count))
    if pdf:
        from craftpix.export.pdf import write_pdf

        hoop_mm = hoop.size if hoop is not None else (0.0, 0.0)
        written.append(write_pdf(pattern, out / "pattern.pdf", settings, bom, paper=paper,
                                 merged=merged, preview=craft_img, embroidery=plan,
                                 formats=list(fmts), hoop=hoop_mm, notes=notes, backstitch=bs,
                                 chart=chart if chart is not pattern else None))
    for fmt, data in machine_files.items():
        written.append(write_bytes(out / f"pattern.{fmt}", data))
    for fmt in interchange_formats(effective.get("formats")):
        written.append(write_text(out / INTERCHANGE_FORMATS[fmt][1],
                                  _interchange_text(fmt, chart if fmt == "ldr" else pattern,
                                                    settings, merged, bs, notes)))
    if effective.get("orders", True):
        from craftpix.export.orders import bricklink_xml, catalog_facts, shopping_csv

        facts = catalog_facts(pattern.brand)
        if pattern.medium == "bricks":
            xml, missing = bricklink_xml(bom, facts)
            if missing:
                notes.append(f"bricklink.xml leaves out colors with no BrickLink color id in "
                             f"the {pattern.brand} catalog: {', '.join(missing)}")
            written.append(write_text(out / "bricklink.xml", xml))
            from craftpix.export.orders import pick_a_brick_csv, rebrickable_csv

            for name, (text, left_out) in (("rebrickable.csv", rebrickable_csv(bom, pattern.brand)),
                                           ("lego-pick-a-brick.csv",
                                            pick_a_brick_csv(bom, pattern.brand))):
                if left_out:
                    notes.append(f"{name} leaves out what the {pattern.brand} catalog has no "
                                 f"{'Rebrickable id' if name[0] == 'r' else 'LEGO element id'} "
                                 f"for: {', '.join(left_out)}")
                written.append(write_text(out / name, text))
        written.append(write_text(out / "shopping-list.csv", shopping_csv(pattern, bom, facts)))
    pattern.settings = stored
    if save:
        written.append(pattern.save(out / "pattern.json"))
    return ExportResult(written, settings, bom, fmts, merged, plan, notes, hoop, stored)


def _interchange_text(fmt: str, pattern: Pattern, settings: ExportSettings,
                      merged: MergeResult | None, bs: Any, notes: list[str]) -> str:
    """The text of one :data:`INTERCHANGE_FORMATS` file (``pattern.oxs`` or ``pattern.ldr``)."""
    from craftpix.export.pdf import pattern_title

    if fmt == "oxs":
        from craftpix.export.oxs import oxs_document

        assert settings.fabric_count is not None and settings.strands is not None
        imported = pattern.meta.get("imported")
        author = imported.get("author", "") if isinstance(imported, dict) else ""
        return oxs_document(pattern, fabric_count=settings.fabric_count,
                            strands=settings.strands, backstitch=bs,
                            title=pattern_title(pattern), author=str(author or ""))
    from craftpix.export.ldraw import ldraw_model

    assert settings.section is not None
    text, ldraw_notes = ldraw_model(pattern, settings.section, settings.part, merged,
                                    title=pattern_title(pattern))
    notes += ldraw_notes
    return text


def mirrored(pattern: Pattern, merged: MergeResult | None = None
             ) -> tuple[Pattern, MergeResult | None]:
    """The pattern seen from the back (columns reversed: left and right swap) for ``--mirror``,
    and its merged plates laid out again on the mirrored grid (``None`` when ``merged`` is).

    The plates are merged anew, not flipped, because the boards of the mirrored chart start
    at its own left edge: flipped plates could cross a baseplate border there.
    """
    flipped = Pattern(pattern.cells[:, ::-1].copy(), list(pattern.palette), pattern.medium,
                      pattern.brand, dict(pattern.meta), dict(pattern.settings))
    if merged is None:
        return flipped, None
    from craftpix.export.layout import board_origin

    return flipped, merge_plates(flipped.cells, merged.section,
                                 origin=board_origin(flipped.width, flipped.height,
                                                     merged.section))


def export_all(pattern: Pattern, out_dir: str | os.PathLike[str], **options: Any) -> list[Path]:
    """Write every export of ``pattern`` into ``out_dir``; return the paths written.

    Takes the keyword options of :func:`export_pattern` (which documents them).
    """
    return export_pattern(pattern, out_dir, **options).paths
