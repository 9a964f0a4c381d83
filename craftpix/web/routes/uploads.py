"""Uploads: the photo, a palette file, a ``pattern.json`` to continue with."""

from __future__ import annotations

import io
import secrets
import shutil
import zipfile
from typing import Annotated, Any

from fastapi import APIRouter, File, UploadFile
from pydantic import ValidationError

from craftpix import api
from craftpix.errors import InputError
from craftpix.export.options import export_settings
from craftpix.palette import available_palettes, load_palette, pattern_catalog
from craftpix.pattern import Pattern
from craftpix.web.forms import PatternForm, export_kwargs
from craftpix.web.sessions import Upload
from craftpix.web.state import SessionDep, SettingsDep
from craftpix.web.uploads import (
    UploadTooLarge,
    parse_pattern,
    safe_stem,
    sniff_image,
    sniff_palette,
)
from craftpix.web.views import live_summary, pattern_state, read_upload

FileDep = Annotated[UploadFile, File()]

router = APIRouter()


@router.post("/api/image")
def upload_image(file: FileDep,
                 session: SessionDep,
                 settings: SettingsDep) -> dict[str, Any]:
    data = read_upload(file, settings.max_upload_bytes, "the photo")
    info = sniff_image(data, settings.max_pixels)
    with session.lock:
        if session.image is not None:
            session.image.path.unlink(missing_ok=True)
        path = session.folder / f"photo-{secrets.token_hex(4)}.{info.ext}"
        path.write_bytes(data)
        label = safe_stem(file.filename, "photo")
        session.image = Upload(path, label, {"format": info.format, "width": info.width,
                                             "height": info.height})
    return {"name": label, "format": info.format, "width": info.width,
            "height": info.height, "bytes": len(data)}

@router.post("/api/palette")
def upload_palette(file: FileDep,
                   session: SessionDep,
                 settings: SettingsDep) -> dict[str, Any]:
    data = read_upload(file, settings.max_palette_bytes, "the palette file")
    pal, ext = sniff_palette(data)
    label = safe_stem(file.filename)
    if label in available_palettes():  # never mistaken for the built-in catalog
        label += "-own"
    with session.lock:
        if session.palette is not None:
            shutil.rmtree(session.palette.path.parent, ignore_errors=True)
        folder = session.folder / f"palette-{secrets.token_hex(4)}"
        folder.mkdir()
        path = folder / f"{label}.{ext}"  # the stem names the catalog in the pattern
        path.write_bytes(data)
        session.palette = Upload(path, label, {"colors": len(pal)})
        session.palette_value = load_palette(path)
    return {"name": label, "colors": len(pal), "format": ext}

@router.delete("/api/palette")
def drop_palette(session: SessionDep) -> dict[str, Any]:
    with session.lock:
        if session.palette is not None:
            shutil.rmtree(session.palette.path.parent, ignore_errors=True)
        session.palette = session.palette_value = None
    return {"ok": True}

def pattern_bytes(data: bytes, limit: int) -> bytes:
    """The ``pattern.json`` in an upload: the bytes themselves, or from a zip of the app's
    downloads (``all.zip``) the member named ``pattern.json`` (at most ``limit`` bytes
    unpacked). Raises :class:`InputError` (one line) for a zip without one."""
    if not data.startswith(b"PK\x03\x04"):
        return data
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            members = [i for i in zf.infolist()
                       if i.filename.rsplit("/", 1)[-1] == "pattern.json" and not i.is_dir()]
            if not members:
                raise InputError("the zip file has no pattern.json (open the zip the app's "
                                 "downloads make, or the pattern.json itself)")
            info = min(members, key=lambda i: i.filename.count("/"))
            if info.file_size > limit:
                raise UploadTooLarge(f"the pattern file is too large: {info.file_size / 1e6:.1f}"
                                     f" MB, the limit is {limit / 1e6:.1f} MB")
            with zf.open(info) as fh:
                return fh.read(limit + 1)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, OSError) as exc:
        raise InputError(f"the zip file cannot be read: {exc}") from None


def form_from_pattern(pattern: Pattern) -> dict[str, Any]:
    """The form values a reopened pattern continues with: craft, catalog, size, seed and the
    export settings saved in its ``pattern.json`` (a value of the wrong type is left out)."""
    values: dict[str, Any] = {"medium": pattern.medium, "width": pattern.width,
                              "height": pattern.height}
    if pattern.brand in available_palettes():
        values["brand"] = pattern.brand
    more: dict[str, Any] = {"seed": pattern.meta.get("seed")}
    for key in ("paper", "section", "fabric_count", "strands", "merge", "part", "hoop",
                "formats"):
        more[key] = pattern.settings.get(key)
    if isinstance(more["formats"], list):
        more["formats"] = ",".join(str(f) for f in more["formats"])
    for key, value in more.items():
        if value is None:
            continue
        try:
            PatternForm(**{**values, key: value})
        except ValidationError:
            continue
        values[key] = value
    return PatternForm(**values).model_dump()


@router.post("/api/pattern")
def upload_pattern(file: FileDep,
                   session: SessionDep,
                   settings: SettingsDep) -> dict[str, Any]:
    """Continue with a saved pattern: a ``pattern.json`` or the zip of the app's downloads.
    The form takes the pattern's settings; opening is one undoable step."""
    data = read_upload(file, settings.max_pattern_bytes, "the pattern file")
    pattern = parse_pattern(pattern_bytes(data, settings.max_pattern_bytes))
    if max(pattern.width, pattern.height) > api.MAX_SIDE:
        raise InputError(f"the pattern is {pattern.width}×{pattern.height} cells; the app "
                         f"edits patterns up to {api.MAX_SIDE} cells a side")
    # a custom palette's pattern: new colors can only be its own (catalog None)
    catalog = pattern_catalog(pattern.brand)  # a catalog name, never a path
    form = form_from_pattern(pattern)
    try:
        export = export_settings(export_kwargs(PatternForm(**form)))
    except InputError:
        export = {}
    with session.lock:
        session.catalog, session.form = catalog, form
        session.start(pattern, export, f"{live_summary(pattern)} (uploaded)", [],
                      keep_history=True)
        return pattern_state(session)
