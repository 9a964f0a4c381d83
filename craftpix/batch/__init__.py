"""Many patterns at once: a jobs file in, one folder per job out, on a process pool or Ray.

    from craftpix.batch import LocalRunner, RayRunner, read_jobs, run_batch

    report = run_batch("jobs.csv", "out", runner=LocalRunner(workers=2))
    report.totals()     # "6 jobs: 5 done, 1 failed"

Each row of the jobs file is one :class:`craftpix.api.PatternRequest` (see
:mod:`craftpix.batch.jobs`), run by :func:`craftpix.api.make_pattern`; the batch adds no
pipeline logic. ``craftpix batch JOBS --out DIR`` is the command (:mod:`craftpix.batch.cli`).
Ray is imported only by :class:`RayRunner` (the ``cluster`` extra).
"""

from __future__ import annotations

from .jobs import BadRow, Job, JobsFile, read_jobs, request_digest
from .run import STATUSES, SUMMARY_COLUMNS, BatchReport, JobStatus, format_table, run_batch
from .runners import LocalRunner, RayRunner, Runner, default_workers, execute
from .store import Store, publish_dir

__all__ = [
    "STATUSES",
    "SUMMARY_COLUMNS",
    "BadRow",
    "BatchReport",
    "Job",
    "JobStatus",
    "JobsFile",
    "LocalRunner",
    "RayRunner",
    "Runner",
    "Store",
    "default_workers",
    "execute",
    "format_table",
    "publish_dir",
    "read_jobs",
    "request_digest",
    "run_batch",
]
