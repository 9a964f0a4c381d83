"""Output files that are never half written, and an output folder that changes as one unit.

Two levels:

* :func:`atomic_path` / :func:`write_bytes` / :func:`write_text`: one file appears complete
  under its final name, or not at all (temporary file beside it, then ``os.replace``).
* :class:`OutputSet`: the whole set of files a run writes into ``--out`` (``pattern.json``,
  previews, PDF, machine files) is published as one transaction.

How an :class:`OutputSet` works (a write-ahead journal, as databases and package managers use):

1. The folder is locked (``flock`` on the folder itself), so a second run into the same
   folder waits, then fails with one line. Under the lock, leftovers of a killed run are
   cleaned: staging folders, ``.craftpix-tmp.*`` files and the ``.NAME.XXXXXXXX.EXT`` temp
   files of earlier craftpix versions; a publish that a kill cut short is finished.
2. Every file is written into a staging folder (``.craftpix-staging-*``) inside ``--out`` —
   on the same filesystem as the published files, so every later step is a rename.
3. Publish: the staging folder gets the new manifest (``.craftpix-manifest.json``: name, size
   and SHA-256 of each file craftpix owns), then is renamed to ``.craftpix-publish``. That
   rename is the commit point: before it the previous set is untouched, after it the new set
   is the truth. The files are then renamed into place, files of the previous manifest that
   the new set does not have (an old ``pattern.dst``, an old PDF after ``--no-pdf``) are
   removed, and the manifest is renamed last. SIGINT and SIGTERM are held back during these
   renames; a SIGKILL among them leaves the journal, which the next run into the folder
   (or :func:`recover`) completes before doing anything else.

Only files named in craftpix's previous manifest are ever removed, and only while their
content is still what craftpix wrote (size and SHA-256): a user's own file, or a craftpix
file the user has since changed, is never deleted.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from craftpix.errors import CraftpixError, InputError, printable

try:  # POSIX; elsewhere runs into one folder are not serialized
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

# mkstemp makes 0600 files; finished outputs get the mode a plain open() would give them.
_UMASK = os.umask(0o022)
os.umask(_UMASK)

MANIFEST = ".craftpix-manifest.json"
JOURNAL = ".craftpix-publish"
STAGING_PREFIX = ".craftpix-staging-"
TEMP_PREFIX = ".craftpix-tmp."
MANIFEST_FORMAT = "craftpix.outputs"
#: temp files of craftpix before 0.2 (``.pattern.k3j_x9a2.pdf``): removed when found in --out
_LEGACY_TEMP = re.compile(r"\.(pattern|preview|preview-pixels)\.[a-z0-9_]{8}\.[a-z0-9]{2,4}")
_POLL_S = 0.05


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it over ``path``.

    For libraries that insist on writing a file themselves (PIL, reportlab, pyembroidery).
    The temporary name is ``.craftpix-tmp.XXXXXXXX.<name>`` (it keeps the suffix, from which
    libraries pick the format). On any exception the temporary file is removed and ``path``
    is left untouched; an ``OSError`` about the temporary file names ``path`` instead.
    """
    target = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=f".{target.name}",
                                   dir=target.parent)
    except OSError as exc:
        exc.filename = str(target)
        raise
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_UMASK)
        os.replace(tmp_path, target)
    except BaseException as exc:
        tmp_path.unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.filename in (tmp, str(tmp_path)):
            exc.filename = str(target)
        raise


def write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically and return the path."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically and return the path.

    Raises :class:`InputError` for text that cannot be UTF-8 (a lone surrogate), before any
    file is touched.
    """
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InputError(f"cannot write {printable(path)}: the text holds a character that is "
                         f"not valid Unicode ({exc.object[exc.start:exc.end]!a})") from None
    return write_bytes(path, data)


def ensure_out_dir(path: str | os.PathLike[str]) -> Path:
    """Create the output folder if needed and check that we can write into it."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise InputError(f"output path {printable(out)} exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create output folder {printable(out)}: "
                         f"{exc.strerror or exc}") from None
    if not out.is_dir():
        raise InputError(f"output path {printable(out)} exists and is not a folder")
    if not os.access(out, os.W_OK | os.X_OK):
        raise InputError(f"output folder {printable(out)} is not writable")
    return out


