"""The export options shared by ``craftpix export`` and ``craftpix beads|bricks|stitch``.

Use :func:`export_options` as a click decorator, then :func:`export_settings` to turn the
parsed values into keyword arguments for :func:`craftpix.export.export_pattern`. Every option
defaults to "not given" (None): what is not given on the command line comes from the settings
stored in ``pattern.json``, else the medium's default.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import click

from craftpix.errors import InputError
from craftpix.export import PAPERS, parse_export_formats, validate_options
from craftpix.export.embroidery import FORMATS
from craftpix.export.hoops import Hoop, parse_hoop, preset_names
from craftpix.media import BRICK_PARTS, DRILLS, MEDIA

F = TypeVar("F", bound=Callable[..., Any])

PAPER_CHOICES = PAPERS
PART_CHOICES = tuple(BRICK_PARTS)
FABRIC_COUNTS = tuple(str(c) for c in MEDIA["stitch"].fabric_counts)

__all__ = ["export_options", "export_settings", "parse_hoop", "OPTION_NAMES"]

# parameter names the decorator adds, in the order export_all takes them
OPTION_NAMES = ("pdf", "paper", "formats", "hoop", "merge", "part", "section",
                "fabric_count", "strands", "legend_order", "orders", "backstitch",
                "backstitch_color", "mirror", "drill")

def _hoop_cb(ctx: click.Context, param: click.Parameter, value: Any) -> Hoop | None:
    try:
        return parse_hoop(value)
    except InputError as exc:
        raise click.BadParameter(str(exc), ctx, param) from None


def _formats_cb(ctx: click.Context, param: click.Parameter, value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    try:
        return parse_export_formats(value)
    except InputError as exc:
        raise click.BadParameter(str(exc), ctx, param) from None


def _fabric_cb(ctx: click.Context, param: click.Parameter, value: Any) -> int | None:
    return None if value is None else int(value)


def export_options(f: F) -> F:
    """Add the shared export options to a click command (see module docstring)."""
    options = [
        click.option("--pdf/--no-pdf", default=None,
                     help="Write the printable instructions pattern.pdf (default: yes)."),
        click.option("--paper", type=click.Choice(PAPER_CHOICES, case_sensitive=False),
                     default=None, help="Paper size of the PDF (default: a4)."),
        click.option("--formats", default=None, callback=_formats_cb, metavar="LIST",
                     help="Files to write, comma separated (or 'none'): embroidery "
                          f"{','.join(FORMATS)} (cross-stitch; default pes,dst), oxs (the "
                          "chart for other cross-stitch software), ldr (bricks: an LDraw "
                          "model for Studio or LDCad)."),
        click.option("--hoop", default=None, callback=_hoop_cb, metavar="HOOP",
                     help=f"Embroidery hoop: a preset ({preset_names()}) or a size with its "
                          "unit, e.g. 130x180mm or 4x4in (default: the smallest preset that "
                          "fits the design)."),
        click.option("--merge/--no-merge", default=None,
                     help="Bricks: cover same-color areas with larger plates (fewer pieces)."),
        click.option("--part", type=click.Choice(PART_CHOICES, case_sensitive=False),
                     default=None,
                     help="Bricks: 1x1 plate (3024), round plate (4073/6141) or tile (3070b); "
                          "default plate."),
        click.option("--section", type=click.IntRange(min=1), default=None, metavar="N",
                     help="Board size in cells: beads 29; bricks 16, 32 or 48 (default: "
                          "the medium's first)."),
        click.option("--fabric-count", type=click.Choice(FABRIC_COUNTS), default=None,
                     callback=_fabric_cb,
                     help="Cross-stitch: Aida count in stitches per inch (default 14)."),
        click.option("--strands", type=click.IntRange(1, 6), default=None,
                     help="Cross-stitch: strands of floss (default 3 on 11 ct, else 2)."),
        click.option("--legend-order", type=click.Choice(("usage", "code")), default=None,
                     help="Order of the PDF legend: most-used first (default) or by code."),
        click.option("--backstitch", type=click.Choice(("auto", "none")), default=None,
                     help="Cross-stitch: outline strong boundaries with backstitch (default none)."),
        click.option("--backstitch-color", default=None, metavar="CODE",
                     help="Cross-stitch: backstitch thread, a catalog code (default: the "
                          "darkest, e.g. DMC 310)."),
        click.option("--mirror/--no-mirror", default=None,
                     help="Beads and bricks: print the charts mirrored, left to right (to iron "
                          "from the back or build face down on a transparent board)."),
        click.option("--drill", type=click.Choice(tuple(DRILLS), case_sensitive=False),
                     default=None,
                     help="Diamond painting: square (2.5 mm) or round (2.8 mm) drills "
                          "(default square)."),
        click.option("--orders/--no-orders", default=None,
                     help="Write shopping-list.csv (and bricklink.xml for bricks); default yes."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def export_settings(
    values: Mapping[str, Any], medium: str | None = None, pop: bool = False,
    brand: str | None = None,
) -> dict[str, Any]:
    """Keyword arguments for :func:`craftpix.export.export_pattern` from parsed option values.

    Options that were not given (None) are left out, so that stored settings apply. With ``medium`` known (the craft commands), options that do not apply to it are rejected
    now, before any long computation; if ``values`` also holds a ``size`` of ``(W, H)``
    cells, the embroidery hoop is checked too; ``brand`` (the catalog) gives a mini bead
    line its own boards. ``pop=True`` removes the export options from
    ``values`` (a mutable mapping) so the rest can be passed on.
    """
    out: dict[str, Any] = {}
    for name in OPTION_NAMES:
        if values.get(name) is not None:
            out[name] = values[name]
    if pop:
        for name in OPTION_NAMES:
            values.pop(name, None)  # type: ignore[attr-defined]
    if isinstance(out.get("paper"), str):
        out["paper"] = out["paper"].lower()
    if isinstance(out.get("part"), str):
        out["part"] = out["part"].lower()
    if isinstance(out.get("drill"), str):
        out["drill"] = out["drill"].lower()
    if "hoop" in out:
        out["hoop"] = parse_hoop(out["hoop"])
    if "formats" in out:
        out["formats"] = parse_export_formats(out["formats"])
    if medium == "bricks":
        out.setdefault("part", "plate")  # the engine filters the catalog by the part
    if medium is not None:
        size = values.get("size")
        dims = tuple(size) if isinstance(size, (tuple, list)) and len(size) == 2 else None
        validate_options(medium, dims, **out, brand=brand)
    return out
