"""The web app's limits and places, as one plain dataclass (no FastAPI here)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

MB = 1024 * 1024


@dataclass(frozen=True)
class WebSettings:
    """Everything :func:`craftpix.web.create_app` needs to know; all limits in one place.

    Sizes are in bytes, times in seconds, images in pixels. ``work_dir`` is the parent of the
    per-session folders (``None``: a new folder under the system's temp dir, removed at
    shutdown). ``allowed_hosts`` are the ``Host`` header names answered (``craftpix serve``
    on this computer answers only its local names, so another web site cannot reach the app
    through DNS rebinding; entries are names or IP networks such as ``127.0.0.0/8``), and
    ``launch_token``, when set, must come with every request (``craftpix serve`` sets one for
    an address other computers can reach). Decoding, making and exporting run in child
    processes, at most ``max_decodes`` / ``max_generations`` / ``max_exports`` at once and one
    per session, each stopped after its ``*_timeout_s``. ``sds`` is the :class:`craftpix.engines.sds.settings.SDSSettings` prompt jobs run
    with (``None``: the engine's defaults, i.e. the SDXL models from the local hub cache).
    """

    max_upload_bytes: int = 25 * MB  # one photo
    max_palette_bytes: int = 1 * MB  # a palette file (CSV, GIMP .gpl, .hex)
    max_pattern_bytes: int = 8 * MB  # an uploaded pattern.json
    max_pixels: int = 40_000_000  # decoded photo size (decompression bombs)
    max_sessions: int = 32  # browser sessions with a working folder
    session_ttl_s: float = 2 * 3600  # an idle session's folder is removed after this
    max_history: int = 60  # undo steps kept per session
    max_history_bytes: int = 16 * MB  # undo steps' cells per session (compact, diffs)
    max_total_history_bytes: int = 256 * MB  # undo steps of all sessions together
    max_meta_bytes: int = 64 * 1024  # an uploaded pattern's ``meta`` (as JSON)
    max_generations: int = 2  # photo patterns computed at the same time
    max_jobs: int = 4  # prompt jobs queued or running, all sessions together
    job_workers: int = 1  # prompt jobs running at the same time (one GPU)
    job_timeout_s: float = 3600.0  # a prompt job running longer is stopped
    janitor_every_s: float = 60.0  # how often expired sessions and finished jobs are removed
    work_dir: Path | None = None
    sds: Any = None
    allowed_hosts: tuple[str, ...] | None = None  # Host headers served (None: any); DNS rebinding
    launch_token: str | None = None  # when set, every request needs it (?token= or its cookie)
    max_decodes: int = 2  # photos checked (decoded) at the same time
    decode_timeout_s: float = 30.0  # decoding one photo longer than this is stopped
    generate_timeout_s: float = 180.0  # making one photo pattern longer than this is stopped
    max_exports: int = 2  # downloads (exports) written at the same time
    export_timeout_s: float = 180.0  # writing one pattern's files longer than this is stopped
    queue_wait_s: float = 60.0  # a request waits this long for a decode/generate/export slot

    def __post_init__(self) -> None:
        for name in ("max_upload_bytes", "max_palette_bytes", "max_pattern_bytes",
                     "max_pixels", "max_sessions", "max_history", "max_generations",
                     "max_history_bytes", "max_total_history_bytes", "max_meta_bytes",
                     "max_jobs", "job_workers", "max_decodes", "max_exports"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be at least 1")
        for name in ("session_ttl_s", "job_timeout_s", "janitor_every_s", "decode_timeout_s",
                     "generate_timeout_s", "export_timeout_s", "queue_wait_s"):
            if not float(getattr(self, name)) > 0:
                raise ValueError(f"{name} must be positive")