def describe_os_error(exc: OSError) -> str:
    """One line for an ``OSError``: what failed and the path it failed on."""
    what = exc.strerror or str(exc) or type(exc).__name__
    if exc.filename is not None:
        where = printable(exc.filename)
        if exc.filename2 is not None:
            where += f" -> {printable(exc.filename2)}"
        return f"{what}: {where}"
    return what


# --- the manifest ---------------------------------------------------------------------------
def _plain_name(name: Any) -> bool:
    """A file name craftpix may own: one path component, not hidden machinery."""
    return (isinstance(name, str) and name not in ("", ".", "..") and "/" not in name
            and os.sep not in name and "\0" not in name and not name.startswith(".craftpix"))


def _digest(path: Path) -> dict[str, Any]:
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    return {"size": size, "sha256": h.hexdigest()}


def read_manifest(folder: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """The files craftpix owns in ``folder``: ``{name: {"size", "sha256"}}`` (``{}`` if none).

    A manifest that is unreadable or malformed owns nothing (so nothing is ever removed on
    its word); entries with names that are not plain file names are ignored.
    """
    try:
        data = json.loads(Path(folder, MANIFEST).read_text(encoding="utf-8"))
        files = data["files"] if data.get("format") == MANIFEST_FORMAT else {}
    except (OSError, ValueError, TypeError, KeyError, AttributeError, RecursionError):
        return {}
    if not isinstance(files, dict):
        return {}
    return {name: info for name, info in files.items()
            if _plain_name(name) and isinstance(info, dict)}


def _unchanged(path: Path, info: dict[str, Any]) -> bool:
    """Whether ``path`` is a regular file whose content is still what the manifest says."""
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size != info.get("size"):
            return False
        return _digest(path)["sha256"] == info.get("sha256")
    except OSError:
        return False


def _fsync(path: Path, directory: bool = False) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some filesystems refuse fsync on folders; the renames still happened
        pass
    finally:
        os.close(fd)


# --- signals ------------------------------------------------------------------------------
@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back for the duration; deliver them afterwards.

    Used around the renames of a publish so that Ctrl-C or ``kill`` never splits a set. Only
    the main thread receives Python signal handlers; elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []
    previous: dict[int, Any] = {}

    def hold(signum: int, frame: Any) -> None:
        del frame
        pending.append(signum)

    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, hold)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for sig in dict.fromkeys(pending):
            signal.raise_signal(sig)


# --- recovery and clean-up ------------------------------------------------------------------
def recover(folder: str | os.PathLike[str]) -> list[str]:
    """Finish a publish that was cut short (by SIGKILL or a power cut) in ``folder``.

    Idempotent; call it with the folder locked (:class:`OutputSet` does). Returns notes for
    the user (files kept because they changed since craftpix wrote them).
    """
    out = Path(folder)
    journal = out / JOURNAL
    if not journal.is_dir():
        return []
    new_manifest = journal / MANIFEST
    if not new_manifest.is_file():  # the manifest moves last: the publish had finished
        shutil.rmtree(journal, ignore_errors=True)
        return []
    try:
        new = json.loads(new_manifest.read_text(encoding="utf-8"))["files"]
        if not isinstance(new, dict):
            raise TypeError("files is not an object")
    except (ValueError, KeyError, TypeError) as exc:  # written by hand, or a damaged disk
        raise InputError(f"an interrupted publish in {printable(out)} cannot be completed "
                         f"(its journal is damaged: {type(exc).__name__}); remove "
                         f"{printable(journal)} and run again") from None
    old = read_manifest(out)
    for name in new:
        src = journal / name
        if _plain_name(name) and os.path.lexists(src):
            os.replace(src, out / name)
    notes = []
    for name, info in old.items():
        if name in new:
            continue
        path = out / name
        if _unchanged(path, info):
            path.unlink()
        elif path.exists():
            notes.append(f"kept {printable(path)} from an earlier run: it was changed after "
                         "craftpix wrote it (delete it if it is no longer wanted)")
    os.replace(new_manifest, out / MANIFEST)
    shutil.rmtree(journal, ignore_errors=True)
    _fsync(out, directory=True)
    return notes


