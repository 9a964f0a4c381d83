"""Per-browser sessions: a private working folder and the pattern's undo history.

A session is named by a random token (a cookie). Its folder under the app's work dir holds
the uploaded photo and palette under fixed names and the files of the latest export; nothing
a client sends becomes part of a path. Idle sessions expire (folder removed); the history is
a list of :class:`~craftpix.pattern.Pattern` values with a cursor, capped in length.
"""

from __future__ import annotations

import secrets
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from craftpix.errors import CraftpixError
from craftpix.palette import Palette
from craftpix.pattern import Pattern


class TooManySessions(CraftpixError):
    """Every session slot is taken by an active session (HTTP 503)."""


@dataclass
class Upload:
    """A stored upload: where it lies in the session folder and what the client called it."""

    path: Path
    label: str  # display only (sanitized)
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class Session:
    """One browser's state. Use ``with session.lock:`` around any change."""

    token: str
    folder: Path
    max_history: int
    last_used: float = field(default_factory=time.monotonic)
    lock: threading.RLock = field(default_factory=threading.RLock)
    image: Upload | None = None
    palette: Upload | None = None
    palette_value: Palette | None = None
    history: list[Pattern] = field(default_factory=list)
    cursor: int = -1  # index of the current pattern in ``history``
    version: int = 0  # grows with every change of the current pattern
    export: dict[str, Any] = field(default_factory=dict)  # export settings of the pattern
    summary: str = ""
    notes: list[str] = field(default_factory=list)
    exported: tuple[int, Path, list[str]] | None = None  # (version, folder, file names)
    form: dict[str, Any] = field(default_factory=dict)  # the values the pattern was made from
    catalog: Palette | None = None  # where edits take new colors (None: the pattern's brand)
    generating: threading.Lock = field(default_factory=threading.Lock)  # one make at a time
    job_catalogs: dict[str, tuple[Palette, dict[str, Any]]] = field(default_factory=dict)

    @property
    def pattern(self) -> Pattern | None:
        return self.history[self.cursor] if 0 <= self.cursor < len(self.history) else None

    def start(self, pattern: Pattern, export: dict[str, Any], summary: str,
              notes: list[str]) -> None:
        """A newly made pattern: a fresh history of one."""
        self.history, self.cursor = [pattern], 0
        self.export, self.summary, self.notes = dict(export), summary, list(notes)
        self.version += 1

    def push(self, pattern: Pattern) -> None:
        """An edit: drop any redo steps, append, keep at most ``max_history`` entries."""
        self.history = self.history[: self.cursor + 1] + [pattern]
        if len(self.history) > self.max_history:
            self.history = self.history[-self.max_history:]
        self.cursor = len(self.history) - 1
        self.version += 1

    def step(self, delta: int) -> bool:
        """Undo (-1) or redo (+1); False when there is nothing to undo or redo."""
        target = self.cursor + delta
        if not 0 <= target < len(self.history):
            return False
        self.cursor = target
        self.version += 1
        return True


class SessionStore:
    """All sessions of one app, each with a folder under ``root``; thread-safe."""

    def __init__(self, root: Path, max_sessions: int, ttl_s: float, max_history: int,
                 on_expire: Callable[[Session], None] | None = None) -> None:
        self.root = root
        self.max_sessions, self.ttl_s, self.max_history = max_sessions, ttl_s, max_history
        self.on_expire = on_expire  # e.g. cancel the session's prompt jobs
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._sessions)

    def get(self, token: str | None) -> Session | None:
        """The live session named ``token`` (its idle clock restarted), or None."""
        if not token:
            return None
        with self._lock:
            s = self._sessions.get(token)
            if s is not None:
                s.last_used = time.monotonic()
            return s

    def create(self) -> Session:
        """A new session with an empty folder; expired ones make room first.

        Raises :class:`TooManySessions` when ``max_sessions`` sessions are all in use.
        """
        self.expire()
        with self._lock:
            if len(self._sessions) >= self.max_sessions:
                raise TooManySessions(
                    f"the app already serves {self.max_sessions} sessions; "
                    "try again when one has been idle for a while")
            token = secrets.token_urlsafe(24)
            folder = self.root / f"s-{secrets.token_hex(8)}"
            folder.mkdir(mode=0o700)
            s = Session(token, folder, self.max_history)
            self._sessions[token] = s
            return s

    def expire(self, now: float | None = None) -> list[Session]:
        """Remove sessions idle longer than the TTL (and their folders); returns them."""
        now = time.monotonic() if now is None else now
        with self._lock:
            old = [s for s in self._sessions.values() if now - s.last_used > self.ttl_s]
            for s in old:
                del self._sessions[s.token]
        for s in old:
            if self.on_expire is not None:
                self.on_expire(s)
            shutil.rmtree(s.folder, ignore_errors=True)
        return old

    def close(self) -> None:
        """Remove every session and its folder (shutdown)."""
        with self._lock:
            sessions = list(self._sessions.values())
            self._sessions.clear()
        for s in sessions:
            shutil.rmtree(s.folder, ignore_errors=True)
