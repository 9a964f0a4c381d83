"""The ``craftpix`` command line.

    craftpix beads  --image photo.jpg --size 48 --colors 12
    craftpix bricks --prompt "a red fox" --size 48
    craftpix stitch --image cat.png --size 80x60 --colors 20
    craftpix palettes list
    craftpix export pattern.json --paper letter

Every user error ends with one plain line and exit status 2.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import click

from craftpix import __version__, api
from craftpix.api import (
    DEFAULT_PROMPT_COLORS,
    ENGINES,
    FITS,
    MAX_SEED,
    MAX_SIDE,
    MAX_STEPS,
    MIN_SIDE,
    EditRequest,
    PatternRequest,
)
from craftpix.clibase import OneLineGroup
from craftpix.errors import InputError
from craftpix.media import MEDIA, Medium
from craftpix.palette import available_palettes, load_palette
from craftpix.sizing import DEFAULT_FIT, SizeSpec, parse_size


# --- parameter types --------------------------------------------------------------------------
class SizeType(click.ParamType):
    """A size as crafters say it (see :mod:`craftpix.sizing`): 48, 48x, x60, 64x48, 30cmx20cm."""

    name = "SIZE"

    def convert(self, value: Any, param: Any, ctx: Any) -> SizeSpec:
        if isinstance(value, SizeSpec):
            return value
        try:
            spec = parse_size(str(value))
        except InputError as exc:
            self.fail(str(exc), param, ctx)
        for side in (spec.width, spec.height, spec.longest):
            if side is not None and side.unit == "cells" and not MIN_SIDE <= side.value <= MAX_SIDE:
                self.fail(f"{value!r} is out of range: each side must be {MIN_SIDE} to "
                          f"{MAX_SIDE} cells", param, ctx)
        return spec


SIZE = SizeType()


@click.group(cls=OneLineGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="craftpix")
def main() -> None:
    """Turn a prompt or a photo into a bead, brick, cross-stitch or diamond-painting pattern in
    real catalog colors."""


# --- palettes ---------------------------------------------------------------------------------
@main.group()
def palettes() -> None:
    """List and inspect the color catalogs."""


@palettes.command("list")
def palettes_list() -> None:
    """Show every built-in catalog: name, product line, number of colors."""
    rows = [(n, load_palette(n)) for n in available_palettes()]
    width = max((len(n) for n, _ in rows), default=4)
    tw = max((len(p.title) for _, p in rows), default=10)
    for name, pal in rows:
        click.echo(f"{name:<{width}}  {pal.title:<{tw}}  {len(pal):>4} colors")


@palettes.command("show")
@click.argument("name")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table",
              show_default=True, help="How to print the colors.")
@click.option("--swatch", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write a PNG swatch card of the catalog.")
def palettes_show(name: str, fmt: str, swatch: Path | None) -> None:
    """Print every color of catalog NAME (or of a palette file)."""
    pal = load_palette(name)
    if fmt == "json":
        click.echo(json.dumps([{"code": c, "name": n, "hex": h}
                               for c, n, h in zip(pal.codes, pal.names, pal.hexes, strict=True)],
                              indent=1, ensure_ascii=False))
    elif fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["code", "name", "hex"])
        writer.writerows(zip(pal.codes, pal.names, pal.hexes, strict=True))
        click.echo(buf.getvalue(), nl=False)
    else:
        click.echo(f"{pal.title} — {len(pal)} colors")
        cw = max(len(c) for c in pal.codes)
        for code, cname, hexval in zip(pal.codes, pal.names, pal.hexes, strict=True):
            click.echo(f"{code:<{cw}}  {hexval}  {cname}")
    if swatch is not None:
        from craftpix.swatch import write_swatch

        write_swatch(pal, swatch)
        click.echo(f"wrote {swatch}", err=True)


# --- the four crafts ---------------------------------------------------------------------------
WHAT, COLORS, PRINTING, MACHINE, DIFFUSION, OTHER = (
    "What to make", "Colors", "Printing", "Machine files", "Diffusion model", "Other")
GROUP_ORDER = (WHAT, COLORS, PRINTING, MACHINE, DIFFUSION, OTHER)
# Option (parameter name) → help group; export options not named here are "Printing", model
# options "Diffusion model".
GROUP_OF = {
    **dict.fromkeys(("prompt", "image", "size", "sizes", "boards", "fit", "seed", "out", "quiet",
                     "force"),
                    WHAT),
    **dict.fromkeys(("brand", "palette_file", "colors", "all_finishes", "exclude", "only",
                     "inventory", "only_owned", "prefer_cheap", "budget", "smooth", "features",
                     "dither",
                     "background", "restore"), COLORS),
    **dict.fromkeys(("pdf", "paper", "section", "merge", "part", "fabric_count", "strands",
                     "mirror", "drill"), PRINTING),
    **dict.fromkeys(("formats", "hoop"), MACHINE),
    **dict.fromkeys(("engine", "steps", "clean_up"), DIFFUSION),
    "help": OTHER,
}
# Options another craft has and this one does not (they are not offered, not just rejected).
NOT_FOR = {
    "beads": {"formats", "hoop", "merge", "part", "fabric_count", "strands", "backstitch",
              "backstitch_color", "drill"},
    "bricks": {"hoop", "fabric_count", "strands", "backstitch", "backstitch_color", "drill"},
    "stitch": {"merge", "part", "section", "boards", "mirror", "drill"},
    "diamond": {"formats", "hoop", "merge", "part", "section", "boards", "fabric_count",
                "strands", "mirror", "backstitch", "backstitch_color"},
}


class CraftCommand(click.Command):
    """A craft command whose ``--help`` lists its options in groups (see :data:`GROUP_OF`)."""

    def __init__(self, *args: Any, groups: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.groups = groups

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        sections: dict[str, list[tuple[str, str]]] = {}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is not None:
                sections.setdefault(self.groups.get(param.name or "", OTHER), []).append(record)
        for title in GROUP_ORDER:
            if title in sections:
                with formatter.section(title):
                    formatter.write_dl(sections[title])


def _param_names(decorator: Any) -> set[str]:
    """Names of the parameters a click option decorator adds."""
    def probe() -> None: ...

    return {p.name for p in getattr(decorator(probe), "__click_params__", []) if p.name}


def pattern_options(f: Any) -> Any:
    """The options every craft command shares (defined once, applied to beads/bricks/stitch)."""
    options = [
        click.option("--prompt", help="What to make, in words (uses a diffusion model)."),
        click.option("--image", type=click.Path(path_type=Path, dir_okay=False),
                     help="A photo or drawing to turn into a pattern."),
        click.option("--size", type=SIZE, default=None,
                     help="48: the longer side is 48 cells, the other follows the image; "
                          "48x or x60: the width or height; 64x48: both; lengths such as "
                          "30cmx20cm or 8inx10in; auto: pixel art's own grid."),
        click.option("--boards", metavar="AxD", default=None,
                     help="Size in boards: 2x2 = two pegboards/baseplates across, two down."),
        click.option("--fit", type=click.Choice(FITS), default=DEFAULT_FIT, show_default=True,
                     help="When both sides are given and the image's shape differs: pad keeps "
                          "all of it (empty cells around), crop cuts the middle, stretch "
                          "distorts."),
        click.option("--brand", help="Catalog to use."),
        click.option("--palette", "palette_file",
                     help="Your own colors: a code,name,hex[,price] CSV, a GIMP .gpl or a .hex "
                          "file (or a built-in catalog's name)."),
        click.option("--colors", type=click.IntRange(1, 500),
                     help=f"Use at most this many colors (a prompt alone: "
                          f"{DEFAULT_PROMPT_COLORS} unless given)."),
        click.option("--all-finishes", is_flag=True,
                     help="Also use transparent, neon, glow, pearl and metallic colors."),
        click.option("--exclude", "exclude", multiple=True, metavar="CODES",
                     help="Never use these colors (codes, comma separated)."),
        click.option("--only", metavar="CODES|FILE",
                     help="Use only these colors: codes, comma separated, or a file of codes."),
        click.option("--inventory", type=click.Path(path_type=Path, dir_okay=False),
                     help="A code,count[,price] CSV of what you own: used first; what it "
                          "lacks is bought (the shopping list says what)."),
        click.option("--only-owned", is_flag=True,
                     help="With --inventory: use nothing but what you own, at most that many "
                          "of each."),
        click.option("--prefer-cheap", is_flag=True,
                     help="Trade a little color accuracy for cheaper colors (needs prices)."),
        click.option("--budget", type=click.FloatRange(min=0, min_open=True), metavar="AMOUNT",
                     help="Keep the colors' cost at or under this (needs prices)."),
        click.option("--smooth", type=click.FloatRange(0, 100), default=None,
                     help="Clean-up strength: 1 is the default, 0 turns it off, higher gives "
                          "flatter regions."),
        click.option("--features", type=click.Choice(("on", "off")), default="on",
                     show_default=True,
                     help="Spare eyes, mouths and small details from the clean-up (faces "
                          "need the 'faces' extra)."),
        click.option("--dither", is_flag=True,
                     help="Classic Floyd-Steinberg dithering instead."),
        click.option("--engine", type=click.Choice(ENGINES), default="auto", show_default=True,
                     help="auto: a diffusion model when there is a prompt, else the photo engine."),
        click.option("--steps", type=click.IntRange(0, MAX_STEPS),
                     help="Score-distillation steps of the diffusion engine (default: the "
                          "--quality preset's: draft 0, fine 500, paper 6000)."),
        click.option("--clean-up", "clean_up", is_flag=True,
                     help="Diffusion engine: absorb stray cells of its result as the photo "
                          "engine does (strength --smooth)."),
        click.option("--restore", type=click.Choice(("auto", "on", "off")), default="auto",
                     show_default=True, help="Restore a poor photo first (Real-ESRGAN, the "
                     "'restore' extra); auto: before a diffusion model's control images."),
        click.option("--background",
                     help="Fill transparent areas with this color (a catalog code or #RRGGBB); "
                          "default none: no piece there."),
        click.option("--seed", type=click.IntRange(0, MAX_SEED), default=0, show_default=True,
                     help="Same seed, same pattern."),
        click.option("--out", type=click.Path(path_type=Path, file_okay=False),
                     help="Output folder (default: named after the prompt or image)."),
        click.option("--quiet", "-q", is_flag=True, help="No progress bar."),
        click.option("--force", is_flag=True,
                     help="Replace a pattern in --out that you edited (otherwise refused)."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _slug(text: str) -> str:
    """A folder name from free text: letters and digits of any script kept (``mój logo ✓`` →
    ``mój-logo``), everything else one ``-``; at most 40 characters, never empty."""
    import unicodedata

    text = unicodedata.normalize("NFC", text).lower()
    return re.sub(r"[\W_]+", "-", text).strip("-")[:40].strip("-") or "pattern"


def size_hint(medium_name: str) -> str:
    """The line for a craft command run without a size: only options that command has
    (--boards for beads and bricks, --size hoop with --hoop for cross-stitch)."""
    hint = "give --size (e.g. 48, 48x, 64x48, 30cmx20cm"
    if "hoop" not in NOT_FOR[medium_name]:
        hint += ", or hoop with --hoop 5x7"
    hint += ")"
    if "boards" not in NOT_FOR[medium_name]:
        hint += " or --boards (e.g. 2x2)"
    return hint


def request_from_options(medium_name: str, opts: dict[str, Any]) -> PatternRequest:
    """Turn a craft command's parsed options into a :class:`PatternRequest` (no other logic)."""
    from craftpix.engines.sds.cli_options import sds_settings
    from craftpix.export.options import export_settings

    sds = sds_settings(opts)  # plain values: building them imports nothing heavy
    export = export_settings(opts, pop=True)
    prompt, image = opts["prompt"], opts["image"]
    if not prompt and image is None:
        raise InputError("give --prompt TEXT, --image PATH, or both")
    size, boards = opts["size"], opts.get("boards")
    if size is None and boards is None:
        raise InputError(size_hint(medium_name))
    out = opts["out"]
    if out is None:
        label = size.text() if size is not None else f"{boards}boards"
        out = Path(f"{_slug(prompt or Path(image).stem)}-{medium_name}-{_slug(label)}")
    exclude = tuple(code for text in opts["exclude"] for code in text.split(",") if code.strip())
    return PatternRequest(
        medium=medium_name, size=size, boards=boards, image=image, prompt=prompt,
        brand=opts["brand"], palette=opts["palette_file"], colors=opts["colors"],
        all_finishes=opts["all_finishes"], fit=opts["fit"], engine=opts["engine"],
        steps=opts["steps"], smooth=opts["smooth"], dither=opts["dither"], seed=opts["seed"],
        background=opts["background"], restore=opts["restore"], clean_up=opts["clean_up"],
        features=opts.get("features", "on") != "off",
        export=export, sds=sds, out=out, quiet=opts["quiet"],
        exclude=tuple(c.strip() for c in exclude), only=opts["only"],
        inventory=opts["inventory"], prefer_cheap=opts["prefer_cheap"], budget=opts["budget"],
        force=opts.get("force", False),
        only_owned=opts["only_owned"],
    )


