"""Prompt jobs: a bounded queue of :func:`craftpix.api.make_pattern` runs in child processes.

A prompt run (the diffusion engine) takes minutes, so it does not run inside a web request.
Each job runs in its own process (``spawn``), which is what makes cancel and the time limit
real: the process is terminated, whatever the engine is doing. At most ``max_jobs`` jobs are
queued or running at once, ``workers`` of them running; one supervisor thread starts them,
reads their progress and enforces ``timeout_s``.

Progress comes from ``on_progress`` of :func:`craftpix.api.make_pattern` (load, engine,
export, done) and, during the engine, from the step previews the SDS engine writes every
``preview_every`` steps (``progress/step-NNNNNN.png`` in the job's folder).
"""

from __future__ import annotations

import multiprocessing
import re
import secrets
import shutil
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from craftpix.errors import CraftpixError

STATES = ("queued", "running", "done", "error", "cancelled")
FINISHED = ("done", "error", "cancelled")
PREVIEW_DIR = "progress"  # craftpix.engines.sds.run.PREVIEW_DIR (not imported: that pulls torch)
_STEP_FILE = re.compile(r"step-(\d+)\.png")
KEEP_FINISHED = 8  # finished jobs remembered per session


#: A prompt job's child-process body: ``runner(request, conn, preview_every)``.
JobRunner = Callable[[Any, Connection, int], None]


class JobLimit(CraftpixError):
    """The queue is full (HTTP 429)."""


class JobNotFound(CraftpixError):
    """No such job in this session (HTTP 404)."""


def run_job(request: Any, conn: Connection, preview_every: int = 0) -> None:
    """Child-process body: make the pattern, send progress and the outcome through ``conn``.

    ``request`` is a :class:`craftpix.api.PatternRequest`; with ``preview_every`` > 0 its SDS
    settings (the engine's defaults when ``request.sds`` is None) write a step preview that
    often. Messages: ``("progress", stage, fraction)``, then ``("done", pattern_json,
    summary, notes)`` or ``("error", one_line_message)``.
    """
    try:
        import dataclasses

        from craftpix.api import make_pattern

        if preview_every > 0:
            try:  # SDSSettings needs the diffusion extra; without it make_pattern says so
                from craftpix.engines.sds.settings import SDSSettings
            except ImportError:
                pass
            else:
                sds = dataclasses.replace(request.sds or SDSSettings(),
                                          preview_every=preview_every)
                request = dataclasses.replace(request, sds=sds)

        result = make_pattern(request, on_progress=lambda s, f: conn.send(("progress", s, f)))
        conn.send(("done", result.pattern.to_json(), result.summary, list(result.notes)))
    except CraftpixError as exc:
        conn.send(("error", str(exc)))
    except BaseException as exc:  # noqa: BLE001 - reported to the user as one line
        traceback.print_exc()
        conn.send(("error", f"the prompt job failed: {type(exc).__name__}: {exc}"))
    finally:
        conn.close()


@dataclass
class Job:
    """One prompt job; read its fields under the queue's lock (``JobQueue.snapshot``)."""

    id: str
    owner: str
    request: Any
    folder: Path
    steps: int
    preview_every: int = 0
    submitted: float = field(default_factory=time.monotonic)
    state: str = "queued"
    stage: str = "queued"
    fraction: float = 0.0
    message: str = ""
    started: float | None = None
    finished: float | None = None
    result: tuple[str, str, list[str]] | None = None  # (pattern JSON, summary, notes)
    process: Any = None
    conn: Connection | None = None

    def preview(self) -> Path | None:
        """The latest step preview the engine wrote, if any."""
        files = sorted((self.folder / PREVIEW_DIR).glob("step-*.png"))
        return files[-1] if files else None

    def public(self) -> dict[str, Any]:
        """The job as JSON for the browser."""
        now = time.monotonic()
        return {"id": self.id, "state": self.state, "stage": self.stage,
                "fraction": round(self.fraction, 4), "message": self.message,
                "seconds": round((self.finished or now) - (self.started or now), 1),
                "preview": self.preview() is not None}


