"""The ASGI app of ``craftpix serve``: JSON endpoints over :mod:`craftpix.api` and a static UI.

Every endpoint turns what the browser sent into library calls and nothing more: a
:class:`~craftpix.api.PatternRequest` for :func:`~craftpix.api.make_pattern`, an edit of
:mod:`craftpix.edit`, :func:`~craftpix.api.export` for the files. Every error is one line:
``{"error": "..."}`` for ``/api`` paths (a :class:`~craftpix.errors.CraftpixError` is a 400
with the CLI's message), a small HTML page elsewhere.

Endpoints (all under ``/api``; the session is a cookie, created on first use):

=========================  ===================================================================
``GET options``            crafts, catalogs, limits, defaults
``GET catalog``            colors of a built-in catalog (``?brand=``) or of the pattern's
``POST image``             the photo (multipart ``file``); content-sniffed, size/pixel limits
``POST palette``           a palette file (CSV, GIMP .gpl, .hex); ``DELETE palette`` drops it
``POST generate``          photo → pattern now (about a second); starts a new undo history
``POST pattern``           continue with an uploaded ``pattern.json``
``GET pattern``            the current pattern: cells, legend with counts, summary, undo state
``GET preview.png``        the craft preview (``?style=craft|pixels``)
``POST edit``              replace / exclude / set / fill / clean / convert
``POST undo``, ``redo``    move in the history
``GET files``              export the current pattern; list the files
``GET files/{name}``       one of those files (``all.zip``: all of them)
``POST jobs``              queue a prompt job; ``GET jobs/{id}``, ``DELETE jobs/{id}``,
                           ``GET jobs/{id}/preview.png``, ``POST jobs/{id}/open``
=========================  ===================================================================
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import secrets
import shutil
import tempfile
import threading
import zipfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from fastapi import Depends, FastAPI, File, Request, Response, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from craftpix import __version__, api, edit
from craftpix.color import hex_to_rgb8, pairwise_delta_e_2000, rgb8_to_lab
from craftpix.errors import CraftpixError, InputError
from craftpix.media import MEDIA, get_medium
from craftpix.palette import Palette, available_palettes, load_palette
from craftpix.pattern import Pattern
from craftpix.web.jobs import JobLimit, JobNotFound, JobQueue, JobRunner, run_job
from craftpix.web.sessions import Session, SessionStore, TooManySessions, Upload
from craftpix.web.settings import WebSettings
from craftpix.web.uploads import (
    UploadTooLarge,
    check_size,
    parse_pattern,
    safe_stem,
    sniff_image,
    sniff_palette,
)

log = logging.getLogger("craftpix.web")

COOKIE = "craftpix_session"
STATIC = Path(__file__).parent / "static"
MULTIPART_SLACK = 64 * 1024  # multipart headers around an upload's bytes
PROMPT_PREVIEWS = 40  # step previews a prompt job writes over its run (progress)
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; "
                               "style-src 'self'; script-src 'self'; object-src 'none'; "
                               "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


class WebError(CraftpixError):
    """A user error with its HTTP status (the message is one line, as everywhere)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


STATUS: list[tuple[type[Exception], int]] = [
    (UploadTooLarge, 413), (JobLimit, 429), (JobNotFound, 404), (TooManySessions, 503),
]