def settle(folder: str | os.PathLike[str], wait: float = 5.0) -> list[str]:
    """Before reading ``folder``: finish a publish a kill cut short there (under the folder's
    lock, waiting up to ``wait`` s for a run in progress), so no reader sees half a set.

    Returns :func:`recover`'s notes; does nothing (``[]``) when no publish is pending or the
    folder cannot be locked for writing (a read-only folder is read as it is).
    """
    out = Path(folder)
    if not (out / JOURNAL).is_dir() or not os.access(out, os.W_OK | os.X_OK):
        return []
    fd = _lock_folder(out, wait)
    try:
        return recover(out)
    finally:
        if fd is not None:
            os.close(fd)


def clean_leftovers(folder: str | os.PathLike[str]) -> list[str]:
    """Remove what killed runs left in ``folder``: staging folders and temp files.

    Call it with the folder locked. Returns the names removed.
    """
    out = Path(folder)
    removed = []
    try:
        entries = list(os.scandir(out))
    except OSError:
        return removed
    for entry in entries:
        name = entry.name
        try:
            if name.startswith(STAGING_PREFIX) and entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            elif ((name.startswith(TEMP_PREFIX) or _LEGACY_TEMP.fullmatch(name))
                  and entry.is_file(follow_symlinks=False)):
                os.unlink(entry.path)
            else:
                continue
        except OSError:
            continue
        removed.append(name)
    return removed


# --- the lock -------------------------------------------------------------------------------
def _lock_folder(out: Path, wait: float) -> int | None:
    """Lock folder ``out`` (an exclusive ``flock`` on the folder itself); return the fd.

    Waits up to ``wait`` seconds for another craftpix run, then raises :class:`InputError`.
    Returns ``None`` where the platform or filesystem has no such locks.
    """
    if fcntl is None:  # pragma: no cover - Windows
        return None
    deadline = time.monotonic() + max(0.0, wait)
    while True:
        fd = os.open(out, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            if time.monotonic() >= deadline:
                waited = f" (waited {wait:g} s)" if wait > 0 else ""
                raise InputError(
                    f"output folder {printable(out)} is in use by another craftpix run{waited}; "
                    "wait for it to finish or choose another --out") from None
            time.sleep(_POLL_S)
            continue
        except OSError as exc:  # e.g. NFS without flock on folders: run unserialized
            os.close(fd)
            if exc.errno in (errno.ENOLCK, errno.EBADF, errno.EINVAL, errno.EOPNOTSUPP):
                return None
            raise
        # The folder may have been removed (and made anew) while we waited for it.
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(out))
        except OSError:
            same = False
        if same:
            return fd
        os.close(fd)
        out.mkdir(parents=True, exist_ok=True)


