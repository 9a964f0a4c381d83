"""What stands between the network and the endpoints: who may ask, and how much.

ASGI middleware only; no endpoint logic here. :func:`install` adds all of it to an app in the
right order, outermost first:

* :class:`HostCheck` — the ``Host`` header must name this app (an allow-list of names and IP
  networks), so a web site cannot reach it through DNS rebinding; 403 otherwise.
* :class:`LaunchToken` — with a launch token (``craftpix serve`` on an address other
  computers can reach), every request needs it: ``?token=`` once (it becomes an HttpOnly
  cookie, as notebook servers do) or that cookie; 403 otherwise.
* :class:`SameOrigin` — every state change (POST, PUT, PATCH, DELETE) must come from the
  app's own page: a browser's ``Origin`` must be this scheme, host *and port* (SameSite
  cookies ignore ports, so a page on another local port would otherwise post with the user's
  cookie), and ``Sec-Fetch-Site`` must be ``same-origin`` or ``none``; 403 otherwise.
  Requests without either header (command-line clients) are not from a web page.
* :class:`BodyLimit` — request bodies over the upload limits: 413.

:func:`rotate_session` gives a session a new token when the user brings their own photo or
pattern, so a token planted in the browser by another page stops naming their work.
"""

from __future__ import annotations

import ipaddress
import secrets
import socket
from collections.abc import Callable, Iterable
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

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
TOKEN_COOKIE = "craftpix_token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SHOWN = 80  # characters of a client's header value a message repeats


def _refuse(message: str, status: int = 403) -> JSONResponse:
    """A one-line JSON error with the security headers (sent before the app sees the request)."""
    return JSONResponse({"error": message}, status, headers=SECURITY_HEADERS)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


def _shown(value: str) -> str:
    value = " ".join(value.split())
    return value if len(value) <= SHOWN else value[:SHOWN] + "…"


def split_host(value: str) -> tuple[str, int | None]:
    """``Host``-header text → (lower-case name or address without brackets, port or None).

    ``"[::1]:8765"`` → ``("::1", 8765)``, ``"Localhost."`` → ``("localhost", None)``. A value
    that is no host at all gives ``("", None)``.
    """
    value = value.strip().lower()
    port: int | None = None
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return "", None
        name, rest = value[1:end], value[end + 1:]
        if rest.startswith(":") and rest[1:].isdigit():
            port = int(rest[1:])
        elif rest:
            return "", None
        return name, port
    if value.count(":") == 1:
        value, _, p = value.partition(":")
        if not p.isdigit():
            return "", None
        port = int(p)
    elif ":" in value:  # a bare IPv6 address is not a valid Host header
        return "", None
    return value.rstrip("."), port


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and any loopback address (``127.0.0.0/8``, ``::1``)."""
    name, _ = split_host(host) if host.startswith("[") else (host.strip().lower(), None)
    if name in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def hosts_for_bind(host: str) -> tuple[str, ...]:
    """The ``Host`` allow-list for a server bound to ``host``.

    A loopback bind answers only names that cannot be rebound: ``localhost`` and loopback
    addresses. Any other bind also answers any IP address and this computer's own names
    (what other computers type); its launch token does the rest.
    """
    loopback = ("localhost", "127.0.0.0/8", "::1")
    if is_loopback(host):
        return loopback
    names = [socket.gethostname(), socket.getfqdn()]
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if host:
            names.append(host)
    out = list(loopback) + ["0.0.0.0/0", "::/0"]
    for n in names:
        n = n.strip().lower().rstrip(".")
        if n and n not in out:
            out.append(n)
    return tuple(out)


class HostCheck:
    """ASGI middleware: answer only requests whose ``Host`` is in the allow-list (else 403).

    ``allowed`` holds names (``localhost``) and IP networks or addresses (``127.0.0.0/8``,
    ``::1``); a name matches exactly (case-insensitive, without the port).
    """

    def __init__(self, app: ASGIApp, allowed: Iterable[str]) -> None:
        self.app = app
        self.names: set[str] = set()
        self.networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for entry in allowed:
            try:
                self.networks.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError:
                self.names.add(entry.strip().lower().rstrip("."))

    def allows(self, value: str | None) -> bool:
        """Whether a ``Host`` header value is one of the allowed names or addresses."""
        if not value:
            return False
        name, _ = split_host(value)
        if not name:
            return False
        try:
            ip = ipaddress.ip_address(name)
        except ValueError:
            return name in self.names
        return any(ip.version == n.version and ip in n for n in self.networks)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        host = _header(scope, b"host")
        if not self.allows(host):
            shown = _shown(host or "")
            await _refuse(f"this app does not answer for the address {shown!r}; open the "
                          "address craftpix serve printed")(scope, receive, send)
            return
        await self.app(scope, receive, send)


class LaunchToken:
    """ASGI middleware: every request must carry ``token`` (``?token=`` or its cookie).

    ``?token=`` with the right value sets the HttpOnly, SameSite=Strict cookie and redirects
    to the same address without it (so the token leaves the address bar and the history).
    """

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app, self.token = app, token

    def _good(self, value: str | None) -> bool:
        return value is not None and secrets.compare_digest(value.encode(), self.token.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"),
                          keep_blank_values=True)
        given = next((v for k, v in query if k == "token"), None)
        if self._good(given) and scope["type"] == "http":
            rest = urlencode([(k, v) for k, v in query if k != "token"])
            location = scope.get("path", "/") + (f"?{rest}" if rest else "")
            response = Response(status_code=303, headers={"Location": location,
                                                          **SECURITY_HEADERS})
            response.set_cookie(TOKEN_COOKIE, self.token, httponly=True, samesite="strict",
                                path="/")
            await response(scope, receive, send)
            return
        cookie = SimpleCookie()
        try:
            cookie.load(_header(scope, b"cookie") or "")
        except Exception:  # noqa: BLE001 - a malformed cookie header is no token
            cookie = SimpleCookie()
        morsel = cookie.get(TOKEN_COOKIE)
        if not self._good(morsel.value if morsel is not None else None):
            await _refuse("this app needs its launch token: open the address craftpix serve "
                          "printed (it ends in ?token=...)")(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _origin_of(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an origin or URL; None when it is not one."""
    try:
        parts = urlsplit(url.strip().lower())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


