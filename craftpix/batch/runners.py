"""Where batch jobs run: a local process pool (default, no extra install) or Ray tasks.

Both runners call :func:`execute` on a job's request — :func:`craftpix.api.make_pattern`
into a folder, and nothing else — and hand each outcome with a staging folder holding the
job's files back to the batch on the calling process, which publishes it. A job's failure is
an outcome, never an exception: the other jobs go on.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, Protocol

from craftpix.api import PatternRequest
from craftpix.errors import CraftpixError

from .jobs import Job
from .store import Store

__all__ = ["LocalRunner", "Outcome", "RayRunner", "Runner", "default_workers", "execute"]

#: What :func:`execute` returns: ``ok``; then ``seconds``, ``colors``, ``pieces``, ``size``,
#: ``summary``, ``notes`` for a made pattern, or ``error`` (one line) and, for a fault of
#: craftpix itself rather than of the request, ``traceback``; ``transient`` when the job may
#: well succeed on a rerun (its process died, perhaps with a neighbour's crash or a Ctrl-C).
Outcome = dict[str, Any]
#: ``on_result(job, outcome, staging)``: staging is the folder holding the job's files.
OnResult = Callable[[Job, Outcome, Path], None]
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
NO_GPU = "prompt jobs need a GPU and the Ray cluster has none"
WORKER_DIED = "the worker process died while running this job (out of memory or a crash)"
DIED: Outcome = {"ok": False, "error": WORKER_DIED, "transient": True}


def default_workers() -> int:
    """The CPU cores this process may use (its affinity mask where the system has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def execute(request: PatternRequest, out: str | os.PathLike[str]) -> Outcome:
    """Make one job's pattern into folder ``out`` and say how it went; never raises for it.

    A :class:`CraftpixError` (bad image, missing model or extra...) becomes ``error``, its
    one line; any other exception becomes ``error`` (type and first line) plus
    ``traceback``. ``seconds`` is the wall time of the whole job (engine and exports).
    """
    from craftpix.api import make_pattern

    t0 = time.perf_counter()
    try:
        result = make_pattern(dataclasses.replace(request, out=out, quiet=True))
    except CraftpixError as exc:
        return {"ok": False, "error": str(exc), "seconds": round(time.perf_counter() - t0, 3)}
    except Exception as exc:  # a fault in craftpix or a library: keep the batch going
        first = (str(exc).strip().splitlines() or [""])[0]
        return {"ok": False, "error": f"{type(exc).__name__}: {first}".rstrip(": "),
                "traceback": traceback.format_exc(),
                "seconds": round(time.perf_counter() - t0, 3)}
    pattern = result.pattern
    return {"ok": True, "seconds": round(time.perf_counter() - t0, 3),
            "colors": len(pattern.palette), "pieces": int(pattern.counts().sum()),
            "size": f"{pattern.width}x{pattern.height}", "summary": result.summary,
            "notes": list(result.notes)}


class Runner(Protocol):
    """Runs jobs and reports each one through ``on_result`` as it finishes.

    :func:`craftpix.batch.run_batch` calls ``start()`` before it touches the output folder
    (connect, check what is needed; raise :class:`CraftpixError` if it cannot run), then
    ``run()``, and ``close()`` at the end whatever happened.
    """

    def start(self) -> None: ...

    def run(self, jobs: Sequence[Job], store: Store, on_result: OnResult) -> None: ...

    def close(self) -> None: ...


# --- local process pool ------------------------------------------------------------------------
def _init_worker() -> None:
    """Each pool process: one thread for the math libraries; Ctrl-C ends it quietly.

    Parallelism comes from the workers. Several OpenMP/MKL threads per job spin while they
    wait, and on a busy machine a job then burns about 4× the CPU time (docs/BENCHMARKS.md,
    batch runs); one thread per job is also what Ray gives a one-CPU task. The variables
    reach the libraries a job loads (torch); numpy, loaded with craftpix, keeps its own.
    """
    for name in THREAD_VARIABLES:
        os.environ.setdefault(name, "1")
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, lambda *_: os._exit(130))