def make_pattern(medium_name: str, opts: dict[str, Any]) -> None:
    """The body of ``craftpix beads|bricks|stitch``: options → request → API → summary."""
    sizes = opts.pop("sizes", None)
    request = request_from_options(medium_name, opts)
    result = api.make_pattern(request)
    click.echo(result.summary)
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
    for path in result.files:
        click.echo(f"  wrote {path}")
    if sizes:
        from craftpix.resize_cli import echo_sizes

        echo_sizes(api.make_sizes(request, result, sizes))


def craft_help(cmd: click.Command, medium_name: str, stitch_default: str = "pes,dst") -> None:
    """Word ``--formats`` and ``--orders`` of ``cmd`` for one craft: only the files that craft
    writes (the shared texts of :mod:`craftpix.export.options` name every craft's);
    ``stitch_default`` is what cross-stitch writes without ``--formats``."""
    from craftpix.export.embroidery import FORMATS

    formats = {
        "stitch": f"Files to write, comma separated (or 'none'): embroidery {','.join(FORMATS)}, "
                  f"oxs (the chart for other cross-stitch software); default {stitch_default}.",
        "bricks": "Files to write (or 'none'): ldr, an LDraw model for Studio or LDCad "
                  "(default none).",
    }
    orders = ("Write shopping-list.csv, bricklink.xml, rebrickable.csv and "
              "lego-pick-a-brick.csv; default yes." if medium_name == "bricks"
              else "Write shopping-list.csv; default yes.")
    for param in cmd.params:
        if param.name == "formats" and medium_name in formats:
            param.help = formats[medium_name]  # type: ignore[attr-defined]
        elif param.name == "orders":
            param.help = orders  # type: ignore[attr-defined]


