"""What the browser gets back: the pattern as JSON, PNG responses, the exported files."""

from __future__ import annotations

import io
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import Response, UploadFile

from craftpix import api
from craftpix.media import get_medium
from craftpix.notes import Hint, Note
from craftpix.palette import Palette
from craftpix.pattern import Pattern
from craftpix.web.sessions import Session
from craftpix.web.state import current
from craftpix.web.uploads import check_size


def pattern_state(session: Session) -> dict[str, Any]:
    """The current pattern for the browser: cells, legend (with counts), undo state."""
    pattern = current(session)
    medium = get_medium(pattern.medium, pattern.brand)
    counts = pattern.counts()
    symbols = pattern.symbols()
    fabric = session.export.get("fabric_count") if pattern.medium == "stitch" else None
    drill = session.export.get("drill") if pattern.medium == "diamond" else None
    w_mm, h_mm = medium.finished_size_mm(pattern.width, pattern.height, fabric, drill)
    return {
        "version": session.version, "medium": pattern.medium, "title": medium.title,
        "piece": medium.piece, "brand": pattern.brand, "width": pattern.width,
        "height": pattern.height, "size_mm": [round(w_mm, 1), round(h_mm, 1)],
        "pieces": int(counts.sum()), "summary": session.summary, "notes": web_notes(session.notes),
        "edits": list(pattern.meta.get("edits", [])),
        "palette": [{"code": c.code, "name": c.name, "hex": c.hex, "symbol": s,
                     "count": int(n)} for c, s, n in zip(pattern.palette, symbols, counts,
                                                         strict=True)],
        "stands_for": stands_for_lines(pattern),
        "cells": pattern.cells.tolist(),
        "form": session.form, "photo": session.image is not None,
        "can_undo": session.cursor > 0, "can_redo": session.cursor < len(session.history) - 1,
    }


def stands_for_lines(pattern: Pattern) -> list[str]:
    """What each color stands for, one line per color in palette order, from
    ``meta["stands_for"]`` (:func:`craftpix.flatart.stands_for`, which edits keep true):
    ``"80-19001 White for #F3F1EE (ΔE00 1.2)"``; colors it does not name are left out."""
    shown = pattern.meta.get("stands_for")
    if not isinstance(shown, dict):
        return []
    out = []
    for c in pattern.palette:
        entry = shown.get(c.code)
        if not isinstance(entry, dict) or not isinstance(entry.get("source"), str):
            continue
        de = entry.get("delta_e00")
        far = f" (ΔE00 {de:.1f})" if isinstance(de, (int, float)) and not isinstance(de, bool) \
            else ""
        out.append(f"{c.code} {c.name} for {entry['source']}{far}")
    return out


def live_summary(pattern: Pattern) -> str:
    """One line about ``pattern`` as it is now: size, craft, colors of its catalog, pieces
    (``"48×48 fuse beads, 11 hama colors, 1 392 beads"``); edits and conversions keep it true.
    The mean ΔE00 to the photo (``meta["delta_e00_mean"]``, CIEDE2000) is kept, said to be the
    figure of the pattern as made once it has edits (the photo is not measured again)."""
    medium = get_medium(pattern.medium, pattern.brand)
    n = len(pattern.palette)
    text = (f"{pattern.width}×{pattern.height} {medium.title}, {n} {pattern.brand} "
            f"color{'' if n == 1 else 's'}, {medium.pieces(int(pattern.counts().sum()))}")
    mean = pattern.meta.get("delta_e00_mean")
    if isinstance(mean, (int, float)) and not isinstance(mean, bool):
        text += f", mean ΔE00 {mean:.2f}" + (" as made" if pattern.meta.get("edits") else "")
    return text


#: how the page's note about a conversion begins (one such note per step)
CONVERT_NOTE = "Converted to "


