"""``craftpix export PATTERN.json [export options] [--out DIR]``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from craftpix.errors import CraftpixError
from craftpix.export.options import export_options, export_settings


class OneLineCommand(click.Command):
    """Reports usage errors and user errors as one line with exit status 2 when run alone.

    Inside the ``craftpix`` group the group does the same; this keeps the command well
    behaved when it is invoked directly (tests, other entry points).
    """

    def main(self, args: Any = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True,
             **extra: Any) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            rv = super().main(args, prog_name or "craftpix export", complete_var,
                              standalone_mode=False, **extra)
        except click.UsageError as exc:
            click.echo(f"craftpix: error: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            click.echo(f"craftpix: error: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("craftpix: aborted", err=True)
            sys.exit(1)
        except CraftpixError as exc:
            click.echo(f"craftpix: {exc}", err=True)
            sys.exit(exc.exit_code)
        sys.exit(rv if isinstance(rv, int) else 0)


@click.command("export", cls=OneLineCommand)
@click.argument("pattern_file", metavar="PATTERN.json",
                type=click.Path(dir_okay=False, path_type=Path))
@export_options
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output folder (default: the pattern file's folder).")
def export_command(pattern_file: Path, out_dir: Path | None, **options: Any) -> None:
    """Write the PDF, previews and embroidery files of a saved pattern.json."""
    from craftpix.export import export_pattern
    from craftpix.fileio import ensure_out_dir
    from craftpix.pattern import Pattern

    pattern = Pattern.load(pattern_file)
    kwargs = export_settings(options)
    out = ensure_out_dir(out_dir if out_dir is not None else pattern_file.parent)
    result = export_pattern(pattern, out, **kwargs)
    if result.merged is not None:
        m = result.merged
        click.echo(f"merged plates: {m.pieces_before} pieces -> {m.pieces_after} "
                   f"({m.reduction:.0%} fewer)")
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
    for path in result.paths:
        click.echo(f"wrote {path}")
