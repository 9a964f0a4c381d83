"""Per-craft prompt templates.

A template is a small TOML file with two strings::

    prompt = "fuse bead art of {prompt}, flat colors, ..."
    negative = "photo, gradients, ..."

``{prompt}`` is replaced by the user's ``--prompt`` text. The shipped templates live in
``templates/<medium>.toml`` at the top of the repository (next to ``palettes/``); a user can copy
one, edit it and pass it with ``--template FILE``, or bypass templating with ``--raw-prompt``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from craftpix.errors import InputError
from craftpix.resources import bundled_dir

if sys.version_info >= (3, 11):
    import tomllib as _toml
else:  # pragma: no cover - Python 3.10
    try:
        import tomli as _toml
    except ImportError:
        _toml = None

TEMPLATES_DIR = bundled_dir("templates")
PLACEHOLDER = "{prompt}"


@dataclass(frozen=True)
class PromptTemplate:
    """A positive template with a ``{prompt}`` placeholder and a negative prompt."""

    prompt: str
    negative: str = ""
    source: Path | None = None

    def fill(self, subject: str) -> str:
        return self.prompt.replace(PLACEHOLDER, subject.strip())


def template_path(medium: str) -> Path:
    """The shipped template of ``medium`` (beads, bricks, stitch)."""
    return TEMPLATES_DIR / f"{medium}.toml"


def _read_toml(path: Path) -> dict[str, Any]:
    if _toml is None:
        raise InputError(
            "reading prompt templates on Python 3.10 needs the tomli package: pip install tomli"
        )
    try:
        with open(path, "rb") as fh:
            return _toml.load(fh)
    except FileNotFoundError:
        raise InputError(f"prompt template {path} does not exist") from None
    except OSError as exc:
        raise InputError(f"cannot read prompt template {path}: {exc.strerror or exc}") from None
    except _toml.TOMLDecodeError as exc:
        raise InputError(f"prompt template {path} is not valid TOML: {exc}") from None


def load_template(medium: str | None = None, path: str | Path | None = None) -> PromptTemplate:
    """Load ``path``, or the shipped template of ``medium`` when no path is given."""
    if path is None:
        if medium is None:
            raise ValueError("give a medium or a template path")
        path = template_path(medium)
        if not path.is_file():
            raise InputError(f"no prompt template for {medium!r} (looked for {path})")
    path = Path(path)
    data = _read_toml(path)
    prompt, negative = data.get("prompt"), data.get("negative", "")
    if not isinstance(prompt, str) or not prompt.strip():
        raise InputError(f"prompt template {path} needs a text key: prompt = \"... {{prompt}} ...\"")
    if PLACEHOLDER not in prompt:
        raise InputError(f"the prompt in {path} must contain {PLACEHOLDER} where your text goes")
    if not isinstance(negative, str):
        raise InputError(f"'negative' in {path} must be a text string")
    return PromptTemplate(prompt=prompt.strip(), negative=negative.strip(), source=path)


def build_prompts(
    prompt: str,
    *,
    medium: str,
    template: str | Path | None = None,
    raw: bool = False,
    negative: str | None = None,
) -> tuple[str, str]:
    """The (prompt, negative prompt) pair the diffusion model sees.

    ``raw`` uses ``prompt`` verbatim; the negative prompt is ``negative`` when given, else the
    template's (also with ``raw``, unless ``negative`` is given, e.g. ``""``).
    """
    if not prompt or not prompt.strip():
        raise InputError("the prompt is empty")
    tpl = load_template(medium, template) if (not raw or negative is None) else None
    text = prompt.strip() if raw or tpl is None else tpl.fill(prompt)
    neg = negative if negative is not None else (tpl.negative if tpl is not None else "")
    return text, neg.strip()


def fit_prompt(
    text: str, subject: str, count_tokens: Callable[[str], int], limit: int
) -> tuple[str, list[str]]:
    """Shorten a filled template to ``limit`` tokens, cutting the template before the subject.

    ``text`` is a template filled with ``subject``; ``count_tokens`` counts a text's tokens as
    the text encoder sees them (with its start/end tokens) and ``limit`` is the encoder's
    maximum (77 for CLIP). The template's comma-separated style phrases are dropped from the
    end until the text fits. The subject is found by its place in ``text`` and kept whole with
    the template words glued to it (``"fuse bead art of {prompt}"``), commas and all; if that
    alone is too long the encoder cuts it (the caller says so). Returns the text and the
    dropped phrases, for telling the user.
    """
    if count_tokens(text) <= limit:
        return text, []
    subject = subject.strip()
    start = text.find(subject) if subject else -1
    if start < 0:  # not a filled template: every phrase may go
        phrases, keep = text.split(", "), None
    else:
        before = text[:start].split(", ")
        after = text[start + len(subject):].split(", ")
        core = before.pop() + subject + after.pop(0)
        phrases, keep = [*before, core, *after], len(before)
    dropped: list[str] = []
    i = len(phrases) - 1
    while i >= 0 and count_tokens(", ".join(phrases)) > limit:
        if i != keep:
            dropped.insert(0, phrases.pop(i))
            if keep is not None and i < keep:
                keep -= 1
        i -= 1
    return ", ".join(phrases), dropped
