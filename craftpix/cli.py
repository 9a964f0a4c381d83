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
import time
from pathlib import Path
from typing import Any

import click
import numpy as np

from craftpix import __version__
from craftpix.clibase import OneLineGroup
from craftpix.errors import InputError
from craftpix.fileio import ensure_out_dir
from craftpix.media import BRICK_PARTS, MEDIA, Medium, get_medium
from craftpix.palette import Palette, available_palettes, load_palette

MIN_SIDE, MAX_SIDE = 2, 500


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
ENGINES = ("auto", "fidelity", "sds")
DEFAULT_STEPS = {"fidelity": 150, "sds": 6000}
# A prompt alone keeps this many colors unless --colors says otherwise: score distillation
# over a whole catalog gives patterns of dozens of barely different colors.
DEFAULT_PROMPT_COLORS = 16
SDS_FFT_WEIGHT = 20.0  # SD-πXL's FFT weight, which --smooth 1 stands for


def pattern_options(f: Any) -> Any:
    """The options every craft command shares (defined once, applied to beads/bricks/stitch)."""
    options = [
        click.option("--prompt", help="What to make, in words (uses a diffusion model)."),
        click.option("--image", type=click.Path(path_type=Path, dir_okay=False),
                     help="A photo or drawing to turn into a pattern."),
        click.option("--size", type=SIZE, required=True,
                     help="Pattern size in cells: N for a square, or WxH (e.g. 48 or 64x48)."),
        click.option("--fit", type=click.Choice(["crop", "pad", "stretch"]), default="crop",
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
                     help="auto: a diffusion model when there is a prompt, else fit the image."),
        click.option("--steps", type=click.IntRange(0, 100_000),
                     help="Optimization steps (default: 150 for images, 6000 for prompts)."),
        click.option("--smooth", type=click.FloatRange(0), default=None,
                     help="Clean-up strength: 1 is the default, 0 turns it off, higher gives flatter regions."),
        click.option("--dither", is_flag=True,
                     help="Classic Floyd-Steinberg dithering instead of optimization."),
        click.option("--seed", type=int, default=0, show_default=True,
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


STANDARD_FINISHES = ("standard", "solid")


def _resolve_palette(
    medium: Medium, brand: str | None, palette_file: Path | None, all_finishes: bool,
    part: str | None = None,
) -> tuple[Palette, str, list[str]]:
    """The catalog a run may use, and notes for the user about what was left out."""
    if palette_file is not None:
        pal = load_palette(palette_file)
        return pal, pal.name, []
    name = (brand or medium.default_brand).lower()
    pal = load_palette(name)
    notes: list[str] = []
    if "finish" in pal.columns and not all_finishes:
        # Transparent, glow, neon, pearl and metallic pieces do not look like their swatch
        # once placed (transparent plates go dark on a baseplate): plain colors by default.
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


def make_pattern(medium_name: str, opts: dict[str, Any]) -> None:
    """The body of ``craftpix beads|bricks|stitch``: inputs → engine → Pattern → exports."""
    from craftpix.engines.sds.cli_options import sds_settings
    from craftpix.export import export_pattern
    from craftpix.export.options import export_settings
    from craftpix.imageio import reference_grid
    from craftpix.metrics import isolated_cell_rate, mean_delta_e
    from craftpix.pattern import pattern_from_indices

    medium = get_medium(medium_name)
    sds = sds_settings(opts)
    export_kwargs = export_settings(opts, medium=medium_name)
    prompt, image_path = opts["prompt"], opts["image"]
    width, height = opts["size"]
    if not prompt and image_path is None:
        raise InputError("give --prompt TEXT, --image PATH, or both")
    engine = opts["engine"]
    if engine == "auto":
        engine = "sds" if prompt else "fidelity"
    if engine == "fidelity" and image_path is None:
        raise InputError("the fidelity engine needs --image (use --engine sds for a prompt alone)")
    if opts["dither"] and image_path is None:
        raise InputError("--dither needs --image")

    palette, brand, notes = _resolve_palette(
        medium, opts["brand"], opts["palette_file"], opts["all_finishes"],
        export_kwargs.get("part") if medium_name == "bricks" else None)
    fitted, reference = None, None
    if image_path is not None:
        fitted, reference = reference_grid(image_path, width, height, opts["fit"])
    colors = opts["colors"]
    if colors is not None and colors < len(palette) and reference is not None:
        palette = palette.select(reference, colors, seed=opts["seed"])

    out = ensure_out_dir(opts["out"] or Path(
        f"{_slug(prompt or Path(image_path).stem)}-{medium_name}-{width}x{height}"))
    steps = opts["steps"] if opts["steps"] is not None else DEFAULT_STEPS[engine]
    if opts["dither"]:
        engine, steps = "dither", 0
    t0 = time.perf_counter()
    indices, entropy = _run_engine(
        engine, opts, sds, palette=palette, reference=reference, fitted=fitted, steps=steps,
        size=(width, height), colors=colors, medium=medium_name, out=out)
    seconds = time.perf_counter() - t0

    meta: dict[str, Any] = {"engine": engine, "steps": steps, "seed": opts["seed"],
                            "craftpix": __version__, "seconds": round(seconds, 2)}
    if prompt:
        meta["prompt"] = prompt
    if image_path is not None:
        meta["image"] = Path(image_path).name
        meta["delta_e00_mean"] = round(mean_delta_e(indices, palette.rgb, reference), 3)
    meta["isolated_cells"] = round(isolated_cell_rate(indices), 4)
    if entropy is not None:  # how decided the cells were: near 0 is a crisp result
        meta["entropy"] = round(entropy, 4)
    pattern = pattern_from_indices(indices, palette.codes, palette.names, palette.hexes,
                                   medium_name, brand, meta)
    written = [pattern.save(out / "pattern.json")]
    exported = export_pattern(pattern, out, **export_kwargs)
    written += exported.paths
    summary = (f"{width}×{height} {medium.title}, {len(pattern.palette)} {brand} colors, "
               f"{width * height} {medium.piece}{'es' if medium.piece.endswith('ch') else 's'}, {meta['isolated_cells']:.1%} isolated cells")
    if "delta_e00_mean" in meta:
        summary += f", mean ΔE00 {meta['delta_e00_mean']:.2f}"
    if exported.merged is not None:
        m = exported.merged
        summary += f", {m.pieces_after} pieces after merging ({m.pieces_before} plates 1×1)"
    click.echo(f"{summary}, {seconds:.1f} s")
    for path in written:
        click.echo(f"  wrote {path}")
    for note in notes + exported.notes:
        click.echo(f"note: {note}", err=True)


def _run_engine(
    engine: str, opts: dict[str, Any], sds: Any, *, palette: Palette,
    reference: np.ndarray | None, fitted: Any, steps: int, size: tuple[int, int],
    colors: int | None, medium: str, out: Path,
) -> tuple[np.ndarray, float | None]:
    """Cell indices into ``palette`` from the chosen engine, and the final mean entropy."""
    smooth = 1.0 if opts["smooth"] is None else opts["smooth"]
    if engine == "dither":
        from craftpix.dither import floyd_steinberg

        return floyd_steinberg(reference, palette.rgb), None
    if engine == "fidelity":
        from craftpix.guidance.fidelity import run_fidelity

        result = run_fidelity(reference, palette.rgb, steps=steps, seed=opts["seed"],
                              smooth=smooth, quiet=opts["quiet"])
    else:
        from craftpix.engines.sds.run import run_sds

        # Without a photo the color budget is met by pruning during the run.
        budget = None
        if reference is None:
            wanted = DEFAULT_PROMPT_COLORS if colors is None else colors
            budget = wanted if wanted < len(palette) else None
        result = run_sds(sds, prompt=opts["prompt"], image=fitted, reference_rgb=reference,
                         palette_rgb=palette.rgb, height=size[1], width=size[0], colors=budget,
                         medium=medium, steps=steps, seed=opts["seed"],
                         smooth=SDS_FFT_WEIGHT * smooth, out_dir=out, quiet=opts["quiet"])
    return result.indices, result.entropy


def _craft_command(medium: Medium) -> click.Command:
    from craftpix.engines.sds.cli_options import sds_options
    from craftpix.export.options import export_options

    def command(**opts: Any) -> None:
        make_pattern(medium.name, opts)

    command.__doc__ = (
        f"Make a {medium.title} pattern from --prompt and/or --image "
        f"(catalogs: {', '.join(medium.brands)}; default {medium.default_brand})."
    )
    # Listed in --help in this order: what to make, what to print, then the model settings.
    return click.command(medium.name)(pattern_options(export_options(sds_options(command))))


for _medium in MEDIA.values():
    main.add_command(_craft_command(_medium))


def _register_subcommands() -> None:
    from craftpix.export.cli import export_command
    from craftpix.models import models_group

    main.add_command(export_command, "export")
    main.add_command(models_group, "models")


_register_subcommands()
