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
    """Write the PDF, previews and embroidery files of a saved pattern.json."""
    from craftpix.export import export_pattern
    from craftpix.pattern import Pattern

    pattern = Pattern.load(pattern_file)
    kwargs = export_settings(options)
    # export_pattern checks the options, then creates and checks the folder
    result = export_pattern(pattern, out_dir if out_dir is not None else pattern_file.parent,
                            **kwargs)
    if result.merged is not None:
        m = result.merged
        click.echo(f"merged plates: {m.pieces_before} pieces -> {m.pieces_after} "
                   f"({m.reduction:.0%} fewer)")
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
    for path in result.paths:
        click.echo(f"wrote {path}")
