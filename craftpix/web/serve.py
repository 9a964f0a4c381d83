"""``craftpix serve``: run the web app on this computer and open it in the browser."""

from __future__ import annotations

import threading
import time
import webbrowser
from collections.abc import Callable
from typing import Any

import click

from craftpix.clibase import OneLineCommand
from craftpix.errors import InputError

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


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

    local = host in ("127.0.0.1", "localhost")  # (Starlette's host check has no IPv6)
    settings = WebSettings(max_upload_bytes=int(max_upload_mb * 1024 * 1024),
                           max_jobs=max_jobs, job_timeout_s=job_timeout,
                           allowed_hosts=("127.0.0.1", "localhost") if local else None)
    app = create_app(settings)
    if host not in LOCAL_HOSTS:
        click.echo(f"warning: listening on {host}: other computers on the network can use the "
                   "app", err=True)
    # uvicorn's own log stays quiet: failures reach the user as one craftpix line, and the
    # app logs unexpected errors itself (logger "craftpix.web")
    config = uvicorn.Config(app, host=host, port=port, log_level="critical")
    server = uvicorn.Server(config)

    def announce() -> None:
        bound = port
        for s in getattr(server, "servers", []):  # the real port when --port 0
            for sock in s.sockets:
                bound = sock.getsockname()[1]
        url = app_url(host, bound)
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
