"""What every craftpix command shares: user errors end as one plain line, exit status 2.

* :class:`craftpix.errors.CraftpixError` → ``craftpix: <message>``, its ``exit_code`` (2).
* Any ``OSError`` (a full disk, a folder where a file should go, a missing folder) → one
  line naming the path, exit 2.
* SIGINT (Ctrl-C) and SIGTERM → ``craftpix: interrupted (SIGINT); <what happened to the
  output>``, exit 130 in every phase of a run. SIGTERM is raised as :class:`Terminated`, a
  ``KeyboardInterrupt``, so that everything that cleans up after Ctrl-C (the output set's
  staging folder, the diffusion engine's checkpoint) also runs for ``kill``.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any

import click

from craftpix.errors import CraftpixError, printable
from craftpix.fileio import describe_os_error

#: exit status after SIGINT or SIGTERM (128 + SIGINT, the shell's convention for Ctrl-C)
EXIT_INTERRUPTED = 130


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like Ctrl-C."""


class _Stopped(BaseException):
    """An interruption on its way out of click (which would turn it into ``Abort``)."""


def _terminate(signum: int, frame: Any) -> None:
    del signum, frame
    raise Terminated()


@contextlib.contextmanager
def interrupt_signals() -> Iterator[None]:
    """SIGINT raises ``KeyboardInterrupt`` and SIGTERM raises :class:`Terminated` inside."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signal.SIGINT: signal.signal(signal.SIGINT, signal.default_int_handler),
                signal.SIGTERM: signal.signal(signal.SIGTERM, _terminate)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def interrupt_message(exc: BaseException) -> str:
    """The one line for an interruption, with what happened to the output folder."""
    name = "SIGTERM" if isinstance(exc, Terminated) else "SIGINT"
    note = getattr(exc, "craftpix_note", None)
    return f"interrupted ({name}); {note}" if note else f"interrupted ({name})"


class OneLineErrors:
    """Mixin for click commands and groups: no usage dump, no traceback for user errors.

    Inside a group only the outermost command reports (nested calls run with
    ``standalone_mode=False`` and let errors rise to it).
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)  # type: ignore[misc]
        except KeyboardInterrupt as exc:  # click would print a blank line and exit 1
            raise _Stopped(interrupt_message(exc)) from None

    def main(self, args: Any = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True,
             **extra: Any) -> Any:
        run = super().main  # type: ignore[misc]
        if not standalone_mode:
            return run(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            with interrupt_signals():
                rv = run(args, prog_name or "craftpix", complete_var, standalone_mode=False,
                         **extra)
        except _Stopped as exc:
            click.echo(f"craftpix: {exc}", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except KeyboardInterrupt as exc:  # outside a command (while parsing, say)
            click.echo(f"craftpix: {interrupt_message(exc)}", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except click.UsageError as exc:
            hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
            click.echo(f"craftpix: error: {printable(exc.format_message())}{hint}", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            click.echo(f"craftpix: error: {printable(exc.format_message())}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort as exc:
            if isinstance(exc.__cause__, KeyboardInterrupt):
                click.echo(f"craftpix: {interrupt_message(exc.__cause__)}", err=True)
                sys.exit(EXIT_INTERRUPTED)
            click.echo("craftpix: aborted", err=True)
            sys.exit(1)
        except CraftpixError as exc:
            click.echo(f"craftpix: {printable(exc, 1000)}", err=True)
            sys.exit(exc.exit_code)
        except OSError as exc:
            click.echo(f"craftpix: {describe_os_error(exc)}", err=True)
            sys.exit(2)
        sys.exit(rv if isinstance(rv, int) else 0)


class OneLineGroup(OneLineErrors, click.Group):
    """A click group that reports user errors as one line."""


class OneLineCommand(OneLineErrors, click.Command):
    """A click command that reports user errors as one line, also when run on its own."""
