"""Where the bundled data (catalogs, prompt templates) is found."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def bundled_dir(name: str) -> Path:
    """``craftpix/<name>`` in an installed copy, else ``<name>/`` at the top of the checkout."""
    installed = _PACKAGE / name
    return installed if installed.is_dir() else _PACKAGE.parent / name