# --- state and dependencies --------------------------------------------------------------------
class AppState:
    """What one running app owns: settings, the work folder, sessions, the job queue."""

    def __init__(self, settings: WebSettings, runner: JobRunner = run_job) -> None:
        self.settings = settings
        if settings.work_dir is None:
            self.root, self.owns_root = Path(tempfile.mkdtemp(prefix="craftpix-web-")), True
        else:
            self.root, self.owns_root = Path(settings.work_dir), False
            self.root.mkdir(parents=True, exist_ok=True)
        self.jobs = JobQueue(settings.max_jobs, settings.job_workers, settings.job_timeout_s,
                             target=runner)
        self.sessions = SessionStore(self.root, settings.max_sessions, settings.session_ttl_s,
                                     settings.max_history,
                                     on_expire=lambda s: self.jobs.cancel_owner(s.token))
        self.generations = threading.BoundedSemaphore(settings.max_generations)
        self._stop = threading.Event()
        self._janitor = threading.Thread(target=self._sweep, name="craftpix-janitor",
                                         daemon=True)
        self._janitor.start()

    def expire(self) -> None:
        """Remove idle sessions, their folders and their jobs."""
        self.sessions.expire()

    def _sweep(self) -> None:
        while not self._stop.wait(self.settings.janitor_every_s):
            try:
                self.expire()
            except Exception:  # noqa: BLE001 - keep sweeping
                log.exception("session clean-up failed")

    def close(self) -> None:
        """Stop jobs and the janitor, remove every session folder (and the work dir we made)."""
        self._stop.set()
        self._janitor.join(timeout=5)
        self.jobs.close()
        self.sessions.close()
        if self.owns_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def scrub(self, message: str) -> str:
        """``message`` with paths inside the work folder cut to their file name."""
        return re.sub(re.escape(str(self.root)) + r"(?:/[^/\s'\"]+)*/([^/\s'\"]+)", r"\1",
                      message)


def get_state(request: Request) -> AppState:
    """The app's :class:`AppState` (set up by the lifespan)."""
    state = getattr(request.app.state, "craftpix", None)
    if state is None:
        raise WebError("the app is not running (start it with `craftpix serve`)", 503)
    return state


StateDep = Annotated[AppState, Depends(get_state)]


def get_session(request: Request, response: Response, state: StateDep) -> Session:
    """This browser's session; a new one (and its cookie) when it has none or it expired."""
    session = state.sessions.get(request.cookies.get(COOKIE))
    if session is None:
        session = state.sessions.create()
        response.set_cookie(COOKIE, session.token, httponly=True, samesite="strict", path="/")
    return session


SessionDep = Annotated[Session, Depends(get_session)]
FileDep = Annotated[UploadFile, File()]


def current(session: Session) -> Pattern:
    """The session's current pattern; 409 when there is none yet."""
    pattern = session.pattern
    if pattern is None:
        raise WebError("there is no pattern yet: pick a photo and make one first", 409)
    return pattern


# --- request bodies ----------------------------------------------------------------------------
class PatternForm(BaseModel):
    """The photo form: one field per :class:`~craftpix.api.PatternRequest` setting.

    ``palette`` uses the uploaded palette file instead of ``brand``; the export fields are
    those of ``craftpix beads|bricks|stitch`` (same names, same defaults).
    """

    model_config = ConfigDict(extra="forbid")

    medium: str = "beads"
    width: int = 48
    height: int = 48
    brand: str | None = None
    palette: bool = False
    colors: int | None = None
    all_finishes: bool = False
    fit: str = "crop"
    smooth: float | None = None
    dither: bool = False
    seed: int = 0
    paper: str = "a4"
    formats: str | None = None
    hoop: str | None = None  # None: the smallest preset hoop that fits
    merge: bool = False
    part: str = "plate"
    section: int | None = None
    fabric_count: int | None = None
    strands: int | None = None


class PromptForm(PatternForm):
    """A prompt job: the photo form plus the prompt, steps, and whether to use the photo."""

    prompt: str = ""
    steps: int | None = None
    use_image: bool = False


class EditBody(BaseModel):
    """One edit of :mod:`craftpix.edit`; rows and columns count from 0 at the top left."""

    model_config = ConfigDict(extra="forbid")

    op: str
    code: str | None = None  # the color acted on (replace, exclude)
    to: str | None = None  # the new color (replace, set, fill)
    row: int | None = None
    col: int | None = None
    size: int = 1  # clean: largest stray region absorbed, in cells
    brand: str | None = None  # convert: the new catalog


def _brand(name: str | None) -> str | None:
    """A built-in catalog name, or None; never a path (a name with a suffix or a slash)."""
    if name is None or not name.strip():
        return None
    name = name.strip().lower()
    known = available_palettes()
    if name not in known:
        raise InputError(f"unknown catalog {name!r}; available: {', '.join(known)}")
    return name


