"""User-facing errors.

Anything a user can cause (a bad file, a bad option, a missing model) raises a subclass of
:class:`CraftpixError` whose message is one plain-language line. The CLI prints that line and
exits with status 2; it never shows a traceback for these.
"""

from __future__ import annotations


class CraftpixError(Exception):
    """An error the user can fix; its message is shown as is."""

    exit_code = 2


class InputError(CraftpixError):
    """Bad input: an option, an image, a palette or pattern file."""


class ModelNotAvailable(CraftpixError):
    """A pretrained model is neither cached nor reachable."""


def printable(value: object, limit: int = 200) -> str:
    """``value`` (text, bytes or a path) as safe text for one terminal line.

    Control characters (newlines, ANSI escapes) and lone surrogates are shown escaped
    (``\\n``, ``\\x1b``, ``\\udc80``); text longer than ``limit`` characters is cut with ``…``.
    Error messages use it for everything that comes from a file or the command line.
    """
    if isinstance(value, bytes):
        text = value.decode("utf-8", "backslashreplace")
    else:
        text = str(value)
    cut = len(text) > limit
    text = text[:limit]
    if not text.isprintable():
        text = "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in text)
    return text + "…" if cut else text


def excerpt(value: object, limit: int = 40) -> str:
    """A short, quoted, escaped excerpt of file content for an error message."""
    return f"'{printable(value, limit)}'"
