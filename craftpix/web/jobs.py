"""Prompt jobs: a bounded queue of :func:`craftpix.api.make_pattern` runs in child processes.

A prompt run (the diffusion engine) takes minutes, so it does not run inside a web request.
Each job runs in its own process (``spawn``), which is what makes cancel and the time limit
real: the process is terminated, whatever the engine is doing. At most ``max_jobs`` jobs are
queued or running at once, ``workers`` of them running; one supervisor thread starts them,
reads their progress and enforces ``timeout_s``.

Progress comes from ``on_progress`` of :func:`craftpix.api.make_pattern` (load, engine,
export, done) and, during the engine, from the step previews the SDS engine writes every
``preview_every`` steps (``progress/step-NNNNNN.png`` in the job's folder).

Every child dies with the server (:func:`die_with_parent`: ``PR_SET_PDEATHSIG`` on Linux and
a parent watch everywhere), so a killed server leaves no job holding the GPU.

:class:`WorkPool` is the short-work counterpart: a photo's decoding, a pattern's making, an
export — each in a forked child with a time limit, a few at once and one per session.
"""

from __future__ import annotations

import collections
import ctypes
import ctypes.util
import multiprocessing
import os
import pickle
import re
import secrets
import shutil
import signal
import sys
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


class Busy(CraftpixError):
    """No slot for this work: the app is busy (503), shutting down (503) or this session
    already has work of this kind running and waiting (429)."""

    def __init__(self, message: str, status: int = 503) -> None:
        super().__init__(message)
        self.status = status

    def __reduce__(self) -> Any:
        return (type(self), (str(self), self.status))


class WorkTimeout(CraftpixError):
    """Work stopped at its time limit (HTTP 503)."""

    status = 503


class WorkFailed(CraftpixError):
    """The child doing the work died without an answer (killed, out of memory; HTTP 500)."""

    status = 500


PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
PARENT_WATCH_S = 0.5  # how often a child checks that its parent still lives (non-Linux)


def die_with_parent(parent_pid: int) -> None:
    """Make this (child) process end when ``parent_pid``, its parent, ends — even by SIGKILL.

    Linux: ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` (prctl(2); the signal comes when the parent
    thread that started the child ends). Elsewhere, and as a second guard, a daemon thread
    checks every :data:`PARENT_WATCH_S` s that the parent is still ``parent_pid``
    (a re-parented child sees another ``getppid()``). Exits at once if the parent is gone
    already.
    """
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent_pid:
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(PARENT_WATCH_S)
            if os.getppid() != parent_pid:
                os._exit(1)

    threading.Thread(target=watch, name="craftpix-parent-watch", daemon=True).start()


PID_FILE = "job.pid"  # in a job's folder: "<pid> <start time>" of its child


