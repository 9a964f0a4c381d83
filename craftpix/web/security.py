"""What stands between the network and the endpoints: response headers, body limits.

ASGI middleware only; no endpoint logic here. :func:`install` adds all of it to an app in the
right order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from craftpix.web.settings import WebSettings
from craftpix.web.uploads import UploadTooLarge

MULTIPART_SLACK = 64 * 1024  # multipart headers around an upload's bytes
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; "
                               "style-src 'self'; script-src 'self'; object-src 'none'; "
                               "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


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


def install(app: FastAPI, settings: WebSettings) -> None:
    """Add the security headers, the body limit and (when asked) the Host check to ``app``."""

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
