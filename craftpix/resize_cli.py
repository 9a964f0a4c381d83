"""``craftpix resize PATTERN.json --size N`` and the craft commands' ``--sizes 32,48,64``.

A thin layer over :func:`craftpix.api.resize` and :func:`craftpix.api.make_sizes`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import click

from craftpix.api import FITS, MAX_SIDE, MAX_STEPS, MIN_SIDE
from craftpix.clibase import OneLineCommand
from craftpix.export.options import export_options, export_settings


def parse_size(text: str) -> int | tuple[int, int]:
    """``N`` (the longer side; the other keeps the proportions) or ``WxH`` in cells.

    Raises ValueError with a one-line message for anything else or a side out of range.
    """
    m = re.fullmatch(r"\s*(\d+)(?:\s*[x×*]\s*(\d+))?\s*", str(text).lower())
    if not m:
        raise ValueError(f"{text!r} is not a size; use N or WxH, e.g. 48 or 64x48")
    sides = [int(g) for g in m.groups() if g is not None]
    for side in sides:
        if not MIN_SIDE <= side <= MAX_SIDE:
            raise ValueError(f"{text!r} is out of range: each side must be {MIN_SIDE} to "
                             f"{MAX_SIDE} cells")
    return sides[0] if len(sides) == 1 else (sides[0], sides[1])


class ResizeSize(click.ParamType):
    """One size: ``N`` or ``WxH``."""

    name = "N|WxH"

    def convert(self, value: Any, param: Any, ctx: Any) -> int | tuple[int, int]:
        if isinstance(value, int | tuple):
            return value
        try:
            return parse_size(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


class SizeList(click.ParamType):
    """Comma-separated sizes, e.g. ``32,48,64`` or ``32,64x48``."""

    name = "N,N,..."

    def convert(self, value: Any, param: Any, ctx: Any) -> list[int | tuple[int, int]]:
        if isinstance(value, list):
            return value
        parts = [p for p in str(value).split(",") if p.strip()]
        if not parts:
            self.fail("give at least one size, e.g. 32,48,64", param, ctx)
        try:
            return [parse_size(p) for p in parts]
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def sizes_option(f: Any) -> Any:
    """``--sizes`` for the craft commands."""
    return click.option(
        "--sizes", type=SizeList(), default=None,
        help="Also make the design at these sizes (e.g. 32,48,64), keeping it: each goes to "
             "OUT/WxH/ (see 'craftpix resize').")(f)


def echo_sizes(results: list[Any]) -> None:
    """Print what :func:`craftpix.api.make_sizes` made."""
    for res in results:
        click.echo(res.summary)
        for path in res.files:
            click.echo(f"  wrote {path}")
        for note in res.notes:
            click.echo(f"note: {note}", err=True)


@click.command("resize", cls=OneLineCommand)
@click.argument("pattern_file", metavar="PATTERN.json",
                type=click.Path(dir_okay=False, path_type=Path))
@click.option("--size", type=ResizeSize(), required=True,
              help="New size: N for the longer side (proportions kept) or WxH.")
@click.option("--image", type=click.Path(dir_okay=False, path_type=Path),
              help="The photo the pattern was made from: re-fit it at the new size.")
@click.option("--fit", type=click.Choice(FITS), default="crop", show_default=True,
              help="How the photo was matched to the pattern's shape.")
@click.option("--smooth", type=click.FloatRange(0, 100), default=None,
              help="Clean-up strength (photo patterns): 1 is the default, 0 turns it off.")
@click.option("--steps", type=click.IntRange(0, MAX_STEPS), default=None,
              help="Diffusion patterns: steps to continue at the new size (default 300).")
@export_options
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output folder (default: WxH/ next to the pattern file).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def resize_command(pattern_file: Path, size: int | tuple[int, int], image: Path | None, fit: str,
                   smooth: float | None, steps: int | None, out_dir: Path | None, quiet: bool,
                   **options: Any) -> None:
    """Make a saved pattern.json at another size, keeping its design and colors."""
    from craftpix import api

    pattern = api.load(pattern_file)
    kwargs = export_settings(options)
    notes: list[str] = []
    if out_dir is None:
        from craftpix.resize import target_size

        w, h = target_size((pattern.width, pattern.height), size)
        out_dir = pattern_file.parent / f"{w}x{h}"
    new = api.resize(pattern, size, image, run_dir=pattern_file.parent, fit=fit, smooth=smooth,
                     steps=steps, out=out_dir, quiet=quiet, notes=notes)
    result = api.export(new, out_dir, **kwargs)
    click.echo(f"{new.width}×{new.height}, {len(new.palette)} colors "
               f"(from {pattern.width}×{pattern.height}, {new.meta['resized']['method']})")
    for path in result.paths:  # pattern.json among them, with the export settings used
        click.echo(f"  wrote {path}")
    for note in notes + list(result.notes):
        click.echo(f"note: {note}", err=True)
