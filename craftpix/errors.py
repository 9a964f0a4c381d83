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