class LocalRunner:
    """Jobs on a pool of ``workers`` processes of this computer (default: its cores).

    Processes are started fresh (``spawn``), so a parent that has loaded torch or started
    threads is safe to use; each runs its math libraries on one thread unless
    ``OMP_NUM_THREADS`` (``MKL_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``) says otherwise. At most ``workers`` jobs are handed out at a time. If a worker
    process dies (out of memory, a crash in a native library), the jobs it may have been
    running are recorded as failed and the rest go on in a new pool.
    """

    def __init__(self, workers: int | None = None) -> None:
        if workers is not None and workers < 1:
            raise ValueError("workers must be at least 1")
        self.workers = workers or default_workers()

    def start(self) -> None:
        """Nothing to prepare: the pool starts with the first job."""

    def close(self) -> None:
        """Nothing to release: :meth:`run` shuts its pool down."""

    def run(self, jobs: Sequence[Job], store: Store, on_result: OnResult) -> None:
        """Run ``jobs``; see :class:`Runner`."""
        import multiprocessing

        if not jobs:
            return
        workers = min(self.workers, len(jobs))
        context = multiprocessing.get_context("spawn")
        queue = list(reversed(jobs))
        in_flight: dict[Future[Outcome], tuple[Job, Path]] = {}

        def new_pool() -> ProcessPoolExecutor:
            return ProcessPoolExecutor(max_workers=workers, mp_context=context,
                                       initializer=_init_worker)

        pool = new_pool()
        try:
            while queue or in_flight:
                broken = False
                while queue and len(in_flight) < workers:
                    job = queue.pop()
                    staging = store.stage(job.name)
                    try:
                        in_flight[pool.submit(execute, job.request, staging)] = (job, staging)
                    except BrokenProcessPool:
                        queue.append(job)
                        store.discard(staging)
                        broken = True
                        break
                if not broken:
                    done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                    for future in done:
                        job, staging = in_flight.pop(future)
                        try:
                            outcome = future.result()
                        except BrokenProcessPool:
                            broken = True
                            outcome = dict(DIED)
                        on_result(job, outcome, staging)
                if broken:
                    for future, (job, staging) in list(in_flight.items()):
                        in_flight.pop(future)
                        on_result(job, dict(DIED), staging)
                    pool.shutdown(wait=True, cancel_futures=True)
                    pool = new_pool()
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=True)


# --- Ray --------------------------------------------------------------------------------------
def _input_files(request: PatternRequest) -> dict[str, Path]:
    """The local files a request reads, by the request field that names them."""
    files = {}
    if request.image is not None:
        files["image"] = Path(request.image)
    if request.palette is not None:
        files["palette"] = Path(request.palette)
    template = getattr(request.sds, "template", None) if request.engine == "sds" else None
    if template is not None:
        files["template"] = Path(template)
    return files


def _with_inputs(request: PatternRequest, local: dict[str, Path]) -> PatternRequest:
    """``request`` reading its input files from the copies in ``local`` (field → path)."""
    changes: dict[str, Any] = {k: v for k, v in local.items() if k in ("image", "palette")}
    if "template" in local:
        changes["sds"] = dataclasses.replace(request.sds, template=local["template"])
    return dataclasses.replace(request, **changes)


def ray_job(request: PatternRequest, fields: Sequence[str], names: Sequence[str],
            *blobs: bytes) -> tuple[Outcome, dict[str, bytes]]:
    """The Ray task: the job on a cluster node that may not see the submitting computer's disk.

    The input files travel as bytes (``blobs``, for request ``fields``, under their original
    file ``names`` so the pattern's metadata is the same as a local run's); the files made
    travel back as ``{relative path: bytes}``.
    """
    with tempfile.TemporaryDirectory(prefix="craftpix-job-") as scratch:
        root = Path(scratch)
        local: dict[str, Path] = {}
        for i, (field, name, blob) in enumerate(zip(fields, names, blobs, strict=True)):
            folder = root / "in" / str(i)
            folder.mkdir(parents=True)
            (folder / name).write_bytes(blob)
            local[field] = folder / name
        out = root / "out"
        outcome = execute(_with_inputs(request, local), out)
        if "error" in outcome:  # name the files as the jobs file does, not the copies here
            originals = _input_files(request)
            for field, copy in local.items():
                outcome["error"] = outcome["error"].replace(str(copy), str(originals[field]))
        files = {}
        if outcome["ok"]:
            files = {p.relative_to(out).as_posix(): p.read_bytes()
                     for p in sorted(out.rglob("*")) if p.is_file()}
    return outcome, files


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise CraftpixError('--ray needs Ray: pip install "craftpix[cluster]"') from None
    return ray


