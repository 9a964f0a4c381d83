"""``craftpix export PATTERN.json [export options] [--out DIR]``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from craftpix.clibase import OneLineCommand
from craftpix.errors import printable
from craftpix.export.options import export_options, export_settings


@click.command("export", cls=OneLineCommand)
@click.argument("pattern_file", metavar="PATTERN.json",
                type=click.Path(dir_okay=False, path_type=Path))
@export_options
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output folder (default: the pattern file's folder).")
def export_command(pattern_file: Path, out_dir: Path | None, **options: Any) -> None:
    """Write the PDF, previews and embroidery files of a saved pattern.json.

    The files are written as one set: into the pattern's own folder, every file of
    craftpix's there that this run does not rewrite (other machine formats, the PDF after
    --no-pdf) is kept, and said so; a later edit rewrites them too. Into another folder, the
    files of an earlier run there that this one does not write are removed, and said so.
    """
    from craftpix.export import export_pattern, sewn_size, validate_options
    from craftpix.fileio import OutputSet, read_manifest, settle
    from craftpix.pattern import Pattern

    settle(pattern_file.parent)  # never read half of an interrupted publish
    pattern = Pattern.load(pattern_file)
    kwargs = export_settings(options)
    validate_options(pattern.medium, sewn_size(pattern), **kwargs,
                     brand=pattern.brand)  # before any file
    out = out_dir if out_dir is not None else pattern_file.parent
    with OutputSet(out) as outputs:
        result = export_pattern(pattern, outputs.staging, **kwargs)
        kept: list[str] = []
        written = {Path(p).name for p in result.paths}
        earlier = [n for n in sorted(read_manifest(outputs.out)) if n not in written]
        if pattern_file.resolve().parent == outputs.out.resolve():
            outputs.keep(pattern_file.name)
            kept = [n for n in outputs.keep_unchanged() if n not in written
                    and n != pattern_file.name]
        result.paths = [outputs.final(p) for p in result.paths]
        outputs.publish()
    if kept:
        result.notes.append(f"kept {', '.join(kept)} from before (not rewritten by this export)")
    gone = [n for n in earlier if not (outputs.out / n).exists()]
    if gone:
        result.notes.append(f"removed {', '.join(gone)} from an earlier run in "
                            f"{printable(outputs.out)} (not written by this export)")
    result.notes += outputs.notes
    if result.merged is not None:
        m = result.merged
        click.echo(f"merged plates: {m.pieces_before} pieces -> {m.pieces_after} "
                   f"({m.reduction:.0%} fewer)")
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
    for path in result.paths:
        click.echo(f"  wrote {path}")