def _start_time(pid: int) -> str:
    """The start time of process ``pid`` (clock ticks since boot, /proc/<pid>/stat field
    22, proc(5)); "" when unknown (no such process, not Linux). With the pid it names one
    process, whatever pid reuse happened since."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    fields = stat[stat.rfind(")") + 2:].split()  # after "pid (comm) "
    return fields[19] if len(fields) > 19 else ""


def record_child(folder: Path, pid: int) -> None:
    """Note a prompt job's child in its folder (:data:`PID_FILE`), for
    :func:`kill_recorded` after a crash."""
    try:
        (folder / PID_FILE).write_text(f"{pid} {_start_time(pid)}\n")
    except OSError:
        pass


def kill_recorded(root: Path) -> list[int]:
    """Kill the prompt-job children recorded under ``root`` (a dead server's work folder)
    that still run: only a process with the recorded pid *and* start time (never one that
    reused the pid). Returns the pids killed."""
    killed = []
    for path in root.glob(f"s-*/jobs/*/{PID_FILE}"):
        try:
            pid_text, _, started = path.read_text().strip().partition(" ")
            pid = int(pid_text)
        except (OSError, ValueError):
            continue
        if started and _start_time(pid) == started:
            try:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            except OSError:
                pass
    return killed


def _job_main(runner: JobRunner, parent_pid: int, request: Any, conn: Connection,
              preview_every: int) -> None:
    """A prompt job's child: tied to the server's life, then ``runner``."""
    die_with_parent(parent_pid)
    runner(request, conn, preview_every)


def _portable(exc: BaseException) -> BaseException:
    """``exc`` if it survives pickling, else a :class:`CraftpixError` or RuntimeError with its
    text (a child's exception is sent to the parent)."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # noqa: BLE001 - any unpicklable exception
        kind = CraftpixError if isinstance(exc, CraftpixError) else RuntimeError
        return kind(f"{type(exc).__name__}: {exc}")


def _work_main(conn: Connection, parent_pid: int, fn: Callable[..., Any], args: tuple,
               kwargs: dict[str, Any]) -> None:
    """A :class:`WorkPool` child: run ``fn`` and send ``("ok", value)`` or ``("error", exc)``."""
    for sig in (signal.SIGINT, signal.SIGTERM):  # not the server's handlers: Ctrl-C ends it
        signal.signal(sig, signal.SIG_DFL)
    die_with_parent(parent_pid)
    try:
        out: tuple[str, Any] = ("ok", fn(*args, **kwargs))
    except BaseException as exc:  # noqa: BLE001 - sent to the parent, raised there
        if not isinstance(exc, CraftpixError):
            text = "".join(traceback.format_exception(exc))
            sys.stderr.write("\n".join(line[:500] for line in text.splitlines()) + "\n")
        out = ("error", _portable(exc))
    try:
        conn.send(out)
    except Exception as exc:  # noqa: BLE001 - e.g. a result that does not pickle
        conn.send(("error", RuntimeError(f"the result could not be sent: {exc}")))
    finally:
        conn.close()


def make_checked(request: Any) -> Any:
    """:func:`craftpix.api.make_pattern` for ``POST /api/generate``, then the export's own
    checks on the result, so that what a download would refuse (a PES file of more than 255
    thread colors, an unknown brick part, a hoop too small) is refused now, at generate.

    ``request`` is a :class:`craftpix.api.PatternRequest`; returns its
    :class:`~craftpix.api.PatternResult`. Raises :class:`~craftpix.errors.CraftpixError`.
    """
    from craftpix.api import make_pattern
    from craftpix.export import check_format_limits, merged_settings, sewn_size, validate_options

    result = make_pattern(request)
    pattern = result.pattern
    effective = merged_settings(pattern.settings, request.export)
    opts = {k: v for k, v in effective.items() if k != "preview"}
    settings, fmts, _, _, hoop = validate_options(pattern.medium, sewn_size(pattern), **opts,
                                                  brand=pattern.brand)
    if fmts:
        check_format_limits(pattern, fmts, None, hoop, settings.fabric_count)
    return result


class WorkPool:
    """Run short work (``fn(*args)``) in child processes: ``slots`` at once, one per owner,
    each stopped after ``timeout_s``.

    The child is a fork of the server (Linux: cheap, nothing to import; it sees the data
    already in memory), so a decode's or an export's memory is returned to the system when
    it ends, and a run that takes too long — or the server's shutdown — ends it by SIGKILL.
    Fair between owners (sessions): an owner runs at most one piece of work of this pool at a
    time and has at most one more waiting (:class:`Busy` 429 beyond), waiting owners are
    served in arrival order, and a slot is waited for at most ``wait_s`` (:class:`Busy` 503).
    Where ``fork`` is not available the work runs in the calling thread (no time limit).
    """

    def __init__(self, what: str, slots: int, timeout_s: float, wait_s: float = 60.0) -> None:
        self.what, self.slots, self.timeout_s, self.wait_s = what, slots, timeout_s, wait_s
        self._cond = threading.Condition()
        self._queue: collections.deque[tuple[str, object]] = collections.deque()
        self._owners: collections.Counter[str] = collections.Counter()  # running + waiting
        self._running: collections.Counter[str] = collections.Counter()
        self._procs: dict[int, Any] = {}
        self._closed = False
        methods = multiprocessing.get_all_start_methods()
        self._ctx = multiprocessing.get_context("fork") if (
            "fork" in methods and sys.platform.startswith("linux")) else None

    @property
    def running(self) -> int:
        """Pieces of work running now."""
        return sum(self._running.values())

    def _next(self) -> object | None:
        """The ticket to serve next: the first waiter whose owner runs nothing of this pool."""
        return next((t for o, t in self._queue if not self._running[o]), None)

    def _acquire(self, owner: str) -> None:
        with self._cond:
            if self._closed:
                raise Busy("the app is shutting down")
            if self._owners[owner] >= 2:
                raise Busy(f"this session is already {self.what}; wait for it to finish", 429)
            ticket = object()
            self._owners[owner] += 1
            self._queue.append((owner, ticket))
            deadline = time.monotonic() + self.wait_s
            try:
                while True:
                    if self._closed:
                        raise Busy("the app is shutting down")
                    if self.running < self.slots and self._next() is ticket:
                        break
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise Busy(f"the app is busy {self.what} for others; try again in a "
                                   "moment")
                    self._cond.wait(left)
            except BaseException:
                self._queue.remove((owner, ticket))
                self._owners[owner] -= 1
                if self._owners[owner] <= 0:
                    del self._owners[owner]
                self._cond.notify_all()
                raise
            self._queue.remove((owner, ticket))
            self._running[owner] += 1

    def _release(self, owner: str) -> None:
        with self._cond:
            self._running[owner] -= 1
            self._owners[owner] -= 1
            for counts in (self._running, self._owners):
                if counts[owner] <= 0:
                    del counts[owner]  # sessions come and go: keep only the busy ones
            self._cond.notify_all()

    def run(self, owner: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)`` in a child process; its value, or its exception re-raised.

        ``fn`` and the value must pickle (the value comes back through a pipe). Raises
        :class:`Busy` (no slot), :class:`WorkTimeout` (over ``timeout_s``; the child is
        killed), :class:`WorkFailed` (the child died without an answer) or whatever ``fn``
        raised.
        """
        self._acquire(owner)
        try:
            if self._ctx is None:
                return fn(*args, **kwargs)
            return self._in_child(fn, args, kwargs)
        finally:
            self._release(owner)

    def _in_child(self, fn: Callable[..., Any], args: tuple, kwargs: dict[str, Any]) -> Any:
        assert self._ctx is not None
        parent, child = self._ctx.Pipe(duplex=False)
        proc = self._ctx.Process(target=_work_main, name=f"craftpix-{self.what}",
                                 args=(child, os.getpid(), fn, args, kwargs), daemon=True)
        try:
            proc.start()
            self._procs[proc.pid] = proc
            if self._closed:  # shutdown began while the child started
                proc.kill()
            child.close()
            if not parent.poll(self.timeout_s):
                raise WorkTimeout(f"{self.what} took longer than {self.timeout_s:g} s, the "
                                  "limit; try a smaller size")
            try:
                kind, value = parent.recv()
            except (EOFError, OSError):
                if self._closed:
                    raise Busy("the app is shutting down") from None
                proc.join(timeout=1)
                raise WorkFailed(f"{self.what} stopped unexpectedly (exit code "
                                 f"{proc.exitcode}); the server may be short of memory"
                                 ) from None
        finally:
            if proc.pid is not None:
                self._procs.pop(proc.pid, None)
                if proc.is_alive():
                    proc.kill()
                proc.join(timeout=5)
            parent.close()
            child.close()
        if kind == "ok":
            return value
        raise value

    def abort(self) -> None:
        """Refuse new work and kill the running children now (shutdown; safe in a signal
        handler: no locks taken)."""
        self._closed = True
        for proc in list(self._procs.values()):
            try:
                proc.kill()
            except (OSError, ValueError, AttributeError):
                pass

    def close(self) -> None:
        """:meth:`abort`, then wake every waiter so that it gives up."""
        self.abort()
        with self._cond:
            self._cond.notify_all()


def run_job(request: Any, conn: Connection, preview_every: int = 0) -> None:
    """Child-process body: make the pattern, send progress and the outcome through ``conn``.

    ``request`` is a :class:`craftpix.api.PatternRequest`; with ``preview_every`` > 0 its SDS
    settings (the engine's defaults when ``request.sds`` is None) write a step preview that
    often. Messages: ``("progress", stage, fraction)``, then ``("done", pattern_json,
    summary, notes)`` or ``("error", one_line_message)``.
    """
    # A job uses the models already pulled (`craftpix models pull`): a click on a page must not
    # start a download of several GB. HF_HUB_OFFLINE=0 in the server's environment allows it.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
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
                "steps": self.steps,
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

    def abort(self) -> None:
        """Kill every job's child now (Ctrl-C; safe in a signal handler: no locks taken)."""
        self._stop.set()
        for job in list(self._jobs.values()):
            proc = job.process
            if proc is not None:
                try:
                    proc.kill()
                except (OSError, ValueError, AttributeError):
                    pass

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
        proc = self._ctx.Process(target=_job_main, args=(self.target, os.getpid(), job.request,
                                                         child, job.preview_every),
                                 name=f"craftpix-job-{job.id}", daemon=True)
        job.folder.mkdir(parents=True, exist_ok=True)
        proc.start()
        child.close()
        record_child(job.folder, proc.pid)
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
