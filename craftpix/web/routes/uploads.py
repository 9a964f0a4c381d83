"""Uploads: the photo, a palette file, a ``pattern.json`` to continue with."""

from __future__ import annotations

import io
import re
import secrets
import shutil
import zipfile
from typing import Annotated, Any

from fastapi import APIRouter, File, Request, Response, UploadFile
from PIL import Image
from pydantic import ValidationError

from craftpix import api, sizing
from craftpix.errors import InputError
from craftpix.export.options import export_settings
from craftpix.media import get_medium
from craftpix.palette import available_palettes, load_palette, pattern_catalog
from craftpix.pattern import Pattern
from craftpix.web.forms import PatternForm, export_kwargs
from craftpix.web.security import rotate_session
from craftpix.web.sessions import Upload
from craftpix.web.state import SessionDep, SettingsDep, StateDep
from craftpix.web.uploads import (
    UploadTooLarge,
    parse_pattern,
    safe_stem,
    sniff_image,
    sniff_palette,
    store,
)
from craftpix.web.views import live_summary, pattern_state, read_upload

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
        width, height = upright_size(data, info.width, info.height)
        session.image = Upload(path, label, {"format": info.format, "width": width,
                                             "height": height})
        rotate_session(request, response, session, state)
    return {"name": label, "format": info.format, "width": width,
            "height": height, "bytes": len(data)}


#: EXIF orientations that turn the picture by 90° (a phone's portrait photo stored sideways)
TURNED = (5, 6, 7, 8)


def upright_size(data: bytes, width: int, height: int) -> tuple[int, int]:
    """``(width, height)`` in pixels as the photo is shown (and made into a pattern): the
    stored size, its sides swapped when the EXIF orientation (tag 0x0112) turns it by 90°.
    Reads the header only; the bytes were checked to decode already."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            orientation = im.getexif().get(0x0112)
    except (OSError, ValueError, SyntaxError):
        return width, height
    return (height, width) if orientation in TURNED else (width, height)

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


#: what the page's form starts with where :class:`PatternForm`'s API defaults differ (the
#: page's Fit list starts at the command line's default, its Clean-up slider at 1)
PAGE_DEFAULTS: dict[str, Any] = {"fit": sizing.DEFAULT_FIT, "smooth": 1.0}


def form_from_pattern(pattern: Pattern) -> dict[str, Any]:
    """The form values a reopened pattern continues with: craft, catalog, size, the make
    settings kept in ``meta["made_with"]`` (fit, clean-up, dithering, colors, finishes, seed;
    see :func:`craftpix.api.made_with`) and the export settings saved in its ``pattern.json``.
    What the file does not say, or says with a value the form does not take, is the form's
    default — never another value."""
    values: dict[str, Any] = {"medium": pattern.medium, "width": pattern.width,
                              "height": pattern.height, **PAGE_DEFAULTS}
    if pattern.brand in available_palettes():
        values["brand"] = pattern.brand
    made = pattern.meta.get(api.MADE_WITH)
    made = made if isinstance(made, dict) else {}
    more: dict[str, Any] = {"seed": made.get("seed", pattern.meta.get("seed"))}
    for key in ("fit", "smooth", "dither", "colors", "all_finishes"):
        more[key] = made.get(key)
    size = made.get("size")
    if isinstance(size, str) and re.fullmatch(r"\d+x", size):  # the height followed the photo
        values["height"] = None
    elif isinstance(size, str) and re.fullmatch(r"x\d+", size):  # the width did
        values["width"] = None
    for key in ("paper", "section", "fabric_count", "strands", "merge", "part", "hoop",
                "formats", "drill"):
        more[key] = pattern.settings.get(key)
    if isinstance(more["formats"], list):
        more["formats"] = ",".join(str(f) for f in more["formats"])
    for key, value in more.items():
        if value is None:
            continue
        if isinstance(value, bool) != (key in ("dither", "all_finishes", "merge")):
            continue  # pydantic would take 1 for True, "1" for a number
        try:
            PatternForm(**{**values, key: value})
        except ValidationError:
            continue
        values[key] = value
    return PatternForm(**values).model_dump()


@router.post("/api/pattern")
def upload_pattern(file: FileDep,
                   session: SessionDep,
                   settings: SettingsDep, state: StateDep, request: Request,
                   response: Response) -> dict[str, Any]:
    """Continue with a saved pattern: a ``pattern.json`` or the zip of the app's downloads.
    The form takes the pattern's settings; opening is one undoable step."""
    data = read_upload(file, settings.max_pattern_bytes, "the pattern file")
    pattern = parse_pattern(pattern_bytes(data, settings.max_pattern_bytes),
                            settings.max_meta_bytes)
    if max(pattern.width, pattern.height) > api.MAX_SIDE:
        raise InputError(f"the pattern is {pattern.width}×{pattern.height} cells; the app "
                         f"edits patterns up to {api.MAX_SIDE} cells a side")
    form = form_from_pattern(pattern)
    # a custom palette's pattern: new colors can only be its own (catalog None); a built-in
    # catalog's: the colors a make with the same settings may use (plain finishes unless the
    # pattern was made with all of them; bricks: those of its part)
    catalog = pattern_catalog(pattern.brand)  # a catalog name, never a path
    if catalog is not None:
        part = form.get("part") if pattern.medium == "bricks" else None
        catalog, _, _ = api.resolve_palette(get_medium(pattern.medium), pattern.brand, None,
                                            bool(form.get("all_finishes")), part)
    try:
        export = export_settings(export_kwargs(PatternForm(**form)))
    except InputError:
        export = {}
    with session.lock:
        session.catalog, session.form = catalog, form
        session.start(pattern, export, f"{live_summary(pattern)} (uploaded)", [],
                      keep_history=True)
        rotate_session(request, response, session, state)
        return pattern_state(session)