def _craft_command(medium: Medium) -> click.Command:
    from craftpix.engines.sds.cli_options import sds_options
    from craftpix.export.options import export_options
    from craftpix.resize_cli import sizes_option

    def command(**opts: Any) -> None:
        make_pattern(medium.name, opts)

    others = sorted({b for m in MEDIA.values() if m is not medium for b in m.brands}
                    - set(medium.brands))  # diamond painting shares dmc with cross-stitch
    command.__doc__ = (
        f"Make a {medium.title} pattern from --prompt and/or --image.\n\n"
        f"Catalogs: {', '.join(medium.brands)} (default {medium.default_brand}); "
        "'craftpix palettes show NAME' lists the colors. Another craft's catalog "
        f"({', '.join(others)}) only with --palette NAME."
    )
    groups = dict(GROUP_OF)
    groups.update(dict.fromkeys(_param_names(export_options) - set(groups), PRINTING))
    groups.update(dict.fromkeys(_param_names(sds_options) - set(groups), DIFFUSION))
    if medium.name == "bricks":
        groups["formats"] = PRINTING  # ldr: a model file, not a machine file
    cmd = click.command(medium.name, cls=CraftCommand, groups=groups)(
        pattern_options(sizes_option(export_options(sds_options(command)))))
    cmd.params = [p for p in cmd.params if p.name not in NOT_FOR[medium.name]]
    craft_help(cmd, medium.name)
    brand = next(p for p in cmd.params if p.name == "brand")
    brand.help = (f"Catalog: {', '.join(medium.brands)} (default {medium.default_brand}).")
    if medium.name == "stitch":
        size = next(p for p in cmd.params if p.name == "size")
        size.help = (f"{size.help} hoop: the largest design whose stitches fit --hoop "
                     "(transparent margins are not sewn and need no room).")
    return cmd


