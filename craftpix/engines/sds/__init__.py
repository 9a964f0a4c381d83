"""The score-distillation engine (SD-πXL): a prompt (and optionally a photo) → palette logits.

Modules: :mod:`~.settings` (plain dataclasses), :mod:`~.cli_options` (click options → settings),
:mod:`~.prompts` (craft templates), :mod:`~.generator` (the palette-constrained logits),
:mod:`~.objective` (the SDS loss), :mod:`~.conditioning` (text, canny and depth),
:mod:`~.augment`, :mod:`~.optimize` (the loop) and :mod:`~.run` (:func:`~.run.run_sds`).

Importing this package imports nothing heavy; :func:`require_diffusion` tells a core-only
install, in one line, what to add.
"""

from __future__ import annotations

import importlib.util

from craftpix.errors import CraftpixError

#: The import names the engine needs beyond the core install (the ``diffusion`` extra).
DIFFUSION_MODULES = ("torch", "diffusers", "transformers", "huggingface_hub", "safetensors",
                     "cv2", "kornia")
INSTALL_HINT = 'pip install ".[diffusion]"'


class DiffusionNotInstalled(CraftpixError):
    """The prompt engine was asked for but the diffusion extra is not installed."""


def missing_diffusion_modules() -> list[str]:
    """Import names of :data:`DIFFUSION_MODULES` that are not installed (nothing is imported)."""
    return [name for name in DIFFUSION_MODULES if importlib.util.find_spec(name) is None]


def require_diffusion() -> None:
    """Raise :class:`DiffusionNotInstalled` (a :class:`CraftpixError`) unless the diffusion
    stack is importable; the message is one line ending with ``pip install ".[diffusion]"`` (the README's line: the locked CPU torch).

    Only looks the modules up (``importlib.util.find_spec``); imports none of them, so an entry
    point can call it first, in milliseconds.
    """
    missing = missing_diffusion_modules()
    if missing:
        raise DiffusionNotInstalled(
            f"prompts need the diffusion engine ({', '.join(missing)} not installed); "
            f"install it with: {INSTALL_HINT}")


__all__ = ["DIFFUSION_MODULES", "INSTALL_HINT", "DiffusionNotInstalled",
           "missing_diffusion_modules", "require_diffusion"]
