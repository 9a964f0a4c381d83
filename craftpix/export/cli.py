"""``craftpix export PATTERN.json [export options] [--out DIR]``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from craftpix.clibase import OneLineCommand
from craftpix.export.options import export_options, export_settings


@click.command("export", cls=OneLineCommand)
@click.argument("pattern_file", metavar="PATTERN.json",
                type=click.Path(dir_okay=False, path_type=Path))
@export_options
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output folder (default: the pattern file's folder).")
def export_command(pattern_file: Path, out_dir: Path | None, **options: Any) -> None:
    """Write the PDF, previews and embroidery files of a saved pattern.json.

    The files are published as one output set (see :class:`craftpix.fileio.OutputSet`):
    exports of an earlier run that this one does not write are removed, a pattern.json of
    craftpix's in the folder that these exports were made from stays part of the set.
    """
    from craftpix.export import export_pattern, validate_options
    from craftpix.fileio import OutputSet
    from craftpix.pattern import Pattern

    pattern = Pattern.load(pattern_file)
    kwargs = export_settings(options)
    validate_options(pattern.medium, (pattern.width, pattern.height), **kwargs,
                     brand=pattern.brand)  # before any file
    out = out_dir if out_dir is not None else pattern_file.parent
    with OutputSet(out) as outputs:
        result = export_pattern(pattern, outputs.staging, **kwargs)
        if pattern_file.resolve().parent == outputs.out.resolve():
            outputs.keep(pattern_file.name)
        result.paths = [outputs.final(p) for p in result.paths]
        outputs.publish()
    result.notes += outputs.notes
    if result.merged is not None:
        m = result.merged
        click.echo(f"merged plates: {m.pieces_before} pieces -> {m.pieces_after} "
                   f"({m.reduction:.0%} fewer)")
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
    for path in result.paths:
        click.echo(f"  wrote {path}")
