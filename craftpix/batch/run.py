"""A batch from start to end: check the jobs, skip what is done, run the rest, summarize."""

from __future__ import annotations

import csv
import io
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from craftpix.errors import CraftpixError, InputError
from craftpix.fileio import write_text

from .jobs import Job, JobsFile, _plain, read_jobs
from .runners import LocalRunner, Outcome, Runner
from .store import Store

__all__ = ["BatchReport", "JobStatus", "STATUSES", "SUMMARY_COLUMNS", "format_table",
           "run_batch"]

#: ``done``: made in this run; ``skipped``: complete from an earlier run with the same
#: request; ``failed``: failed in this run, or in an earlier one and not retried (its
#: error then starts with "earlier run:"); ``invalid``: a bad row (with ``skip_invalid``).
STATUSES = ("done", "skipped", "failed", "invalid")
SUMMARY_COLUMNS = ("line", "name", "status", "seconds", "colors", "pieces", "path", "error")
SUMMARY_FILE = "summary.csv"


@dataclass
class JobStatus:
    """One row of the summary: a job (or bad row) and how it went."""

    line: int
    name: str
    status: str
    seconds: float | None = None
    colors: int | None = None
    pieces: int | None = None
    path: str = ""
    error: str = ""

    def cells(self) -> list[str]:
        """The row as text, in :data:`SUMMARY_COLUMNS` order."""
        seconds = "" if self.seconds is None else f"{self.seconds:.2f}"
        return [str(self.line), self.name, self.status, seconds,
                "" if self.colors is None else str(self.colors),
                "" if self.pieces is None else str(self.pieces), self.path, self.error]


@dataclass
class BatchReport:
    """What a batch did: one :class:`JobStatus` per row of the jobs file, in file order."""

    rows: list[JobStatus]
    summary: Path

    def count(self, status: str) -> int:
        """How many rows have ``status`` (one of :data:`STATUSES`)."""
        return sum(r.status == status for r in self.rows)

    @property
    def ok(self) -> bool:
        """True when no job failed and no row was invalid."""
        return not (self.count("failed") or self.count("invalid"))

    def totals(self) -> str:
        """``6 jobs: 4 done, 1 skipped, 1 failed``."""
        parts = [f"{self.count(s)} {s}" for s in STATUSES if self.count(s)]
        return f"{len(self.rows)} jobs: {', '.join(parts) or 'nothing to do'}"