class JobQueue:
    """Bounded prompt-job queue with a supervisor thread. ``target`` runs in the child."""

    def __init__(self, max_jobs: int, workers: int, timeout_s: float,
                 target: JobRunner | None = None,
                 poll_s: float = 0.1) -> None:
        self.max_jobs, self.workers, self.timeout_s = max_jobs, workers, timeout_s
        self.target, self.poll_s = target or run_job, poll_s
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ctx = multiprocessing.get_context("spawn")
        self._thread = threading.Thread(target=self._supervise, name="craftpix-jobs",
                                        daemon=True)
        self._thread.start()

    # --- the browser's side ----------------------------------------------------------------
    def submit(self, owner: str, request: Any, folder: Path, steps: int,
               preview_every: int = 0) -> Job:
        """Queue ``request`` (a :class:`craftpix.api.PatternRequest` whose ``out`` is
        ``folder``) of ``steps`` engine steps; raises :class:`JobLimit` when ``max_jobs`` are
        queued or running."""
        with self._lock:
            active = sum(j.state in ("queued", "running") for j in self._jobs.values())
            if active >= self.max_jobs:
                raise JobLimit(f"{active} prompt jobs are already queued or running (the limit "
                               f"is {self.max_jobs}); wait for one or cancel it")
            job = Job(secrets.token_hex(6), owner, request, folder, steps, preview_every)
            self._jobs[job.id] = job
            done = sorted((j for j in self._jobs.values()
                           if j.owner == owner and j.state in FINISHED),
                          key=lambda j: j.submitted)
            for old in done[:-KEEP_FINISHED]:
                self._forget(old)
            return job

    def get(self, owner: str, job_id: str) -> Job:
        """The job ``job_id`` of session ``owner``; raises :class:`JobNotFound`."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or job.owner != owner:
                raise JobNotFound(f"there is no prompt job {job_id!r} in this session")
            return job

    def snapshot(self, owner: str, job_id: str) -> dict[str, Any]:
        """:meth:`Job.public` of a job, read under the lock."""
        job = self.get(owner, job_id)
        with self._lock:
            return job.public()

    def cancel(self, owner: str, job_id: str) -> Job:
        """Stop a queued or running job (a finished one is left as it is)."""
        job = self.get(owner, job_id)
        with self._lock:
            self._end(job, "cancelled", "cancelled")
        return job

    def cancel_owner(self, owner: str) -> None:
        """Cancel and forget every job of a session (it expired)."""
        with self._lock:
            for job in [j for j in self._jobs.values() if j.owner == owner]:
                self._end(job, "cancelled", "cancelled")
                self._forget(job)

    def active(self) -> int:
        """Jobs queued or running."""
        with self._lock:
            return sum(j.state in ("queued", "running") for j in self._jobs.values())

    def close(self) -> None:
        """Stop every job and the supervisor (shutdown)."""
        self._stop.set()
        self._thread.join(timeout=10)
        with self._lock:
            for job in list(self._jobs.values()):
                self._end(job, "cancelled", "the app is shutting down")
            self._jobs.clear()

    # --- the supervisor ----------------------------------------------------------------------
    def _forget(self, job: Job) -> None:
        self._jobs.pop(job.id, None)
        shutil.rmtree(job.folder, ignore_errors=True)

    def _end(self, job: Job, state: str, message: str) -> None:
        """Finish ``job`` (lock held): stop its process if it still runs."""
        if job.state in FINISHED:
            return
        job.state, job.message, job.finished = state, message, time.monotonic()
        if state != "done":
            job.stage = state
        proc, job.process = job.process, None
        if proc is not None:
            proc.terminate()
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=5)
        if job.conn is not None:
            job.conn.close()
            job.conn = None

    def _start(self, job: Job) -> None:
        parent, child = self._ctx.Pipe(duplex=False)
        proc = self._ctx.Process(target=self.target, args=(job.request, child, job.preview_every),
                                 name=f"craftpix-job-{job.id}", daemon=True)
        job.folder.mkdir(parents=True, exist_ok=True)
        proc.start()
        child.close()
        job.process, job.conn = proc, parent
        job.state, job.stage, job.started = "running", "starting", time.monotonic()

    def _read(self, job: Job) -> None:
        """Take the child's messages; notice a child that died without a word."""
        conn = job.conn
        assert conn is not None
        eof = False
        try:
            while conn.poll():
                msg = conn.recv()
                if msg[0] == "progress":
                    job.stage, job.fraction = str(msg[1]), max(job.fraction, float(msg[2]))
                elif msg[0] == "done":
                    job.result = (msg[1], msg[2], list(msg[3]))
                    job.fraction, job.stage = 1.0, "done"
                    self._end(job, "done", msg[2])
                    return
                elif msg[0] == "error":
                    self._end(job, "error", str(msg[1]))
                    return
        except (EOFError, OSError):  # the child is gone (its end of the pipe closed)
            eof = True
        if job.state == "running" and job.stage == "engine" and job.steps > 0:
            latest = job.preview()
            m = _STEP_FILE.fullmatch(latest.name) if latest is not None else None
            if m:
                job.fraction = max(job.fraction, 0.1 + 0.8 * min(1.0, int(m.group(1)) / job.steps))
        proc = job.process
        if job.state == "running" and proc is not None and not proc.is_alive() \
                and (eof or not conn.poll()):
            self._end(job, "error", f"the prompt job stopped unexpectedly (exit code "
                                    f"{proc.exitcode})")

    def _tick(self) -> None:
        with self._lock:
            now = time.monotonic()
            for job in list(self._jobs.values()):
                if job.state != "running":
                    continue
                self._read(job)
                if job.state == "running" and job.started is not None \
                        and now - job.started > self.timeout_s:
                    self._end(job, "error", f"the prompt job was stopped after "
                                            f"{self.timeout_s:g} s, the time limit")
            running = sum(j.state == "running" for j in self._jobs.values())
            for job in sorted((j for j in self._jobs.values() if j.state == "queued"),
                              key=lambda j: j.submitted):
                if running >= self.workers:
                    break
                self._start(job)
                running += 1

    def _supervise(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                self._tick()
            except Exception:  # noqa: BLE001 - the supervisor must outlive one bad job
                traceback.print_exc()