class SameOrigin:
    """ASGI middleware: state changes (POST, PUT, PATCH, DELETE) only from the app's own page.

    A browser sends ``Origin`` with such requests (and ``Sec-Fetch-Site``): the origin must be
    the request's own scheme, host and port; ``Sec-Fetch-Site`` must be ``same-origin`` or
    ``none`` (typed by the user). Otherwise 403. Requests with neither header do not come
    from a web page (a command-line client) and pass.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    def allows(self, scope: Scope) -> bool:
        """Whether an unsafe request's ``Origin``/``Sec-Fetch-Site`` name this app."""
        site = _header(scope, b"sec-fetch-site")
        if site is not None and site.strip().lower() not in ("same-origin", "none"):
            return False
        origin = _header(scope, b"origin")
        if origin is None:
            return True
        name, port = split_host(_header(scope, b"host") or "")
        scheme = scope.get("scheme", "http")
        own = (scheme, name, port or (443 if scheme == "https" else 80))
        return bool(name) and _origin_of(origin) == own

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("method", "GET") in UNSAFE_METHODS \
                and not self.allows(scope):
            origin = _shown(_header(scope, b"origin") or _header(scope, b"sec-fetch-site") or "")
            await _refuse(f"refused: the request came from another web page ({origin}); use "
                          "the craftpix page itself")(scope, receive, send)
            return
        await self.app(scope, receive, send)


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
    """Add the security headers, the body limit, the same-origin check and, when the settings
    ask for them, the launch token and the Host check to ``app`` (the Host check outermost)."""

    @app.middleware("http")
    async def headers(request: Request, call_next: Callable[[Request], Any]) -> Response:
        response = await call_next(request)
        for key, value in SECURITY_HEADERS.items():
            response.headers.setdefault(key, value)
        return response

    limit = max(settings.max_upload_bytes, settings.max_palette_bytes,
                settings.max_pattern_bytes) + MULTIPART_SLACK
    app.add_middleware(BodyLimit, limit=limit)
    app.add_middleware(SameOrigin)
    if settings.launch_token:
        app.add_middleware(LaunchToken, token=settings.launch_token)
    if settings.allowed_hosts is not None:
        app.add_middleware(HostCheck, allowed=settings.allowed_hosts)


def rotate_session(request: Request, response: Response, session: Any, state: Any) -> None:
    """Give ``session`` a new token (and cookie) if the request named it by its cookie.

    Called when the user brings their own photo, palette or pattern: a token planted in the
    browser by another page (cookies do not tell ports apart) then stops naming their work.
    A session made by this very request already has a token nobody else knows.
    """
    from craftpix.web.state import COOKIE, set_cookie

    if session.token and request.cookies.get(COOKIE) == session.token:
        state.sessions.rotate(session)
        set_cookie(response, session)