def format_table(rows: Sequence[JobStatus], error_width: int = 60) -> str:
    """The summary as an aligned text table for a terminal (errors cut to ``error_width``)."""
    header = ["line", "status", "time", "colors", "pieces", "path", "error"]
    body = []
    for r in rows:
        error = r.error if len(r.error) <= error_width else r.error[:error_width - 1] + "…"
        body.append([str(r.line), r.status, "" if r.seconds is None else f"{r.seconds:.1f} s",
                     "" if r.colors is None else str(r.colors),
                     "" if r.pieces is None else str(r.pieces), r.path or r.name, error])
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]
    right = {0, 2, 3, 4}
    lines = []
    for row in [header, *body]:
        cells = [c.rjust(w) if i in right else c.ljust(w)
                 for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _write_summary(path: Path, rows: Sequence[JobStatus]) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(SUMMARY_COLUMNS)
    writer.writerows(r.cells() for r in rows)
    write_text(path, buf.getvalue())


def _request_record(job: Job) -> dict[str, Any]:
    request = _plain(job.request)
    for key in ("out", "quiet"):
        request.pop(key, None)
    if job.request.engine != "sds":
        request.pop("sds", None)
    return request


def run_batch(
    jobs: JobsFile | str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    runner: Runner | None = None,
    retry_failed: bool = False,
    skip_invalid: bool = False,
    progress: bool = False,
) -> BatchReport:
    """Run every job of a jobs file, each into its own folder ``out/NAME``; write the summary.

    ``jobs`` is a path (read with :func:`craftpix.batch.read_jobs`) or a read file.
    ``runner`` defaults to a :class:`LocalRunner` on all cores. A job whose folder is complete
    and made from the same request (hash in its ``job.json``) is skipped; a job whose last
    run failed with the same request is skipped unless ``retry_failed``. ``progress`` draws a
    bar over the jobs with an ETA on stderr. The summary (columns :data:`SUMMARY_COLUMNS`)
    goes to ``out/summary.csv``.

    Raises :class:`InputError` before anything runs if a row is invalid (unless
    ``skip_invalid``: those rows are then listed as ``invalid``), if ``out`` cannot be a
    folder, or if another batch is writing into it; :class:`CraftpixError` if the runner
    cannot start (Ray missing or its cluster unreachable). A job's own failure never raises.
    """
    jobs_file = jobs if isinstance(jobs, JobsFile) else read_jobs(jobs)
    if jobs_file.bad and not skip_invalid:
        first = jobs_file.describe(jobs_file.bad[0])
        more = len(jobs_file.bad) - 1
        raise InputError(first + (f" (and {more} more bad rows)" if more else ""))
    runner = runner or LocalRunner()
    runner.start()
    try:
        return _run(jobs_file, Path(out), runner, retry_failed, progress)
    finally:
        runner.close()


def _run(jobs_file: JobsFile, out_path: Path, runner: Runner, retry_failed: bool,
         progress: bool) -> BatchReport:
    rows: dict[int, JobStatus] = {
        b.line: JobStatus(b.line, b.name or "", "invalid", error=b.message)
        for b in jobs_file.bad}
    with Store(out_path) as store:
        to_run: list[Job] = []
        for job in jobs_file.jobs:
            path = str(out_path / job.name)
            try:
                store.folder(job.name)
            except InputError as exc:
                rows[job.line] = JobStatus(job.line, job.name, "failed", path=path,
                                           error=str(exc))
                continue
            done = store.complete(job.name, job.digest)
            failed = store.failure(job.name)
            if done is not None:
                d = done.data
                rows[job.line] = JobStatus(job.line, job.name, "skipped", d.get("seconds"),
                                           d.get("colors"), d.get("pieces"), path)
            elif (failed is not None and failed.digest == job.digest and not retry_failed):
                rows[job.line] = JobStatus(
                    job.line, job.name, "failed", failed.data.get("seconds"), path=path,
                    error=f"earlier run: {failed.data.get('error', '')} "
                          "(--retry-failed runs it again)")
            else:
                to_run.append(job)
        bar = _progress_bar(len(to_run), progress)

        def on_result(job: Job, outcome: Outcome, staging: Path) -> None:
            path = str(out_path / job.name)
            record = {"line": job.line, "name": job.name, "request_sha256": job.digest,
                      **{k: v for k, v in outcome.items() if k not in ("ok", "transient")},
                      "request": _request_record(job)}
            status = "done" if outcome.get("ok") else "failed"
            error = str(outcome.get("error", ""))
            if status == "done":
                try:
                    store.publish(job.name, staging, record)
                except (CraftpixError, OSError) as exc:
                    status, error = "failed", str(exc)
            if status == "failed":
                store.discard(staging)
                if not outcome.get("transient"):  # else a plain rerun tries it again
                    store.record_failure(job.name, {**record, "ok": False, "error": error})
            rows[job.line] = JobStatus(job.line, job.name, status, outcome.get("seconds"),
                                       outcome.get("colors"), outcome.get("pieces"), path,
                                       error)
            if bar is not None:
                bar.update(1)
                failures = sum(r.status == "failed" for r in rows.values())
                if failures:
                    bar.set_postfix(failed=failures, refresh=False)

        try:
            runner.run(to_run, store, on_result)
        finally:
            if bar is not None:
                bar.close()
            ordered = [rows[line] for line in sorted(rows)]
            for job in to_run:  # interrupted: the jobs that did not finish
                if job.line not in rows:
                    ordered.append(JobStatus(job.line, job.name, "failed",
                                             path=str(out_path / job.name),
                                             error="interrupted before it finished"))
            ordered.sort(key=lambda r: r.line)
            summary = store.out / SUMMARY_FILE
            _write_summary(summary, ordered)
    return BatchReport(ordered, summary)


def _progress_bar(total: int, enabled: bool) -> Any:
    if not enabled or total == 0:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="job", desc="batch", file=sys.stderr, dynamic_ncols=True)