for _medium in MEDIA.values():
    main.add_command(_craft_command(_medium))


# --- changing a saved pattern -------------------------------------------------------------------
def _code_or_empty(text: str) -> str | None:
    code = text.strip()
    if not code:
        raise InputError("a color code is missing after '='")
    return None if code.lower() in ("empty", "none") else code


def _pair(text: str, option: str) -> tuple[str, str | None]:
    old, sep, new = text.partition("=")
    if not sep or not old.strip():
        raise InputError(f"{option} {text!r}: use OLD=NEW, e.g. 347=817")
    return old.strip(), _code_or_empty(new)


_BOARD_CELL = re.compile(
    r"\s*(?:board\s*|b)(\d+)\s*[,:]?\s*(?:row\s*)?(\d+)\s*,\s*(?:col(?:umn)?\s*)?(\d+)\s*=(.*)",
    re.IGNORECASE)


def _cell(text: str, option: str, pattern: Any = None,
          settings: Any = None) -> tuple[int, int, str | None]:
    """``ROW,COL=CODE`` (design rows and columns, the chart's black numbers) or ``board 2,
    row 5, column 7=CODE`` / ``B2:5,7=CODE`` (a board's own pegs, its grey numbers)."""
    board = _BOARD_CELL.fullmatch(text)
    if board and pattern is not None:
        b, row, col = (int(board.group(i)) for i in (1, 2, 3))
        if row < 1 or col < 1:
            raise InputError(f"{option} {text!r}: rows and columns count from 1")
        r, c = api.board_cell(pattern, b, row, col, settings)
        return r, c, _code_or_empty(board.group(4))
    m = re.fullmatch(r"\s*(\d+)\s*,\s*(\d+)\s*=(.*)", text)
    if not m:
        code = pattern.palette[0].code if pattern is not None and pattern.palette else "310"
        boards = pattern is None or bool(MEDIA[pattern.medium].sections)
        raise InputError(f"{option} {text!r}: use ROW,COL=CODE, counting from 1 as on the chart, "
                         f"e.g. 12,30={code}"
                         + (f" (or 'board 2, row 5, column 7={code}')" if boards else ""))
    row, col = int(m.group(1)), int(m.group(2))
    if row < 1 or col < 1:
        raise InputError(f"{option} {text!r}: rows and columns count from 1")
    return row - 1, col - 1, _code_or_empty(m.group(3))