# --- the transaction ------------------------------------------------------------------------
class OutputSet:
    """The files of one run in an output folder, published as one unit.

    ::

        with OutputSet("my-pattern") as outputs:
            pattern.save(outputs.staging / "pattern.json")
            export_pattern(pattern, outputs.staging, ...)
            outputs.publish()

    Entering creates the folder if needed (and its parents), locks it (waiting up to ``wait``
    seconds for another run), completes an interrupted publish and removes leftovers of killed
    runs. Files go into :attr:`staging`. :meth:`publish` makes them the folder's output set;
    leaving the block without publishing (an error, Ctrl-C, SIGTERM) removes the staging
    folder and leaves the previous set as it was — and removes the output folder again if
    this run created it and it is still empty. An ``OSError`` while the set is written
    becomes an :class:`InputError` naming the final path. Raises :class:`InputError` for an
    output path that is a file, a folder that cannot be created or written, a folder in use.
    """

    def __init__(self, out: str | os.PathLike[str], *, wait: float = 0.0) -> None:
        self.out = Path(out)
        self.wait = wait
        self.notes: list[str] = []
        self.published: list[Path] | None = None
        self._staging: Path | None = None
        self._created: list[Path] = []
        self._fd: int | None = None
        self._kept: set[str] = set()

    @property
    def staging(self) -> Path:
        """The folder to write this run's files into (only while the set is open)."""
        if self._staging is None:
            raise RuntimeError("the output set is not open")
        return self._staging

    def __enter__(self) -> OutputSet:
        out = self.out
        missing = []
        p = out
        while not os.path.lexists(p) and p != p.parent:
            missing.append(p)
            p = p.parent
        ensure_out_dir(out)
        self._created = missing  # deepest first
        try:
            self._fd = _lock_folder(out, self.wait)
            self.notes += recover(out)
            clean_leftovers(out)
            self._staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=out))
        except BaseException as exc:
            self._close(failed=True)
            if isinstance(exc, OSError):
                raise InputError(f"cannot prepare output folder {printable(out)}: "
                                 f"{describe_os_error(exc)}") from None
            raise
        return self

    def final(self, path: str | os.PathLike[str]) -> Path:
        """Where a file written into :attr:`staging` ends up once published."""
        return self.out / Path(path).relative_to(self.staging)

    def keep(self, name: str) -> None:
        """Carry ``out/name`` into the new set unchanged, if craftpix owns it already.

        For ``craftpix export``: the ``pattern.json`` the exports were made from stays part
        of the set. A file craftpix does not own is left alone either way.
        """
        if _plain_name(name) and name in read_manifest(self.out):
            self._kept.add(name)

    def keep_unchanged(self) -> list[str]:
        """:meth:`keep` every file craftpix owns in the folder whose content is still what it
        wrote; return their names (sorted). A file the new set writes replaces its kept one."""
        names = sorted(name for name, info in read_manifest(self.out).items()
                       if _unchanged(self.out / name, info))
        self._kept.update(names)
        return names

    def publish(self) -> list[Path]:
        """Make the staged files the folder's output set; return their final paths.

        Raises :class:`InputError` (nothing published) when a name the set needs is taken by
        a folder.
        """
        staging = self.staging
        out = self.out
        names = sorted(e.name for e in os.scandir(staging)
                       if _plain_name(e.name) and e.is_file(follow_symlinks=False))
        for name in names:
            target = out / name
            if target.is_dir() and not target.is_symlink():
                raise InputError(f"cannot write {printable(target)}: a folder has that name; "
                                 "move it away or choose another --out")
        files = {}
        for name in names:
            files[name] = _digest(staging / name)
            _fsync(staging / name)
        for name in sorted(self._kept - set(names)):
            if (out / name).is_file():
                files[name] = _digest(out / name)
        manifest = {"format": MANIFEST_FORMAT, "version": 1, "files": files}
        write_text(staging / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True) + "\n")
        _fsync(staging, directory=True)
        with signals_held():
            os.rename(staging, out / JOURNAL)  # the commit point
            self._staging = None
            self.published = [out / n for n in names]
            self.notes += recover(out)
        return self.published

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        failed = self.published is None
        self._close(failed=failed)
        if exc is None:
            return
        if isinstance(exc, KeyboardInterrupt):
            exc.craftpix_note = (  # type: ignore[attr-defined]
                f"{printable(self.out)} was left as it was" if failed
                else f"{printable(self.out)} holds the new set (it was complete)")
        elif isinstance(exc, OSError) and not isinstance(exc, CraftpixError):
            raise InputError(f"cannot write output: {self._describe(exc)}") from None

    def _describe(self, exc: OSError) -> str:
        """``describe_os_error`` with paths in the staging folder told as their final path."""
        names = []
        for filename in (exc.filename, exc.filename2):
            if filename is None:
                names.append(None)
                continue
            text = os.fsdecode(filename) if isinstance(filename, bytes) else str(filename)
            m = re.search(re.escape(STAGING_PREFIX) + r"[^/]*/(?:"
                          + re.escape(TEMP_PREFIX) + r"[^.]*\.)?(.*)$", text)
            names.append(str(self.out / m.group(1)) if m else text)
        return describe_os_error(OSError(exc.errno, exc.strerror or str(exc), names[0], None,
                                         names[1]))

    def _close(self, failed: bool) -> None:
        if self._staging is not None:
            shutil.rmtree(self._staging, ignore_errors=True)
            self._staging = None
        if failed:  # an early failure leaves no empty output folder behind
            for folder in self._created:
                try:
                    folder.rmdir()
                except OSError:
                    break
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
