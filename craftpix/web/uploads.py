"""Checking what a browser sends before anything else reads it.

Content decides, never the file name: an image is whatever Pillow recognizes from its header
(and only the formats listed in :data:`IMAGE_FORMATS`), a palette is text parsed by the same
parsers as ``--palette``, a pattern is parsed by :meth:`craftpix.pattern.Pattern.from_json`.
Files are stored under names this module chooses; nothing the client sends becomes a path.
"""

from __future__ import annotations

import io
import json
import os
import re
import secrets
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from craftpix.errors import InputError
from craftpix.palette import Palette, parse_csv, parse_gpl, parse_hex
from craftpix.pattern import Pattern

#: Pillow format name → file extension the stored photo gets.
#: MPO is the JPEG a phone writes with a second (depth or preview) picture after the first.
IMAGE_FORMATS = {"PNG": "png", "JPEG": "jpg", "MPO": "jpg", "WEBP": "webp", "GIF": "gif",
                 "BMP": "bmp", "TIFF": "tif"}
_BOMB_SIZE = re.compile(r"\((\d+) pixels\)")  # in Pillow's DecompressionBomb messages
_HEX_LINE = re.compile(r"#?[0-9a-fA-F]{6}")


class UploadTooLarge(InputError):
    """An upload over its byte limit (HTTP 413)."""


@dataclass(frozen=True)
class SniffedImage:
    """An accepted photo: its Pillow format, stored extension and size in pixels."""

    format: str
    ext: str
    width: int
    height: int


def check_size(data: bytes, limit: int, what: str) -> None:
    """Raise :class:`UploadTooLarge` when ``data`` is longer than ``limit`` bytes, or empty."""
    if len(data) > limit:
        raise UploadTooLarge(f"{what} is too large: {len(data) / 1e6:.1f} MB, the limit is "
                             f"{limit / 1e6:.1f} MB")
    if not data:
        raise InputError(f"{what} is empty")


def sniff_image(data: bytes, max_pixels: int) -> SniffedImage:
    """Identify a photo from its bytes and check it decodes within ``max_pixels``.

    The pixel count is checked from the header before decoding (decompression bombs), then
    the whole image is decoded once so a truncated file is refused here, not later.
    Raises :class:`InputError` with one line.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                fmt = im.format or ""
                if fmt not in IMAGE_FORMATS:
                    raise InputError(f"the file is a {fmt or 'unknown'} image; send PNG, JPEG, "
                                     "WebP, GIF, BMP or TIFF")
                width, height = im.size
                if width * height > max_pixels:
                    raise InputError(f"the image is too large ({width}×{height} pixels); "
                                     f"the limit is {max_pixels / 1e6:.0f} megapixels")
                im.load()
    except InputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # over Pillow's own limit (89 MP): refused before its size reached the check above
        m = _BOMB_SIZE.search(str(exc))
        size = f" ({int(m.group(1)) / 1e6:.0f} megapixels)" if m else ""
        raise InputError(f"the image is too large{size}; the limit is "
                         f"{max_pixels / 1e6:.0f} megapixels") from None
    except UnidentifiedImageError:
        msg = "the file is not an image craftpix can read (PNG, JPEG, WebP, ...)"
        raise InputError(msg) from None
    except (OSError, ValueError, SyntaxError) as exc:  # truncated or corrupt data
        raise InputError(f"the image cannot be decoded: {exc}") from None
    return SniffedImage(fmt, IMAGE_FORMATS[fmt], width, height)


def sniff_palette(data: bytes, label: str = "uploaded palette") -> tuple[Palette, str]:
    """Parse palette bytes by content; returns the palette and the extension to store it under.

    ``GIMP Palette`` files are .gpl, text of only hex colors is .hex, anything else is read
    as a ``code,name,hex`` CSV. Raises :class:`InputError` (a ``PaletteError``) with one line.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(f"{label} line {line}: not UTF-8 text") from None
    lines = [s for s in (ln.strip() for ln in text.splitlines())
             if s and not s.startswith(";") and (not s.startswith("#") or _HEX_LINE.fullmatch(s))]
    if text.startswith("GIMP Palette"):
        return parse_gpl(text, "custom", label), "gpl"
    if lines and all(_HEX_LINE.fullmatch(ln) for ln in lines):
        return parse_hex(text, "custom", label), "hex"
    return parse_csv(text, "custom", label), "csv"


MAX_META_BYTES = 64 * 1024  # WebSettings.max_meta_bytes


def parse_pattern(data: bytes, max_meta_bytes: int = MAX_META_BYTES) -> Pattern:
    """A ``pattern.json`` from bytes; raises :class:`InputError` (``PatternError``), one line.

    Its ``meta`` (free-form: prompt, seed, the list of edits, ...) may take at most
    ``max_meta_bytes`` as compact JSON: every undo step keeps a copy, so a pattern with a
    2-million-entry ``meta.edits`` would otherwise cost the server a gigabyte over an hour
    of edits.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError("uploaded pattern: not UTF-8 text") from None
    pattern = Pattern.from_json(text, source="uploaded pattern")
    size = len(json.dumps(pattern.meta, separators=(",", ":"), ensure_ascii=False).encode())
    if size > max_meta_bytes:
        edits = pattern.meta.get("edits")
        what = f" ({len(edits)} edits listed)" if isinstance(edits, list) else ""
        raise InputError(f"uploaded pattern: its 'meta' is too large{what}: {size / 1024:.0f} "
                         f"KB, the limit is {max_meta_bytes / 1024:.0f} KB")
    return pattern


def store(folder: Path, name: str, data: bytes) -> Path:
    """Write ``data`` to ``folder/name`` whole or not at all: into a temporary file next to
    it, then :func:`os.replace` (atomic). ``folder`` is made again if it was removed.

    On a disk error (full disk, quota) the partial temporary file is removed and the
    :class:`OSError` raised; whatever ``folder/name`` held before is untouched.
    """
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    tmp = folder / f".{name}.{secrets.token_hex(4)}.part"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def safe_stem(name: str | None, default: str = "custom") -> str:
    """A file stem made only of ``[a-z0-9_-]`` from a client-side file name (display only)."""
    stem = (name or "").rsplit("/", 1)[-1].rsplit("\\", 1)[-1].rsplit(".", 1)[0]
    stem = re.sub(r"[^a-z0-9_-]+", "-", stem.lower()).strip("-_")[:40]
    return stem or default
