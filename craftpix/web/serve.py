"""``craftpix serve``: run the web app on this computer and open it in the browser."""

from __future__ import annotations

import secrets
import threading
import time
import webbrowser
from collections.abc import Callable
from types import FrameType
from typing import Any

import click

from craftpix.clibase import OneLineCommand
from craftpix.errors import InputError

#: seconds uvicorn waits for open requests at Ctrl-C / SIGTERM (child work is stopped at once)
GRACEFUL_S = 1


@click.command("serve", cls=OneLineCommand)
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but this computer lets others on the "
                   "network use the app.")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True,
              help="Port to listen on.")
@click.option("--no-browser", is_flag=True, help="Do not open the app in a browser.")
@click.option("--max-upload-mb", type=click.FloatRange(0.1, 1024), default=25.0,
              show_default=True, help="Largest photo accepted, in megabytes.")
@click.option("--max-jobs", type=click.IntRange(1, 100), default=4, show_default=True,
              help="Prompt jobs queued or running at once.")
@click.option("--job-timeout", type=click.FloatRange(1, None), default=3600.0,
              show_default=True, help="A prompt job running longer is stopped (seconds).")
def serve_command(host: str, port: int, no_browser: bool, max_upload_mb: float,
                  max_jobs: int, job_timeout: float) -> None:
    """Run the craftpix web app (photo → pattern, edits, downloads) in your browser."""
    try:
        import uvicorn
    except ImportError:
        raise InputError('the web app needs uvicorn and fastapi: pip install craftpix') from None
    from craftpix.web import WebSettings, create_app
    from craftpix.web.security import hosts_for_bind, is_loopback

    local = is_loopback(host)
    # a loopback bind answers only loopback names (DNS rebinding); any other bind also needs
    # the launch token, printed once below, as notebook servers do
    settings = WebSettings(max_upload_bytes=int(max_upload_mb * 1024 * 1024),
                           max_jobs=max_jobs, job_timeout_s=job_timeout,
                           allowed_hosts=hosts_for_bind(host),
                           launch_token=None if local else secrets.token_urlsafe(24))
    app = create_app(settings)
    if not local:
        click.echo(f"warning: listening on {host}: other computers on the network can use the "
                   "app with the address below (it holds the app's launch token)", err=True)
    # uvicorn's own log stays quiet: failures reach the user as one craftpix line, and the
    # app logs unexpected errors itself (logger "craftpix.web")
    config = uvicorn.Config(app, host=host, port=port, log_level="critical",
                            timeout_graceful_shutdown=GRACEFUL_S)
    server = _server_class(uvicorn, app)(config)

    def announce() -> None:
        bound = port
        for s in getattr(server, "servers", []):  # the real port when --port 0
            for sock in s.sockets:
                bound = sock.getsockname()[1]
        url = app_url(host, bound)
        if settings.launch_token:
            url += f"?token={settings.launch_token}"
        click.echo(f"craftpix is running at {url} (Ctrl+C to stop)")
        if not no_browser:
            webbrowser.open(url)

    threading.Thread(target=_when_started, args=(server, announce), daemon=True).start()
    try:
        server.run()
    except SystemExit:  # uvicorn exits when it cannot bind
        if server.started:
            raise
    if not server.started:
        raise InputError(f"cannot listen on {host} port {port} (in use, or not an address "
                         "of this computer); try another --port")


def _server_class(uvicorn: Any, app: Any) -> type:
    """uvicorn's ``Server`` that, at Ctrl-C or SIGTERM, also stops the app's child work.

    uvicorn waits for open requests before it shuts the app down; a request waiting for a
    photo's decoding, a pattern or an export (each in a child process) would hold the server
    for as long as that takes. Stopping the children at the signal ends those requests at
    once (503 "the app is shutting down"), so the server is gone within about a second.
    """

    class Server(uvicorn.Server):  # type: ignore[misc,name-defined]
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            super().handle_exit(sig, frame)
            state = getattr(app.state, "craftpix", None)
            if state is not None:
                state.abort()

    return Server


def app_url(host: str, port: int) -> str:
    """The address to open for a server bound to ``host``:``port``."""
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    return f"http://{f'[{host}]' if ':' in host else host}:{port}/"


def _when_started(server: Any, then: Callable[[], None]) -> None:
    """Call ``then()`` once uvicorn is accepting connections (it sets ``started``)."""
    while not server.started:
        if server.should_exit:
            return
        time.sleep(0.05)
    then()
