"""The batch's output folder: one folder per job, published whole, and what a rerun needs.

::

    OUT/
      astronaut-beads-48x48/      a finished job: its files and job.json (request hash, results)
      summary.csv                 the last run's summary
      .craftpix-batch/lock        held while a batch writes here (one batch per folder)
      .craftpix-batch/failed/     NAME.json for each job whose last run failed
      .NAME.staging-XXXX/         a job being written (removed if the batch dies; see clean)

A job's folder appears by one rename of a complete staging folder beside it, so it is either
absent, the previous complete set, or the new complete set. ``job.json`` is written last into
the staging folder; a folder whose ``job.json`` names the request's hash and whose listed files
are all present is complete.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from craftpix import __version__
from craftpix.errors import InputError
from craftpix.fileio import ensure_out_dir, write_text

__all__ = ["JOB_FILE", "Store", "publish_dir"]

JOB_FILE = "job.json"
STATE_DIR = ".craftpix-batch"
_STAGING = ".staging-"
_OLD = ".old-"
# mkdtemp makes 0700 folders; a published job folder gets the mode a plain mkdir would give.
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def publish_dir(staging: Path, final: Path) -> None:
    """Put the complete folder ``staging`` in place of ``final`` as one unit.

    ``final`` is either absent (one rename) or replaced: it is renamed aside to a hidden
    ``.NAME.old-*`` folder, ``staging`` is renamed into place, then the old set is removed.
    If the process dies between the two renames, :meth:`Store.clean` puts the old set back.
    Both folders must be in the same folder (same file system). Raises ``OSError``.
    """
    if not final.exists() and not final.is_symlink():
        os.replace(staging, final)
        return
    aside = Path(tempfile.mkdtemp(prefix=f".{final.name}{_OLD}", dir=final.parent))
    os.replace(final, aside / final.name)
    os.replace(staging, final)
    shutil.rmtree(aside, ignore_errors=True)


@dataclass
class Record:
    """What ``job.json`` (or a failure record) says about a job's last run."""

    data: dict[str, Any]

    @property
    def digest(self) -> str | None:
        return self.data.get("request_sha256")


class Store:
    """The output folder of a batch. Use as a context manager: it holds the folder's lock.

    Raises :class:`InputError` when ``out`` cannot be a folder, or another batch holds it.
    """

    def __init__(self, out: str | os.PathLike[str]) -> None:
        self.out = ensure_out_dir(out)
        self.state = self.out / STATE_DIR
        self.failed_dir = self.state / "failed"
        self._lock: Any = None
        self._staging: set[Path] = set()

    # --- lock ---------------------------------------------------------------------------------
    def __enter__(self) -> Store:
        self.failed_dir.mkdir(parents=True, exist_ok=True)
        self._lock = open(self.state / "lock", "a+")  # noqa: SIM115 - held until __exit__
        try:
            import fcntl
        except ImportError:  # no advisory locks on this system: one batch at a time is on you
            return self
        try:
            fcntl.flock(self._lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lock.close()
            raise InputError(f"another batch is writing into {self.out}; wait for it or use "
                             "another --out") from None
        self.clean()
        return self

    def __exit__(self, *exc: object) -> None:
        for path in list(self._staging):
            self.discard(path)
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def clean(self) -> list[Path]:
        """Remove what an interrupted batch left: staging folders; restore an old set aside.

        Only hidden ``.NAME.staging-*`` / ``.NAME.old-*`` folders are touched. Returns the
        folders removed.
        """
        removed = []
        for entry in sorted(self.out.iterdir()):
            if not entry.name.startswith(".") or not entry.is_dir() or entry.is_symlink():
                continue
            if _STAGING in entry.name:
                shutil.rmtree(entry, ignore_errors=True)
                removed.append(entry)
            elif _OLD in entry.name:
                name = entry.name[1:].split(_OLD, 1)[0]
                kept = entry / name
                final = self.out / name
                if kept.is_dir() and not final.exists():
                    os.replace(kept, final)
                shutil.rmtree(entry, ignore_errors=True)
                removed.append(entry)
        return removed

    # --- a job's folder ---------------------------------------------------------------------
    def folder(self, name: str) -> Path:
        """``OUT/NAME``; raises :class:`InputError` if it is a link or would leave ``OUT``."""
        path = self.out / name
        if path.is_symlink():
            raise InputError(f"{path} is a link; a batch writes only real folders inside "
                             f"{self.out}")
        if Path(os.path.abspath(path)).parent != Path(os.path.abspath(self.out)):
            raise InputError(f"job folder {name!r} is not a folder directly inside {self.out}")
        return path

    def complete(self, name: str, digest: str) -> Record | None:
        """The record of a finished job whose request hash is ``digest`` and files all exist."""
        folder = self.out / name
        record = _read_json(folder / JOB_FILE)
        if record is None or folder.is_symlink() or record.get("request_sha256") != digest:
            return None
        files = record.get("files")
        if not isinstance(files, list) or not all(
                isinstance(f, str) and _inside(f) and (folder / f).is_file()
                for f in files):
            return None
        return Record(record)

    def failure(self, name: str) -> Record | None:
        """The failure record of a job's last run, if its last run failed."""
        record = _read_json(self.failed_dir / f"{name}.json")
        return Record(record) if record is not None else None

    def stage(self, name: str) -> Path:
        """A new empty staging folder for job ``name``, beside its final folder."""
        self.folder(name)
        path = Path(tempfile.mkdtemp(prefix=f".{name}{_STAGING}", dir=self.out))
        os.chmod(path, 0o777 & ~_UMASK)
        self._staging.add(path)
        return path

    def discard(self, staging: Path) -> None:
        """Remove a staging folder (a failed or abandoned job)."""
        shutil.rmtree(staging, ignore_errors=True)
        self._staging.discard(staging)

    def publish(self, name: str, staging: Path, record: dict[str, Any]) -> Path:
        """Write ``job.json`` into ``staging`` and put it in place as ``OUT/NAME``.

        ``record`` gets ``files`` (every file in the staging folder, relative paths),
        ``craftpix`` (the version) and ``finished`` (UTC, ISO 8601) added. A folder ``OUT/NAME``
        that is not a batch job's (no ``job.json``) is never replaced: :class:`InputError`.
        """
        final = self.folder(name)
        if final.exists() and not (final / JOB_FILE).is_file():
            raise InputError(f"{final} exists and is not a batch job's folder; move it away "
                             "or name the job differently")
        files = sorted(p.relative_to(staging).as_posix() for p in staging.rglob("*")
                       if p.is_file())
        record = {**record, "files": files, "craftpix": __version__,
                  "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        write_text(staging / JOB_FILE, json.dumps(record, indent=1, ensure_ascii=False) + "\n")
        publish_dir(staging, final)
        self._staging.discard(staging)
        (self.failed_dir / f"{name}.json").unlink(missing_ok=True)
        return final

    def record_failure(self, name: str, record: dict[str, Any]) -> None:
        """Remember that job ``name`` failed (its folder, if any, keeps the previous set)."""
        record = {**record, "craftpix": __version__,
                  "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        write_text(self.failed_dir / f"{name}.json",
                   json.dumps(record, indent=1, ensure_ascii=False) + "\n")


def _inside(relative: str) -> bool:
    """Whether a listed file name stays inside its job folder (relative, no ``..``)."""
    parts = Path(relative).parts
    return bool(parts) and not Path(relative).is_absolute() and ".." not in parts


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
