"""The ASGI app of ``craftpix serve``: JSON endpoints over :mod:`craftpix.api` and a static UI.

Every endpoint turns what the browser sent into library calls and nothing more: a
:class:`~craftpix.api.PatternRequest` for :func:`~craftpix.api.make_pattern`, an edit of
:mod:`craftpix.edit`, :func:`~craftpix.api.export` for the files. Every error is one line:
``{"error": "..."}`` for ``/api`` paths (a :class:`~craftpix.errors.CraftpixError` is a 400
with the CLI's message), a small HTML page elsewhere.

The parts, one module each: :mod:`~craftpix.web.security` (headers, body limit, Host and
Origin checks), :mod:`~craftpix.web.state` (the app's state and the session dependency),
:mod:`~craftpix.web.sessions` (sessions and undo history), :mod:`~craftpix.web.forms` (request
bodies → library calls), :mod:`~craftpix.web.views` (responses, exported files),
:mod:`~craftpix.web.routes` (the endpoints), :mod:`~craftpix.web.jobs` (prompt jobs).

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
import errno
import logging
import traceback
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from craftpix import __version__
from craftpix.errors import CraftpixError
from craftpix.web.jobs import JobRunner, run_job
from craftpix.web.routes import ROUTERS
from craftpix.web.security import install
from craftpix.web.settings import WebSettings
from craftpix.web.state import STATUS, AppState, WebError, get_session, get_state
from craftpix.web.views import ensure_export, pattern_state

log = logging.getLogger("craftpix.web")

STATIC = Path(__file__).parent / "static"
MAX_MESSAGE = 300  # characters of an error message sent or logged (a value may be 20 MB)
LOG_LINE = 500  # characters of one traceback line logged
DISK_FULL = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))


def shorten(text: str, limit: int = MAX_MESSAGE) -> str:
    """``text`` on one line, cut to ``limit`` characters (``…`` marks the cut)."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
        message = shorten(message) or "error"
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

    @app.exception_handler(OSError)
    async def disk_error(request: Request, exc: OSError) -> Response:
        # a full disk, a removed folder, no permission: one line, no path (the log has it)
        log.error("file error on %s: %s", request.url.path, shorten(str(exc)))
        if exc.errno in DISK_FULL:
            return reply(request, "the server's disk is full: nothing was stored; free some "
                                  "space and try again", 507)
        reason = exc.strerror or type(exc).__name__
        return reply(request, f"the server could not store or read a file ({reason}); try "
                              "again", 500)

    @app.exception_handler(Exception)
    async def crash(request: Request, exc: Exception) -> Response:
        # every line cut: a client's 20 MB value must not reach the log 20 MB at a time
        lines = "".join(traceback.format_exception(exc)).splitlines()
        log.error("unexpected error on %s\n%s", request.url.path,
                  "\n".join(shorten(line, LOG_LINE) for line in lines))
        return reply(request, f"internal error ({type(exc).__name__}); see the server's log",
                     500)

    install(app, settings)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    for router in ROUTERS:
        app.include_router(router)
    return app


__all__ = ["AppState", "WebError", "create_app", "ensure_export", "get_session", "get_state",
           "pattern_state"]
