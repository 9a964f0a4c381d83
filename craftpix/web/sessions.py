"""Per-browser sessions: a private working folder and the pattern's undo history.

A session is named by a random token (a cookie; rotated on every upload, so a token planted
in a browser by another page stops working as soon as the user brings their own photo or
pattern) and has a stable private ``id`` its prompt jobs belong to. Its folder under the app's
work dir holds the uploaded photo and palette under fixed names and the files of the latest
export; nothing a client sends becomes part of a path. Sessions are made only by a successful
state-changing request; idle sessions expire (folder removed) and, when every slot is taken,
the longest-idle *empty* session (no photo, palette, pattern or job) makes room.

The undo history (:class:`History`) keeps its steps as compact cells — ``uint8`` (up to 255
colors) or ``uint16``, 0 meaning empty — and, between neighbouring steps, only the cells that
changed; a step is a full frame only when its diff would be larger than half a frame. Its
size in bytes is bounded per session (``max_history_bytes``) and for the whole app
(``SessionStore.max_total_history_bytes``): the oldest steps go first.
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

import numpy as np

from craftpix.errors import CraftpixError
from craftpix.palette import Palette
from craftpix.pattern import Color, Pattern

#: bytes a step's palette, meta and bookkeeping are counted as, besides its cell arrays
STEP_OVERHEAD = 512


class TooManySessions(CraftpixError):
    """Every session slot is taken by an active session (HTTP 503)."""


@dataclass
class Upload:
    """A stored upload: where it lies in the session folder and what the client called it."""

    path: Path
    label: str  # display only (sanitized)
    info: dict[str, Any] = field(default_factory=dict)


def _compact(cells: np.ndarray, colors: int) -> np.ndarray:
    """``cells`` (-1 empty, else a palette index) as ``uint8``/``uint16`` with 0 = empty."""
    dtype = np.uint8 if colors < 255 else np.uint16  # palettes hold at most 5000 colors
    return (np.asarray(cells) + 1).astype(dtype)


@dataclass
class _Step:
    frame: np.ndarray | None  # compact cells, or None: ``diff`` against the step before
    diff: tuple[np.ndarray, np.ndarray] | None  # (flat indices uint32, compact values)
    palette: tuple[Color, ...]
    medium: str
    brand: str
    meta: dict[str, Any]
    settings: dict[str, Any]
    shape: tuple[int, int]
    nbytes: int
    context: Any = None  # what the owner keeps with this step (the web: form, export, notes)


class History:
    """Undo steps of one session as compact frames and diffs, bounded in count and bytes.

    ``len(history)`` is the number of steps, ``history.cursor`` the current one. Patterns go
    in and come out as :class:`~craftpix.pattern.Pattern`; only the current one is kept whole.
    """

    def __init__(self, max_steps: int, max_bytes: int) -> None:
        self.max_steps, self.max_bytes = max_steps, max_bytes
        self._steps: list[_Step] = []
        self.cursor = -1
        self._current: Pattern | None = None

    def __len__(self) -> int:
        return len(self._steps)

    @property
    def nbytes(self) -> int:
        """Bytes the steps hold (cell arrays plus a fixed overhead per step)."""
        return sum(s.nbytes for s in self._steps)

    @property
    def current(self) -> Pattern | None:
        return self._current

    @property
    def context(self) -> Any:
        """The ``context`` pushed with the current step (None when there is none)."""
        return self._steps[self.cursor].context if self._steps else None

    def _cells(self, k: int) -> np.ndarray:
        """Compact cells of step ``k``: its last full frame with the diffs after it."""
        j = k
        while self._steps[j].frame is None:
            j -= 1
        frame = self._steps[j].frame
        assert frame is not None
        cells = frame.copy()
        for s in self._steps[j + 1: k + 1]:
            assert s.diff is not None
            if cells.dtype != s.diff[1].dtype:
                cells = cells.astype(s.diff[1].dtype)
            cells.reshape(-1)[s.diff[0]] = s.diff[1]
        return cells

    def _pattern(self, k: int) -> Pattern:
        s = self._steps[k]
        cells = self._cells(k).astype(np.int64) - 1
        return Pattern(cells, list(s.palette), s.medium, s.brand, dict(s.meta),
                       dict(s.settings))

    def reset(self, pattern: Pattern, context: Any = None) -> None:
        """A history of one step: ``pattern`` (with ``context``)."""
        self._steps, self.cursor, self._current = [], -1, None
        self.push(pattern, context)

    def push(self, pattern: Pattern, context: Any = None) -> None:
        """Drop any redo steps, append ``pattern`` (with ``context``, kept as given), then trim
        to the count and byte limits."""
        del self._steps[self.cursor + 1:]
        cells = _compact(pattern.cells, len(pattern.palette))
        step_meta = (tuple(pattern.palette), pattern.medium, pattern.brand, dict(pattern.meta),
                     dict(pattern.settings), (pattern.height, pattern.width))
        frame: np.ndarray | None = cells
        diff = None
        if self._steps and self._steps[-1].shape == step_meta[5]:
            before = self._cells(len(self._steps) - 1)
            changed = np.flatnonzero(before.reshape(-1) != cells.reshape(-1)).astype(np.uint32)
            values = cells.reshape(-1)[changed]
            if changed.nbytes + values.nbytes < cells.nbytes // 2:
                frame, diff = None, (changed, values)
        size = STEP_OVERHEAD + (frame.nbytes if frame is not None else
                                diff[0].nbytes + diff[1].nbytes if diff else 0)
        self._steps.append(_Step(frame, diff, *step_meta, nbytes=size, context=context))
        self.cursor = len(self._steps) - 1
        self._current = pattern
        self.trim(self.max_bytes)

    def drop_oldest(self) -> bool:
        """Forget the oldest step (never the current one); False when there is none to drop."""
        if len(self._steps) < 2 or self.cursor == 0:
            return False
        nxt = self._steps[1]
        if nxt.frame is None:
            nxt.frame = self._cells(1)
            nxt.diff = None
            nxt.nbytes = STEP_OVERHEAD + nxt.frame.nbytes
        del self._steps[0]
        self.cursor -= 1
        return True

    def trim(self, max_bytes: int) -> None:
        """Drop the oldest steps until at most ``max_steps`` steps and ``max_bytes`` remain."""
        while (len(self._steps) > self.max_steps or self.nbytes > max_bytes) \
                and self.drop_oldest():
            pass

    def step(self, delta: int) -> bool:
        """Move the cursor by ``delta``; False (and no move) when out of range."""
        target = self.cursor + delta
        if not 0 <= target < len(self._steps):
            return False
        self.cursor = target
        self._current = self._pattern(target)
        return True


@dataclass
class Session:
    """One browser's state. Use ``with session.lock:`` around any change."""

    token: str
    folder: Path
    max_history: int
    max_history_bytes: int = 16 * 1024 * 1024
    id: str = field(default_factory=lambda: secrets.token_hex(8))  # jobs belong to this
    last_used: float = field(default_factory=time.monotonic)
    lock: threading.RLock = field(default_factory=threading.RLock)
    image: Upload | None = None
    palette: Upload | None = None
    palette_value: Palette | None = None
    history: History = field(init=False)
    version: int = 0  # grows with every change of the current pattern
    export: dict[str, Any] = field(default_factory=dict)  # export settings of the pattern
    summary: str = ""
    notes: list[str] = field(default_factory=list)
    exported: tuple[int, Path, list[str]] | None = None  # (version, folder, file names)
    form: dict[str, Any] = field(default_factory=dict)  # the values the pattern was made from
    catalog: Palette | None = None  # where edits take new colors (None: the pattern's brand)
    generating: threading.Lock = field(default_factory=threading.Lock)  # one make at a time
    job_catalogs: dict[str, tuple[Palette, dict[str, Any]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.history = History(self.max_history, self.max_history_bytes)

    @property
    def pattern(self) -> Pattern | None:
        return self.history.current

    @property
    def cursor(self) -> int:
        """Index of the current pattern in ``history``."""
        return self.history.cursor

    @property
    def empty(self) -> bool:
        """Nothing of the user's here: no photo, palette, pattern or prompt job."""
        return (self.image is None and self.palette is None and self.pattern is None
                and not self.job_catalogs)

    def _context(self) -> dict[str, Any]:
        """What a step keeps besides the pattern: export settings, summary, notes, form and
        catalog, as they are when the step is pushed (undo and redo bring them back)."""
        return {"export": dict(self.export), "summary": self.summary, "notes": list(self.notes),
                "form": dict(self.form), "catalog": self.catalog}

    def start(self, pattern: Pattern, export: dict[str, Any], summary: str,
              notes: list[str], keep_history: bool = False) -> None:
        """A newly made pattern: a fresh history of one, or (``keep_history``, when there is
        a pattern already) one more undoable step. Set ``form`` and ``catalog`` first."""
        self.export, self.summary, self.notes = dict(export), summary, list(notes)
        if keep_history and self.pattern is not None:
            self.history.push(pattern, self._context())
        else:
            self.history.reset(pattern, self._context())
        self.version += 1

    def push(self, pattern: Pattern) -> None:
        """An edit: drop any redo steps, append, keep within the history's limits."""
        self.history.push(pattern, self._context())
        self.version += 1

    def step(self, delta: int) -> bool:
        """Undo (-1) or redo (+1), with that step's export settings, notes, form and
        catalog; False when there is nothing to undo or redo."""
        if not self.history.step(delta):
            return False
        ctx = self.history.context
        if isinstance(ctx, dict):
            self.export, self.summary = dict(ctx["export"]), ctx["summary"]
            self.notes, self.form, self.catalog = list(ctx["notes"]), dict(ctx["form"]), \
                ctx["catalog"]
        self.version += 1
        return True


class SessionStore:
    """All sessions of one app, each with a folder under ``root``; thread-safe."""

    def __init__(self, root: Path, max_sessions: int, ttl_s: float, max_history: int,
                 on_expire: Callable[[Session], None] | None = None,
                 max_history_bytes: int = 16 * 1024 * 1024,
                 max_total_history_bytes: int = 256 * 1024 * 1024) -> None:
        self.root = root
        self.max_sessions, self.ttl_s, self.max_history = max_sessions, ttl_s, max_history
        self.max_history_bytes = max_history_bytes
        self.max_total_history_bytes = max_total_history_bytes
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
        """A new session with an empty folder; expired ones, then the longest-idle empty one
        (:attr:`Session.empty`), make room first.

        Raises :class:`TooManySessions` when ``max_sessions`` sessions all hold something.
        """
        self.expire()
        evicted = None
        with self._lock:
            if len(self._sessions) >= self.max_sessions:
                empty = [s for s in self._sessions.values() if s.empty]
                if not empty:
                    raise TooManySessions(
                        f"the app already serves {self.max_sessions} sessions; "
                        "try again when one has been idle for a while")
                evicted = min(empty, key=lambda s: s.last_used)
                del self._sessions[evicted.token]
            token = secrets.token_urlsafe(24)
            self.root.mkdir(parents=True, exist_ok=True)  # the work folder may have been removed
            folder = self.root / f"s-{secrets.token_hex(8)}"
            folder.mkdir(mode=0o700)
            s = Session(token, folder, self.max_history, self.max_history_bytes)
            self._sessions[token] = s
        if evicted is not None:
            self._remove(evicted)
        return s

    def discard(self, session: Session) -> None:
        """Forget ``session`` and remove its folder (a new session whose request failed)."""
        with self._lock:
            if self._sessions.get(session.token) is session:
                del self._sessions[session.token]
        self._remove(session)

    def rotate(self, session: Session) -> str:
        """Give ``session`` a new token (the old one stops working); returns it."""
        with self._lock:
            self._sessions.pop(session.token, None)
            session.token = secrets.token_urlsafe(24)
            self._sessions[session.token] = session
            return session.token

    def enforce_history_budget(self) -> None:
        """Drop the oldest undo steps of the largest histories until all histories together
        hold at most ``max_total_history_bytes``."""
        with self._lock:
            sessions = list(self._sessions.values())
        total = sum(s.history.nbytes for s in sessions)
        while total > self.max_total_history_bytes:
            big = max(sessions, key=lambda s: s.history.nbytes)
            before = big.history.nbytes
            with big.lock:
                dropped = big.history.drop_oldest()
            if not dropped:
                sessions.remove(big)
                if not sessions:
                    return
                continue
            total -= before - big.history.nbytes

    def _remove(self, s: Session) -> None:
        if self.on_expire is not None:
            self.on_expire(s)
        shutil.rmtree(s.folder, ignore_errors=True)

    def expire(self, now: float | None = None) -> list[Session]:
        """Remove sessions idle longer than the TTL (and their folders); returns them."""
        now = time.monotonic() if now is None else now
        with self._lock:
            old = [s for s in self._sessions.values() if now - s.last_used > self.ttl_s]
            for s in old:
                del self._sessions[s.token]
        for s in old:
            self._remove(s)
        return old

    def close(self) -> None:
        """Remove every session and its folder (shutdown)."""
        with self._lock:
            sessions = list(self._sessions.values())
            self._sessions.clear()
        for s in sessions:
            shutil.rmtree(s.folder, ignore_errors=True)