def _export_settings(form: PatternForm) -> dict[str, Any]:
    """The export keyword arguments the CLI passes for the same options."""
    section = form.section
    if (form.medium in MEDIA and section in MEDIA[form.medium].sections
            and section not in get_medium(form.medium, form.brand).sections):
        section = None  # the page offers the midi board; a mini bead line has its own
    settings = {"pdf": True, "paper": form.paper, "formats": form.formats, "hoop": form.hoop,
                "merge": form.merge, "part": form.part, "section": section,
                "fabric_count": form.fabric_count, "strands": form.strands}
    return {k: v for k, v in settings.items() if v is not None}


def _request(session: Session, form: PatternForm, **more: Any) -> api.PatternRequest:
    """The :class:`~craftpix.api.PatternRequest` a form describes (the session's files)."""
    from craftpix.export.options import export_settings

    if form.palette and session.palette is None:
        raise InputError("upload a palette file first (or choose a catalog)")
    image = more.pop("image", session.image.path if session.image is not None else None)
    return api.PatternRequest(
        medium=form.medium, size=(form.width, form.height), image=image,
        brand=_brand(form.brand), palette=session.palette.path if form.palette and
        session.palette is not None else None, colors=form.colors,
        all_finishes=form.all_finishes, fit=form.fit, smooth=form.smooth, dither=form.dither,
        seed=form.seed, export=export_settings(_export_settings(form)), **more)


def _catalog(session: Session, form: PatternForm, request: api.PatternRequest) -> Palette:
    """The catalog edits may take new colors from: the one the pattern was made from."""
    request = request.validated()  # the API's messages first
    if form.palette and session.palette_value is not None:
        return session.palette_value
    part = request.export.get("part") if request.medium == "bricks" else None
    pal, _, _ = api.resolve_palette(get_medium(request.medium), request.brand, None,
                                    request.all_finishes, part)
    return pal


def pattern_state(session: Session) -> dict[str, Any]:
    """The current pattern for the browser: cells, legend (with counts), undo state."""
    pattern = current(session)
    medium = get_medium(pattern.medium, pattern.brand)
    counts = pattern.counts()
    symbols = pattern.symbols()
    fabric = session.export.get("fabric_count") if pattern.medium == "stitch" else None
    w_mm, h_mm = medium.finished_size_mm(pattern.width, pattern.height, fabric)
    return {
        "version": session.version, "medium": pattern.medium, "title": medium.title,
        "piece": medium.piece, "brand": pattern.brand, "width": pattern.width,
        "height": pattern.height, "size_mm": [round(w_mm, 1), round(h_mm, 1)],
        "pieces": int(counts.sum()), "summary": session.summary, "notes": session.notes,
        "edits": list(pattern.meta.get("edits", [])),
        "palette": [{"code": c.code, "name": c.name, "hex": c.hex, "symbol": s,
                     "count": int(n)} for c, s, n in zip(pattern.palette, symbols, counts,
                                                         strict=True)],
        "cells": pattern.cells.tolist(),
        "form": session.form, "photo": session.image is not None,
        "can_undo": session.cursor > 0, "can_redo": session.cursor < len(session.history) - 1,
    }


def _colors(pal: Palette) -> list[dict[str, str]]:
    return [{"code": c, "name": n, "hex": h}
            for c, n, h in zip(pal.codes, pal.names, pal.hexes, strict=True)]


def _read(file: UploadFile, limit: int, what: str) -> bytes:
    data = file.file.read(limit + 1)
    check_size(data, limit, what)
    return data


def _png(image: Any) -> Response:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return Response(buf.getvalue(), media_type="image/png",
                    headers={"Cache-Control": "no-store"})


# --- files -------------------------------------------------------------------------------------
def ensure_export(session: Session) -> tuple[Path, list[str], list[str]]:
    """Write every file of the current pattern (once per version): folder, names, notes.

    Whatever :func:`craftpix.api.export` writes with the pattern's export settings:
    ``pattern.json`` (with those settings), PDF, previews, machine files.
    """
    with session.lock:
        pattern = current(session)
        if session.exported is not None and session.exported[0] == session.version:
            return session.exported[1], session.exported[2], session.notes
        if session.exported is not None:
            shutil.rmtree(session.exported[1], ignore_errors=True)
            session.exported = None
        folder = session.folder / f"files-{session.version}"
        folder.mkdir()
        try:
            result = api.export(pattern, folder, **session.export)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        names = sorted((p.name for p in result.paths), key=lambda n: n != "pattern.json")
        session.exported = (session.version, folder, names)
        return folder, names, list(result.notes)


