"""What every craftpix command shares: user errors end as one plain line, exit status 2."""

from __future__ import annotations

import sys
from typing import Any

import click

from craftpix.errors import CraftpixError


class OneLineErrors:
    """Mixin for click commands and groups: no usage dump, no traceback for user errors.

    Inside a group only the outermost command reports (nested calls run with
    ``standalone_mode=False`` and let errors rise to it).
    """

    def main(self, args: Any = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True,
             **extra: Any) -> Any:
        run = super().main  # type: ignore[misc]
        if not standalone_mode:
            return run(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            rv = run(args, prog_name or "craftpix", complete_var, standalone_mode=False, **extra)
        except click.UsageError as exc:
            hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
            click.echo(f"craftpix: error: {exc.format_message()}{hint}", err=True)
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


class OneLineGroup(OneLineErrors, click.Group):
    """A click group that reports user errors as one line."""


class OneLineCommand(OneLineErrors, click.Command):
    """A click command that reports user errors as one line, also when run on its own."""