def convert_note(pattern: Pattern) -> str | None:
    """The page's note after a conversion: how far the colors moved on average (CIEDE2000,
    ``meta["convert_delta_e00_mean"]`` of :func:`craftpix.edit.convert`), as
    ``craftpix convert`` says it; None when the pattern does not say."""
    mean = pattern.meta.get("convert_delta_e00_mean")
    if not isinstance(mean, (int, float)) or isinstance(mean, bool):
        return None
    return f"{CONVERT_NOTE}{pattern.brand}: mean color change ΔE00 {mean:.2f}"


def web_hint(hint: Hint) -> str | None:
    """A note's hint in the names of the page's form (the CLI says ``--fit crop``, the page
    ``Fit "crop"``); None for a setting the page does not have (the hint is left out)."""
    if hint.option == "fit" and hint.value:
        return f'Fit "{hint.value}" {hint.effect}'
    if hint.option == "size" and hint.value:
        w, _, h = hint.value.partition("x")
        if w and not h:
            return f"Width {w} with Height left empty {hint.effect}"
        if h and not w:
            return f"Height {h} with Width left empty {hint.effect}"
        return f"Width {w} and Height {h} {hint.effect}"
    if hint.option == "colors":
        return f"fill in Colors {hint.effect}"
    if hint.option == "dither":
        return f"dithering {hint.effect}"
    return None


#: a plain note's command-line words → the page's (the page has a Catalog list and a
#: palette-file picker, no flags)
PAGE_WORDS = (("another brand (--brand)", "another brand"),
              ("your own colors (--palette FILE)", "your own palette file"),
              ("--palette FILE", "your own palette file"), ("--brand NAME", "another brand"))


def web_notes(notes: list[str]) -> list[str]:
    """Notes as the page shows them: a :class:`~craftpix.notes.Note`'s hints in the form's
    words, any other note with its flags worded for the page (:data:`PAGE_WORDS`)."""
    out = []
    for n in notes:
        if isinstance(n, Note):
            out.append(n.worded(web_hint))
            continue
        text = str(n)
        for flag, words in PAGE_WORDS:
            text = text.replace(flag, words)
        out.append(text)
    return out


def colors_json(pal: Palette) -> list[dict[str, str]]:
    """A catalog's colors as ``[{code, name, hex}]``."""
    return [{"code": c, "name": n, "hex": h}
            for c, n, h in zip(pal.codes, pal.names, pal.hexes, strict=True)]


def read_upload(file: UploadFile, limit: int, what: str) -> bytes:
    """The upload's bytes; :class:`~craftpix.web.uploads.UploadTooLarge` over ``limit``."""
    data = file.file.read(limit + 1)
    check_size(data, limit, what)
    return data


def png_response(image: Any) -> Response:
    """A PIL image as an uncached PNG response."""
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return Response(buf.getvalue(), media_type="image/png",
                    headers={"Cache-Control": "no-store"})


# --- files -------------------------------------------------------------------------------------
def ensure_export(session: Session, run: Callable[..., Any] | None = None
                  ) -> tuple[Path, list[str], list[str]]:
    """Write every file of the current pattern (once per version): folder, names, notes.

    Whatever :func:`craftpix.api.export` writes with the pattern's export settings:
    ``pattern.json`` (with those settings), PDF, previews, machine files. ``run(fn, *args,
    **kwargs)`` calls the export (default: directly; the app passes its export pool's, a
    child process with a time limit).
    """
    with session.lock:
        pattern = current(session)
        if session.exported is not None and session.exported[0] == session.version:
            return session.exported[1], session.exported[2], web_notes(session.notes)
        if session.exported is not None:
            shutil.rmtree(session.exported[1], ignore_errors=True)
            session.exported = None
        folder = session.folder / f"files-{session.version}"
        folder.mkdir(parents=True)  # the session folder too, if it was removed
        try:
            result = (run or _call)(api.export, pattern, folder, **session.export)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        names = sorted((p.name for p in result.paths), key=lambda n: n != "pattern.json")
        session.exported = (session.version, folder, names)
        return folder, names, web_notes(list(result.notes))


def _call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return fn(*args, **kwargs)


MEDIA_TYPES = {".json": "application/json", ".pdf": "application/pdf", ".png": "image/png",
               ".csv": "text/csv", ".txt": "text/plain", ".zip": "application/zip"}