MEDIA_TYPES = {".json": "application/json", ".pdf": "application/pdf", ".png": "image/png",
               ".csv": "text/csv", ".txt": "text/plain", ".zip": "application/zip"}


# --- the app -----------------------------------------------------------------------------------
class BodyLimit:
    """ASGI middleware: refuse request bodies over ``limit`` bytes (HTTP 413), streamed or not."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        message = f"the upload is too large; the limit is {self.limit / 1e6:.1f} MB"
        for key, value in scope.get("headers", []):
            if key == b"content-length" and value.isdigit() and int(value) > self.limit:
                await JSONResponse({"error": message}, 413)(scope, receive, send)
                return
        seen = 0
        exceeded = replaced = False
        too_large = JSONResponse({"error": message}, 413)

        async def limited() -> Message:
            nonlocal seen, exceeded
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.limit:
                    exceeded = True
                    raise UploadTooLarge(message)
            return msg

        async def watch(msg: Message) -> None:
            # whatever the app made of the cut-off body (frameworks turn it into a parse
            # error), the client is told the real reason
            nonlocal replaced
            if not exceeded:
                await send(msg)
            elif not replaced:
                replaced = True
                await too_large(scope, receive, send)

        try:
            await self.app(scope, limited, watch)
        except UploadTooLarge:
            if not replaced:
                await too_large(scope, receive, send)


def _error_page(message: str, status: int) -> HTMLResponse:
    from html import escape

    return HTMLResponse(
        f"<!doctype html><html lang=en><meta charset=utf-8><title>craftpix: error</title>"
        f"<link rel=stylesheet href=/static/app.css><main class=error-page><h1>craftpix</h1>"
        f"<p class=error>{escape(message)}</p><p><a href=/>back to the app</a></p></main>",
        status)


def create_app(settings: WebSettings | None = None, *, runner: JobRunner = run_job) -> FastAPI:
    """Build the app. State (work folder, sessions, jobs) lives from startup to shutdown.

    ``settings`` defaults to :class:`WebSettings`; tests and ``craftpix serve`` pass their own.
    ``runner`` is the prompt jobs' child-process body (default
    :func:`craftpix.web.jobs.run_job`, which calls :func:`craftpix.api.make_pattern`); it is
    pickled by reference, so it must be a module-level function.
    """
    settings = settings or WebSettings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.craftpix = AppState(settings, runner)
        try:
            yield
        finally:
            app.state.craftpix.close()
            app.state.craftpix = None

    app = FastAPI(title="craftpix", version=__version__, lifespan=lifespan, docs_url=None,
                  redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.state.craftpix = None

    def reply(request: Request, message: str, status: int) -> Response:
        state = getattr(request.app.state, "craftpix", None)
        if state is not None:
            message = state.scrub(message)
        message = " ".join(message.split()) or "error"
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": message}, status)
        return _error_page(message, status)

    @app.exception_handler(CraftpixError)
    async def craftpix_error(request: Request, exc: CraftpixError) -> Response:
        status = getattr(exc, "status", None) or next(
            (code for kind, code in STATUS if isinstance(exc, kind)), 400)
        return reply(request, str(exc), status)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query"))
        text = first.get("msg", "invalid request")
        return reply(request, f"{where}: {text}" if where else text, 400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        text = {404: "there is no such page", 405: "that method is not allowed here"}.get(
            exc.status_code, str(exc.detail))
        return reply(request, text, exc.status_code)

    @app.exception_handler(Exception)
    async def crash(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s", request.url.path)
        return reply(request, f"internal error ({type(exc).__name__}); see the server's log",
                     500)

    @app.middleware("http")
    async def headers(request: Request, call_next: Callable[[Request], Any]) -> Response:
        response = await call_next(request)
        for key, value in SECURITY_HEADERS.items():
            response.headers.setdefault(key, value)
        return response

    limit = max(settings.max_upload_bytes, settings.max_palette_bytes,
                settings.max_pattern_bytes) + MULTIPART_SLACK
    app.add_middleware(BodyLimit, limit=limit)
    if settings.allowed_hosts is not None:
        from starlette.middleware.trustedhost import TrustedHostMiddleware

        app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(settings.allowed_hosts))

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    # --- reference data ------------------------------------------------------------------------
    @app.get("/api/options")
    def options() -> dict[str, Any]:
        from craftpix.export.embroidery import FORMATS

        crafts = [{"name": m.name, "title": m.title, "piece": m.piece, "brands": list(m.brands),
                   "pitch_mm": m.pitch_mm, "sections": list(m.sections),
                   "fabric_counts": list(m.fabric_counts),
                   "default_fabric_count": m.default_fabric_count} for m in MEDIA.values()]
        return {"version": __version__, "crafts": crafts, "catalogs": available_palettes(),
                "fits": list(api.FITS), "formats": list(FORMATS), "papers": ["a4", "letter"],
                "parts": ["plate", "round", "tile"],
                "limits": {"min_side": api.MIN_SIDE, "max_side": api.MAX_SIDE,
                           "max_upload_bytes": settings.max_upload_bytes,
                           "max_palette_bytes": settings.max_palette_bytes,
                           "max_pixels": settings.max_pixels, "max_jobs": settings.max_jobs,
                           "job_timeout_s": settings.job_timeout_s}}

    @app.get("/api/catalog")
    def catalog(session: SessionDep, brand: str | None = None, all_finishes: bool = False,
                near: str | None = None) -> dict[str, Any]:
        """A catalog's colors; ``near`` (a code of the current pattern) orders them by
        CIEDE2000 distance from that color, closest first, each with its ``delta_e``."""
        data = _catalog_colors(session, brand, all_finishes)
        if near is None:
            return data
        with session.lock:
            pattern = current(session)
        ref = next((c for c in pattern.palette if c.code == near), None)
        if ref is None:
            raise InputError(f"the pattern has no color {near!r}")
        colors = data["colors"]
        lab = rgb8_to_lab(np.array([hex_to_rgb8(c["hex"]) for c in colors], dtype=np.float64))
        dist = pairwise_delta_e_2000(rgb8_to_lab(np.array([ref.rgb8], dtype=np.float64)), lab)[0]
        order = np.argsort(dist, kind="stable")
        data["colors"] = [{**colors[i], "delta_e": round(float(dist[i]), 2)} for i in order]
        return data

    def _catalog_colors(session: Session, brand: str | None,
                        all_finishes: bool) -> dict[str, Any]:
        if brand:
            name = _brand(brand)
            assert name is not None
            pal = load_palette(name)
            if not all_finishes:
                pal, _, _ = api.resolve_palette(get_medium(_medium_of(name)), name, None, False)
            return {"name": name, "title": pal.title, "colors": _colors(pal)}
        with session.lock:
            pattern = current(session)
            pal = session.catalog
        if pal is None:  # the pattern's own colors
            return {"name": pattern.brand, "title": pattern.brand,
                    "colors": [{"code": c.code, "name": c.name, "hex": c.hex}
                               for c in pattern.palette]}
        return {"name": pal.name, "title": pal.title, "colors": _colors(pal)}

    # --- uploads -------------------------------------------------------------------------------
    @app.post("/api/image")
    def upload_image(file: FileDep,
                     session: SessionDep) -> dict[str, Any]:
        data = _read(file, settings.max_upload_bytes, "the photo")
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

    @app.post("/api/palette")
    def upload_palette(file: FileDep,
                       session: SessionDep) -> dict[str, Any]:
        data = _read(file, settings.max_palette_bytes, "the palette file")
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

    @app.delete("/api/palette")
    def drop_palette(session: SessionDep) -> dict[str, Any]:
        with session.lock:
            if session.palette is not None:
                shutil.rmtree(session.palette.path.parent, ignore_errors=True)
            session.palette = session.palette_value = None
        return {"ok": True}

    @app.post("/api/pattern")
    def upload_pattern(file: FileDep,
                       session: SessionDep) -> dict[str, Any]:
        pattern = parse_pattern(_read(file, settings.max_pattern_bytes, "the pattern file"))
        if max(pattern.width, pattern.height) > api.MAX_SIDE:
            raise InputError(f"the pattern is {pattern.width}×{pattern.height} cells; the app "
                             f"edits patterns up to {api.MAX_SIDE} cells a side")
        # a custom palette's pattern: new colors can only be its own (catalog None)
        catalog = load_palette(pattern.brand) if pattern.brand in available_palettes() else None
        with session.lock:
            session.start(pattern, {}, f"{pattern.width}×{pattern.height} "
                          f"{get_medium(pattern.medium).title}, {len(pattern.palette)} "
                          f"{pattern.brand} colors (uploaded)", [])
            session.catalog, session.form = catalog, {}
            return pattern_state(session)

    # --- making and editing --------------------------------------------------------------------
    @app.post("/api/generate")
    def generate(form: PatternForm, session: SessionDep,
                 state: StateDep) -> dict[str, Any]:
        with session.lock:
            request = _request(session, form)
            catalog = _catalog(session, form, request)
        if not state.generations.acquire(timeout=60):
            raise WebError("the app is busy making other patterns; try again in a moment", 503)
        try:
            with session.generating:
                result = api.make_pattern(request)
        finally:
            state.generations.release()
        with session.lock:
            session.start(result.pattern, dict(request.export), result.summary, result.notes)
            session.catalog, session.form = catalog, form.model_dump()
            return pattern_state(session)

    @app.get("/api/pattern")
    def get_pattern(session: SessionDep) -> dict[str, Any]:
        with session.lock:
            return pattern_state(session)

    @app.get("/api/preview.png")
    def preview(session: SessionDep, style: str = "craft") -> Response:
        from craftpix.export.preview import render_preview

        with session.lock:
            pattern = current(session)
            fabric, part = session.export.get("fabric_count"), session.export.get("part")
        return _png(render_preview(pattern, style, fabric_count=fabric, part=part or "plate"))

    @app.post("/api/edit")
    def apply_edit(body: EditBody, session: SessionDep) -> dict[str, Any]:
        with session.lock:
            pattern = current(session)
            new, catalog = _edit(pattern, body, session.catalog)
            session.push(new)
            session.catalog = catalog
            return pattern_state(session)

    @app.post("/api/undo")
    def undo(session: SessionDep) -> dict[str, Any]:
        with session.lock:
            current(session)
            if not session.step(-1):
                raise WebError("there is nothing to undo", 409)
            return pattern_state(session)

    @app.post("/api/redo")
    def redo(session: SessionDep) -> dict[str, Any]:
        with session.lock:
            current(session)
            if not session.step(+1):
                raise WebError("there is nothing to redo", 409)
            return pattern_state(session)

    # --- downloads -----------------------------------------------------------------------------
    @app.get("/api/files")
    def files(session: SessionDep) -> dict[str, Any]:
        folder, names, notes = ensure_export(session)
        listed = [{"name": n, "bytes": (folder / n).stat().st_size, "url": f"/api/files/{n}"}
                  for n in names]
        listed.append({"name": "all.zip", "bytes": None, "url": "/api/files/all.zip"})
        return {"version": session.version, "files": listed, "notes": notes}

    @app.get("/api/files/{name}")
    def file(name: str, session: SessionDep) -> Response:
        folder, names, _ = ensure_export(session)
        if name == "all.zip":
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
                for n in names:
                    zf.write(folder / n, n)
            return Response(buf.getvalue(), media_type="application/zip", headers={
                "Content-Disposition": 'attachment; filename="craftpix-pattern.zip"'})
        if name not in names:  # only names the export wrote: never a client path
            raise WebError(f"this pattern has no file {name!r}; it has {', '.join(names)}", 404)
        path = folder / name
        return FileResponse(path, media_type=MEDIA_TYPES.get(path.suffix,
                                                             "application/octet-stream"),
                            filename=name)

    # --- prompt jobs ---------------------------------------------------------------------------
    @app.post("/api/jobs")
    def submit_job(form: PromptForm, session: SessionDep,
                   state: StateDep) -> dict[str, Any]:
        prompt = form.prompt.strip()
        if not prompt:
            raise InputError("write what to make (the prompt) first")
        folder = session.folder / "jobs" / secrets.token_hex(6)
        with session.lock:
            image = session.image.path if form.use_image and session.image is not None else None
            if form.use_image and image is None:
                raise InputError("pick a photo first, or untick 'use the photo'")
            request = _request(session, form, image=image, prompt=prompt, engine="sds",
                               steps=form.steps, sds=settings.sds, out=folder)
            request.validated()
            catalog = _catalog(session, form, request)
        steps = api.DEFAULT_SDS_STEPS if form.steps is None else form.steps
        job = state.jobs.submit(session.token, request, folder, steps,
                                preview_every=max(1, steps // PROMPT_PREVIEWS))
        with session.lock:
            session.job_catalogs[job.id] = (catalog, dict(request.export))
        return state.jobs.snapshot(session.token, job.id)

    @app.get("/api/jobs/{job_id}")
    def job_status(job_id: str, session: SessionDep,
                   state: StateDep) -> dict[str, Any]:
        return state.jobs.snapshot(session.token, job_id)

    @app.delete("/api/jobs/{job_id}")
    def cancel_job(job_id: str, session: SessionDep,
                   state: StateDep) -> dict[str, Any]:
        state.jobs.cancel(session.token, job_id)
        return state.jobs.snapshot(session.token, job_id)

    @app.get("/api/jobs/{job_id}/preview.png")
    def job_preview(job_id: str, session: SessionDep,
                    state: StateDep) -> Response:
        path = state.jobs.get(session.token, job_id).preview()
        if path is None:
            raise WebError("the job has no preview yet", 404)
        return FileResponse(path, media_type="image/png", headers={"Cache-Control": "no-store"})

    @app.post("/api/jobs/{job_id}/open")
    def open_job(job_id: str, session: SessionDep,
                 state: StateDep) -> dict[str, Any]:
        job = state.jobs.get(session.token, job_id)
        if job.state != "done" or job.result is None:
            raise WebError(f"the prompt job is {job.state}, not done", 409)
        text, summary, notes = job.result
        pattern = Pattern.from_json(text, source="prompt job")
        with session.lock:
            catalog, export = session.job_catalogs.get(job_id, (None, {}))
            session.start(pattern, export, summary, notes)
            session.catalog, session.form = catalog, {}
            return pattern_state(session)

    return app


def _medium_of(brand: str) -> str:
    """The craft a built-in catalog belongs to (for its finish filter)."""
    return next((m.name for m in MEDIA.values() if brand in m.brands), "beads")


def _edit(pattern: Pattern, body: EditBody, catalog: Palette | None
          ) -> tuple[Pattern, Palette | None]:
    """Apply one :mod:`craftpix.edit` operation; returns the pattern and the catalog after."""
    op = body.op

    def need(*names: str) -> None:
        missing = [n for n in names if getattr(body, n) is None]
        if missing:
            raise InputError(f"the {op} edit needs {' and '.join(repr(n) for n in missing)}")

    if op == "replace":
        need("code", "to")
        return edit.replace(pattern, {str(body.code): body.to}, catalog), catalog
    if op == "exclude":
        need("code")
        return edit.exclude(pattern, [str(body.code)]), catalog
    if op in ("set", "fill"):
        need("row", "col", "to")
        fn = edit.set_cell if op == "set" else edit.fill
        return fn(pattern, int(body.row or 0), int(body.col or 0), body.to, catalog), catalog
    if op == "clean":
        return edit.clean(pattern, body.size), catalog
    if op == "convert":
        need("brand")
        name = _brand(body.brand)
        assert name is not None
        medium = get_medium(pattern.medium)
        if name not in medium.brands:
            raise InputError(f"{name} is not a {medium.title} catalog; choose one of "
                             f"{', '.join(medium.brands)}")
        new_catalog, _, _ = api.resolve_palette(medium, name, None, False)
        return edit.convert(pattern, new_catalog, name), new_catalog
    raise InputError(f"unknown edit {op!r}; choose replace, exclude, set, fill, clean or convert")


__all__ = ["AppState", "WebError", "create_app", "ensure_export", "get_session", "get_state",
           "pattern_state"]