def _report(pattern: Any, paths: list[Path], notes: list[str]) -> None:
    medium = MEDIA[pattern.medium].for_brand(pattern.brand)
    counts = pattern.counts()
    n = len(pattern.palette)
    click.echo(f"{pattern.width}×{pattern.height} {medium.title}, {n} "
               f"{pattern.brand} color{'' if n == 1 else 's'}, {medium.pieces(int(counts.sum()))}")
    for note in notes:
        click.echo(f"note: {note}", err=True)
    for path in paths:
        click.echo(f"  wrote {path}")


@main.command("edit")
@click.argument("pattern_file", metavar="PATTERN.json",
                type=click.Path(dir_okay=False, path_type=Path))
@click.option("--replace", "replacements", multiple=True, metavar="OLD=NEW",
              help="Give every cell of color OLD the color NEW (NEW 'empty' leaves them empty).")
@click.option("--exclude", multiple=True, metavar="CODES",
              help="Drop colors: their cells take the nearest remaining color.")
@click.option("--set", "set_cells", multiple=True, metavar="ROW,COL=CODE",
              help="Color one cell; rows and columns count from 1, as the chart's numbers "
                   "(on boards also 'board 2, row 5, column 7=CODE': that board's own pegs).")
@click.option("--fill", "fills", multiple=True, metavar="ROW,COL=CODE",
              help="Flood fill: the same-colored area around that cell becomes CODE.")
@click.option("--clean", "clean_size", type=click.IntRange(min=1), is_flag=False,
              flag_value=1, default=None, metavar="[N]",
              help="Absorb stray cells: areas of at most N cells (default 1) take the "
                   "color around them.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Write the edited pattern and its files here (default: in place).")
@click.option("--quiet", "-q", is_flag=True,
              help="No progress bar (as the other commands; an edit shows none).")
