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
    PatternRequest,
)
from craftpix.clibase import OneLineGroup
from craftpix.errors import InputError
from craftpix.media import MEDIA, Medium
from craftpix.palette import available_palettes, load_palette


# --- parameter types --------------------------------------------------------------------------
class SizeType(click.ParamType):
    """``N`` (a square) or ``WxH`` in cells."""

    name = "N|WxH"

    def convert(self, value: Any, param: Any, ctx: Any) -> tuple[int, int]:
        if isinstance(value, tuple):
            return value
        text = str(value).strip().lower()
        m = re.fullmatch(r"(-?\d+)(?:\s*[x×*]\s*(-?\d+))?", text)
        if not m:
            self.fail(f"{value!r} is not a size; use N (square) or WxH, e.g. 48 or 64x48", param, ctx)
        w = int(m.group(1))
        h = int(m.group(2)) if m.group(2) else w
        for side in (w, h):
            if not MIN_SIDE <= side <= MAX_SIDE:
                self.fail(f"{value!r} is out of range: each side must be {MIN_SIDE} to {MAX_SIDE} cells",
                          param, ctx)
        return w, h


SIZE = SizeType()


@click.group(cls=OneLineGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="craftpix")
def main() -> None:
    """Turn a prompt or a photo into a bead, brick or cross-stitch pattern in real catalog colors."""


# --- palettes ---------------------------------------------------------------------------------
@main.group()
def palettes() -> None:
    """List and inspect the color catalogs."""


@palettes.command("list")
def palettes_list() -> None:
    """Show every built-in catalog: name, product line, number of colors."""
    rows = [(n, load_palette(n)) for n in available_palettes()]
    width = max((len(n) for n, _ in rows), default=4)
    for name, pal in rows:
        click.echo(f"{name:<{width}}  {pal.title:<42}  {len(pal):>4} colors")


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


# --- the three crafts -------------------------------------------------------------------------
def pattern_options(f: Any) -> Any:
    """The options every craft command shares (defined once, applied to beads/bricks/stitch)."""
    options = [
        click.option("--prompt", help="What to make, in words (uses a diffusion model)."),
        click.option("--image", type=click.Path(path_type=Path, dir_okay=False),
                     help="A photo or drawing to turn into a pattern."),
        click.option("--size", type=SIZE, required=True,
                     help="Pattern size in cells: N for a square, or WxH (e.g. 48 or 64x48)."),
        click.option("--fit", type=click.Choice(FITS), default="crop",
                     show_default=True, help="How to match the image to the pattern's shape."),
        click.option("--brand", help="Catalog to use (see 'craftpix palettes list')."),
        click.option("--palette", "palette_file", type=click.Path(path_type=Path, dir_okay=False),
                     help="Your own palette: a code,name,hex CSV, a GIMP .gpl or a .hex file."),
        click.option("--colors", type=click.IntRange(1, 500),
                     help=f"Use at most this many colors (a prompt alone: "
                          f"{DEFAULT_PROMPT_COLORS} unless given)."),
        click.option("--all-finishes", is_flag=True,
                     help="Also use transparent, neon, glow, pearl and metallic colors."),
        click.option("--engine", type=click.Choice(ENGINES), default="auto", show_default=True,
                     help="auto: a diffusion model when there is a prompt, else the photo engine."),
        click.option("--steps", type=click.IntRange(0, MAX_STEPS),
                     help="Optimization steps of the diffusion engine (default 6000)."),
        click.option("--smooth", type=click.FloatRange(0, 100), default=None,
                     help="Clean-up strength: 1 is the default, 0 turns it off, higher gives flatter regions."),
        click.option("--dither", is_flag=True,
                     help="Classic Floyd-Steinberg dithering instead."),
        click.option("--restore", type=click.Choice(("auto", "on", "off")), default="auto",
                     show_default=True, help="Restore a poor photo first (Real-ESRGAN, the 'restore' "
                     "extra); auto: before a diffusion model's control images."),
        click.option("--background",
                     help="Fill transparent areas with this color (a catalog code or #RRGGBB); "
                          "default none: no piece there."),
        click.option("--seed", type=click.IntRange(0, MAX_SEED), default=0, show_default=True,
                     help="Same seed, same pattern."),
        click.option("--out", type=click.Path(path_type=Path, file_okay=False),
                     help="Output folder (default: named after the prompt or image)."),
        click.option("--quiet", "-q", is_flag=True, help="No progress bar."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "pattern"


def request_from_options(medium_name: str, opts: dict[str, Any]) -> PatternRequest:
    """Turn a craft command's parsed options into a :class:`PatternRequest` (no other logic)."""
    from craftpix.export.options import export_settings
    from craftpix.guidance.options import sds_settings

    # The diffusion settings' defaults import torch: build them only for the diffusion engine.
    wants_sds = opts["engine"] == "sds" or (opts["engine"] == "auto" and bool(opts["prompt"]))
    sds = sds_settings(opts) if wants_sds else None
    export = export_settings(opts, pop=True)
    width, height = opts["size"]
    prompt, image = opts["prompt"], opts["image"]
    if not prompt and image is None:
        raise InputError("give --prompt TEXT, --image PATH, or both")
    out = opts["out"]
    if out is None:
        out = Path(f"{_slug(prompt or Path(image).stem)}-{medium_name}-{width}x{height}")
    return PatternRequest(
        medium=medium_name, size=(width, height), image=image, prompt=prompt,
        brand=opts["brand"], palette=opts["palette_file"], colors=opts["colors"],
        all_finishes=opts["all_finishes"], fit=opts["fit"], engine=opts["engine"],
        steps=opts["steps"], smooth=opts["smooth"], dither=opts["dither"], seed=opts["seed"],
        background=opts["background"], restore=opts["restore"],
        export=export, sds=sds, out=out, quiet=opts["quiet"],
    )


def make_pattern(medium_name: str, opts: dict[str, Any]) -> None:
    """The body of ``craftpix beads|bricks|stitch``: options → request → API → summary."""
    sizes = opts.pop("sizes", None)
    request = request_from_options(medium_name, opts)
    result = api.make_pattern(request)
    click.echo(result.summary)
    for path in result.files:
        click.echo(f"  wrote {path}")
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
    if sizes:
        from craftpix.resize_cli import echo_sizes

        echo_sizes(api.make_sizes(request, result, sizes))


def _craft_command(medium: Medium) -> click.Command:
    from craftpix.export.options import export_options
    from craftpix.guidance.options import sds_options
    from craftpix.resize_cli import sizes_option

    def command(**opts: Any) -> None:
        make_pattern(medium.name, opts)

    command.__doc__ = (
        f"Make a {medium.title} pattern from --prompt and/or --image "
        f"(catalogs: {', '.join(medium.brands)}; default {medium.default_brand})."
    )
    # Listed in --help in this order: what to make, what to print, then the model settings.
    return click.command(medium.name)(pattern_options(sizes_option(export_options(sds_options(command)))))


for _medium in MEDIA.values():
    main.add_command(_craft_command(_medium))


def _register_subcommands() -> None:
    from craftpix.export.cli import export_command
    from craftpix.models import models_group
    from craftpix.resize_cli import resize_command

    main.add_command(export_command, "export")
    main.add_command(resize_command, "resize")
    main.add_command(models_group, "models")


_register_subcommands()
