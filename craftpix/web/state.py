"""What one running app holds (:class:`AppState`) and the request dependencies that reach it.

The lifespan of :func:`craftpix.web.app.create_app` makes one :class:`AppState` (work folder,
sessions, prompt-job queue, the janitor thread); endpoints get it, the browser's session and
the current pattern through the dependencies here.
"""

from __future__ import annotations

import logging
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request, Response

from craftpix.errors import CraftpixError
from craftpix.pattern import Pattern
from craftpix.web.jobs import JobLimit, JobNotFound, JobQueue, JobRunner, WorkPool, run_job
from craftpix.web.sessions import Session, SessionStore, TooManySessions, new_work_dir
from craftpix.web.settings import WebSettings
from craftpix.web.uploads import UploadTooLarge

log = logging.getLogger("craftpix.web")

COOKIE = "craftpix_session"


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
        self._root_lock = None
        if settings.work_dir is None:  # stale folders of killed servers are removed first
            self.root, self._root_lock = new_work_dir()
            self.owns_root = True
        else:
            self.root, self.owns_root = Path(settings.work_dir), False
            self.root.mkdir(parents=True, exist_ok=True)
        self.jobs = JobQueue(settings.max_jobs, settings.job_workers, settings.job_timeout_s,
                             target=runner)
        self.sessions = SessionStore(self.root, settings.max_sessions, settings.session_ttl_s,
                                     settings.max_history,
                                     on_expire=lambda s: self.jobs.cancel_owner(s.id),
                                     max_history_bytes=settings.max_history_bytes,
                                     max_total_history_bytes=settings.max_total_history_bytes)
        wait = settings.queue_wait_s  # child processes with time limits, one per session
        self.decoding = WorkPool("reading a photo", settings.max_decodes,
                                 settings.decode_timeout_s, wait)
        self.generations = WorkPool("making a pattern", settings.max_generations,
                                    settings.generate_timeout_s, wait)
        self.exports = WorkPool("writing the files", settings.max_exports,
                                settings.export_timeout_s, wait)
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

    def abort(self) -> None:
        """Stop all child work at once (Ctrl-C, SIGTERM): no lock is taken."""
        for pool in (self.decoding, self.generations, self.exports):
            pool.abort()
        self.jobs.abort()

    def close(self) -> None:
        """Stop jobs and the janitor, remove every session folder (and the work dir we made)."""
        for pool in (self.decoding, self.generations, self.exports):
            pool.close()
        self._stop.set()
        self._janitor.join(timeout=5)
        self.jobs.close()
        self.sessions.close()
        if self.owns_root:
            shutil.rmtree(self.root, ignore_errors=True)
        if self._root_lock is not None:
            self._root_lock.close()

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


def set_cookie(response: Response, session: Session) -> None:
    """Name ``session`` in the browser (HttpOnly, SameSite=Strict)."""
    response.set_cookie(COOKIE, session.token, httponly=True, samesite="strict", path="/")


def read_session(request: Request, state: StateDep) -> Session:
    """This browser's session for a request that changes nothing (GET): the live one, or an
    empty stand-in that is never stored (so a GET — an ``<img>`` on any page, a stale cookie
    after a restart — never takes a session slot)."""
    session = state.sessions.get(request.cookies.get(COOKIE))
    if session is None:
        return Session("", state.root / "none", state.settings.max_history)
    return session


def get_session(request: Request, response: Response,
                state: StateDep) -> Iterator[Session]:
    """This browser's session for a state-changing request; a new one when it has none.

    A new session is kept (and its cookie sent) only when the request succeeds: one that
    ends in an error is discarded, so failed or refused requests never fill the slots.
    """
    session = state.sessions.get(request.cookies.get(COOKIE), use=True)
    if session is None:
        session = state.sessions.create()
        set_cookie(response, session)
        new = True
    else:
        new = False
    try:  # in use (never evicted) until the request ends
        yield session
    except BaseException:
        if new:
            state.sessions.discard(session)
        raise
    finally:
        state.sessions.release(session)


SessionDep = Annotated[Session, Depends(get_session)]
ReadSessionDep = Annotated[Session, Depends(read_session)]


def current(session: Session) -> Pattern:
    """The session's current pattern; 409 when there is none yet."""
    pattern = session.pattern
    if pattern is None:
        raise WebError("there is no pattern yet: pick a photo and make one first", 409)
    return pattern



def get_settings(request: Request) -> WebSettings:
    """The app's :class:`WebSettings`."""
    return request.app.state.settings


SettingsDep = Annotated[WebSettings, Depends(get_settings)]