def edit_command(pattern_file: Path, replacements: tuple[str, ...], exclude: tuple[str, ...],
                 set_cells: tuple[str, ...], fills: tuple[str, ...], clean_size: int | None,
                 out_dir: Path | None, quiet: bool) -> None:
    """Change a saved pattern: swap, drop or paint colors, flood fill, clean up.

    Edits run in this order: --replace, --exclude, --set, --fill, --clean. The pattern is
    saved and its PDF, previews and machine files are written again with its own settings.
    """
    pattern = api.load(pattern_file)
    settings = api.stored_settings(pattern)
    edits = EditRequest(
        replace=dict(_pair(t, "--replace") for t in replacements),
        exclude=tuple(c.strip() for t in exclude for c in t.split(",") if c.strip()),
        set_cells=tuple(_cell(t, "--set", pattern, settings) for t in set_cells),
        fill=tuple(_cell(t, "--fill", pattern, settings) for t in fills),
        clean=clean_size or 0,
    )
    edited = api.apply_edits(pattern, edits)
    target = (out_dir / pattern_file.name) if out_dir is not None else pattern_file
    result = api.write_edited(edited, target, settings, like=pattern_file.parent)
    _report(edited, result.paths, result.notes)


@main.command("convert")
@click.argument("pattern_file", metavar="PATTERN.json",
                type=click.Path(dir_okay=False, path_type=Path))
@click.option("--brand", help="The catalog to convert to (same craft), e.g. hama.")
@click.option("--palette", "palette_file", help="Or your own palette file (or any catalog's name).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Output folder (default: next to the pattern's folder, named after the "
                   "catalog).")
def convert_command(pattern_file: Path, brand: str | None, palette_file: str | None,
                    out_dir: Path | None) -> None:
    """Re-map a saved pattern to another catalog, one color per color, and write its files."""
    pattern = api.load(pattern_file)
    converted = api.convert_pattern(pattern, brand, palette_file)
    settings = api.stored_settings(converted)
    if out_dir is None:  # owl/pattern.json → owl-hama/; ./owl.json → owl-hama/
        folder = pattern_file.parent  # as given, so the paths print as the user wrote them
        if folder.resolve() == Path.cwd().resolve():
            out_dir = Path(f"{_slug(pattern_file.stem)}-{_slug(converted.brand)}")
        else:
            if folder.name in ("", ".", ".."):  # e.g. ../pattern.json: the folder's real name
                folder = folder.resolve()
            out_dir = folder.with_name(f"{folder.name}-{_slug(converted.brand)}")
    result = api.write_edited(converted, out_dir / pattern_file.name, settings,
                                like=pattern_file.parent)
    _report(converted, result.paths, result.notes)
    click.echo(f"mean color change ΔE00 {converted.meta['convert_delta_e00_mean']:.2f}")


def _import_command() -> click.Command:
    from craftpix.export.options import export_options, export_settings

    def command(chart_file: Path, brand: str | None, out_dir: Path | None,
                **options: Any) -> None:
        """Read a chart saved by other cross-stitch software (an OXS file) as a pattern.

        Colors become the catalog's (DMC): by code where the file names one, else the nearest
        color. The pattern and its files (PDF, previews and the chart as OXS again; machine
        files only with --formats, e.g. --formats oxs,pes) are written to --out; edit,
        convert, resize and export then work on its pattern.json. What the file holds that craftpix cannot chart (part stitches,
        knots, beads, other programs' backstitch) is said in the notes.
        """
        out = out_dir if out_dir is not None else Path(f"{_slug(chart_file.stem)}-stitch")
        result = api.import_pattern(chart_file, out, brand=brand,
                                    export=export_settings(options))
        click.echo(result.summary)
        for note in result.notes:
            click.echo(f"note: {note}", err=True)
        for path in result.files:
            click.echo(f"  wrote {path}")

    cmd = click.command("import")(
        click.argument("chart_file", metavar="FILE.oxs",
                       type=click.Path(dir_okay=False, path_type=Path))(
            click.option("--brand", help="Catalog to map the colors to (default dmc).")(
                click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
                             help="Output folder (default: named after the file).")(
                    export_options(command)))))
    cmd.params = [p for p in cmd.params if p.name not in NOT_FOR["stitch"]]
    craft_help(cmd, "stitch", "oxs")
    return cmd


main.add_command(_import_command())


def _register_subcommands() -> None:
    from craftpix.batch.cli import batch_command
    from craftpix.export.cli import export_command
    from craftpix.models import models_group
    from craftpix.resize_cli import resize_command

    main.add_command(export_command, "export")
    main.add_command(resize_command, "resize")
    main.add_command(models_group, "models")
    main.add_command(batch_command, "batch")


_register_subcommands()


def _register_serve() -> None:
    from craftpix.web.serve import serve_command

    main.add_command(serve_command, "serve")


_register_serve()