class RayRunner:
    """Jobs as Ray tasks: photo jobs ask for one CPU, prompt jobs for one CPU and one GPU.

    ``address``: ``"auto"`` (the running cluster this computer belongs to), a cluster address
    (``host:6379`` or ``ray://host:10001``), or ``None``/``"local"`` to start a Ray instance
    on this computer with ``num_cpus`` CPUs (default: all). If Ray is already initialized in
    this process, that instance is used and left running; one this runner started is shut
    down by :meth:`close`. Input files are sent with the tasks
    and results come back to this process, so the cluster needs no shared disk — but every
    node needs craftpix installed (and, for prompt jobs, the diffusion extra and the models).
    Prompt jobs fail at once if the cluster has no GPU (rather than wait for one forever).
    Raises :class:`CraftpixError` if Ray is missing or the cluster cannot be reached.
    """

    def __init__(self, address: str | None = "auto", num_cpus: int | None = None) -> None:
        self.address = address
        self.num_cpus = num_cpus
        self._started = False

    def start(self) -> None:
        """Import Ray and initialize it unless it is (then it is left running by close)."""
        import logging

        ray = _import_ray()
        if ray.is_initialized():
            return
        try:
            if self.address in (None, "local"):
                ray.init(num_cpus=self.num_cpus, include_dashboard=False, log_to_driver=False,
                         logging_level=logging.WARNING)
            else:
                ray.init(address=self.address, log_to_driver=False,
                         logging_level=logging.WARNING)
        except Exception as exc:  # ConnectionError, RuntimeError... from ray
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            where = "start Ray here" if self.address in (None, "local") else \
                f"reach the Ray cluster at {self.address!r}"
            raise CraftpixError(f"cannot {where}: {first}") from None
        self._started = True

    def close(self) -> None:
        """Shut Ray down if :meth:`start` initialized it."""
        if self._started:
            _import_ray().shutdown()
            self._started = False

    def run(self, jobs: Sequence[Job], store: Store, on_result: OnResult) -> None:
        """Run ``jobs``; see :class:`Runner`."""
        if not jobs:
            return
        self.start()
        ray = _import_ray()
        task = ray.remote(ray_job)
        pending: dict[Any, Job] = {}
        try:
            blobs: dict[Path, Any] = {}  # each input file sent once
            gpus = ray.cluster_resources().get("GPU", 0)
            for job in jobs:
                if job.needs_gpu and not gpus:  # the task would wait for a GPU forever
                    on_result(job, {"ok": False, "error": NO_GPU}, store.stage(job.name))
                    continue
                inputs = _input_files(job.request)
                for path in inputs.values():
                    key = path.resolve()
                    if key not in blobs:
                        blobs[key] = ray.put(path.read_bytes())
                resources = {"num_cpus": 1, "num_gpus": 1 if job.needs_gpu else 0}
                ref = task.options(**resources).remote(
                    job.request, list(inputs), [p.name for p in inputs.values()],
                    *(blobs[p.resolve()] for p in inputs.values()))
                pending[ref] = job
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    job = pending.pop(ref)
                    try:
                        outcome, files = ray.get(ref)
                    except Exception as exc:  # the task's process died or Ray failed it
                        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                        outcome = {"ok": False, "error": f"Ray: {first}", "transient": True}
                        files = {}
                    staging = store.stage(job.name)
                    try:
                        _write_files(staging, files)
                    except (OSError, CraftpixError) as exc:
                        outcome = {"ok": False, "error": str(exc)}
                    on_result(job, outcome, staging)
        except BaseException:
            for ref in pending:
                ray.cancel(ref, force=True)
            raise


def _write_files(staging: Path, files: dict[str, bytes]) -> None:
    """Write a task's files (relative path → bytes) into ``staging``.

    Raises :class:`CraftpixError` for a path that would land outside ``staging``.
    """
    root = staging.resolve()
    for relative, data in files.items():
        target = (staging / relative).resolve()
        if root not in target.parents:
            raise CraftpixError(f"a job returned a file outside its folder: {relative!r}")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
