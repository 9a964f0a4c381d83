"""Uploads: the photo, a palette file, a ``pattern.json`` to continue with."""

from __future__ import annotations

import secrets
import shutil
from typing import Annotated, Any

from fastapi import APIRouter, File, Request, Response, UploadFile

from craftpix import api
from craftpix.errors import InputError
from craftpix.media import get_medium
from craftpix.palette import available_palettes, load_palette, pattern_catalog
from craftpix.web.security import rotate_session
from craftpix.web.sessions import Upload
from craftpix.web.state import SessionDep, SettingsDep, StateDep
from craftpix.web.uploads import parse_pattern, safe_stem, sniff_image, sniff_palette, store
from craftpix.web.views import pattern_state, read_upload

FileDep = Annotated[UploadFile, File()]

router = APIRouter()


@router.post("/api/image")
def upload_image(file: FileDep,
                 session: SessionDep,
                 settings: SettingsDep, state: StateDep, request: Request,
                 response: Response) -> dict[str, Any]:
    data = read_upload(file, settings.max_upload_bytes, "the photo")
    # decoded in a child process: a few at once, one per session, with a time limit
    info = state.decoding.run(session.id, sniff_image, data, settings.max_pixels)
    with session.lock:
        # the new photo is written whole before the old one goes (a full disk keeps the old)
        path = store(session.folder, f"photo-{secrets.token_hex(4)}.{info.ext}", data)
        if session.image is not None:
            session.image.path.unlink(missing_ok=True)
        label = safe_stem(file.filename, "photo")
        session.image = Upload(path, label, {"format": info.format, "width": info.width,
                                             "height": info.height})
        rotate_session(request, response, session, state)
    return {"name": label, "format": info.format, "width": info.width,
            "height": info.height, "bytes": len(data)}

@router.post("/api/palette")
def upload_palette(file: FileDep,
                   session: SessionDep,
                   settings: SettingsDep, state: StateDep, request: Request,
                   response: Response) -> dict[str, Any]:
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
        rotate_session(request, response, session, state)
    return {"name": label, "colors": len(pal), "format": ext}

@router.delete("/api/palette")
def drop_palette(session: SessionDep) -> dict[str, Any]:
    with session.lock:
        if session.palette is not None:
            shutil.rmtree(session.palette.path.parent, ignore_errors=True)
        session.palette = session.palette_value = None
    return {"ok": True}

@router.post("/api/pattern")
def upload_pattern(file: FileDep,
                   session: SessionDep,
                   settings: SettingsDep, state: StateDep, request: Request,
                   response: Response) -> dict[str, Any]:
    pattern = parse_pattern(read_upload(file, settings.max_pattern_bytes, "the pattern file"),
                            settings.max_meta_bytes)
    if max(pattern.width, pattern.height) > api.MAX_SIDE:
        raise InputError(f"the pattern is {pattern.width}×{pattern.height} cells; the app "
                         f"edits patterns up to {api.MAX_SIDE} cells a side")
    # a custom palette's pattern: new colors can only be its own (catalog None)
    catalog = pattern_catalog(pattern.brand)  # a catalog name, never a path
    with session.lock:
        session.start(pattern, {}, f"{pattern.width}×{pattern.height} "
                      f"{get_medium(pattern.medium).title}, {len(pattern.palette)} "
                      f"{pattern.brand} colors (uploaded)", [])
        session.catalog, session.form = catalog, {}
        rotate_session(request, response, session, state)
        return pattern_state(session)
