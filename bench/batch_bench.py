"""Batch throughput: 48×48 photo jobs on the local process pool (1, 2 workers) and on Ray.

    .venv/bin/python bench/batch_bench.py --jobs 12 --workers 1,2 --ray

Each run makes ``--jobs`` distinct bead patterns (48×48, 12 Perler colors, the default photo
engine with its PDF and previews; the bundled photos with different seeds) into a fresh
folder with :func:`craftpix.batch.run_batch`, from a jobs file, as ``craftpix batch`` does.
Reported per runner: wall time, jobs per minute, the mean time of a job inside its worker,
the overhead per job (``slots × wall / jobs − mean job time``: process start, imports, sending
the request, publishing the folder, shutting down), the CPU time per job of this process and
its pool processes (robust on a shared machine; not measurable for Ray's workers) and what a
1 000-job catalog would take at that rate. A ``serial`` line times the same jobs with :func:`craftpix.api.make_pattern` in
this process after a warm-up job, for reference. ``--json FILE`` appends the results.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
IMAGES = ("astronaut.jpg", "sunset.png")


def write_jobs(folder: Path, n: int) -> Path:
    """A jobs file of ``n`` distinct 48×48 bead jobs on the bundled photos."""
    path = folder / "jobs.csv"
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["craft", "image", "size", "colors", "seed", "name"])
        for i in range(n):
            image = REPO / "examples" / IMAGES[i % len(IMAGES)]
            writer.writerow(["beads", str(image), "48", "12", str(i), f"job{i:04d}"])
    return path


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def bench_runner(label: str, runner: object, jobs: Path, slots: int, scratch: Path) -> dict:
    from craftpix.batch import run_batch

    out = scratch / label.replace(" ", "-").replace(",", "")
    cpu0 = _cpu(resource.RUSAGE_SELF) + _cpu(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    report = run_batch(jobs, out, runner=runner)  # type: ignore[arg-type]
    wall = time.perf_counter() - t0
    # pool processes are reaped when the pool shuts down, so their CPU time is counted here
    # (Ray's workers are not this process's children: no CPU figure for Ray)
    cpu = _cpu(resource.RUSAGE_SELF) + _cpu(resource.RUSAGE_CHILDREN) - cpu0
    if not report.ok:
        bad = [r for r in report.rows if r.status != "done"]
        raise SystemExit(f"{label}: {bad[0].status}: {bad[0].error}")
    n = len(report.rows)
    job_s = statistics.mean(r.seconds or 0.0 for r in report.rows)
    return {"runner": label, "jobs": n, "slots": slots, "wall_s": round(wall, 2),
            "jobs_per_min": round(60 * n / wall, 1), "job_s": round(job_s, 2),
            "overhead_per_job_s": round(slots * wall / n - job_s, 2),
            "cpu_per_job_s": None if "Ray" in label else round(cpu / n, 2),
            "catalog_1000_min": round(1000 * wall / n / 60, 1)}


def bench_serial(jobs: Path, scratch: Path) -> dict:
    from craftpix.api import make_pattern
    from craftpix.batch import read_jobs

    requests = [j.request for j in read_jobs(jobs).jobs]
    make_pattern(dataclasses.replace(requests[0], out=scratch / "warm"))
    times = []
    cpu0 = _cpu(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    for i, request in enumerate(requests):
        t = time.perf_counter()
        make_pattern(dataclasses.replace(request, out=scratch / f"serial{i}"))
        times.append(time.perf_counter() - t)
    wall = time.perf_counter() - t0
    cpu = _cpu(resource.RUSAGE_SELF) - cpu0
    n = len(requests)
    return {"runner": "serial (in process, warm)", "jobs": n, "slots": 1,
            "wall_s": round(wall, 2), "jobs_per_min": round(60 * n / wall, 1),
            "job_s": round(statistics.mean(times), 2), "overhead_per_job_s": 0.0,
            "cpu_per_job_s": round(cpu / n, 2),
            "catalog_1000_min": round(1000 * wall / n / 60, 1)}


def _row(r: dict) -> str:
    cpu = "—" if r["cpu_per_job_s"] is None else f"{r['cpu_per_job_s']:.2f} s"
    return (f"| {r['runner']} | {r['jobs']} | {r['wall_s']:.1f} s | {r['jobs_per_min']:.1f} | "
            f"{r['job_s']:.2f} s | {r['overhead_per_job_s']:.2f} s | {cpu} | "
            f"{r['catalog_1000_min']:.0f} min |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=12, help="jobs per run")
    parser.add_argument("--workers", default="1,2", help="local pool sizes, comma separated")
    parser.add_argument("--ray", action="store_true", help="also run on a local Ray instance")
    parser.add_argument("--ray-cpus", type=int, default=2, help="CPUs of that Ray instance")
    parser.add_argument("--no-serial", action="store_true", help="skip the in-process line")
    parser.add_argument("--json", type=Path, help="append the results to this file")
    args = parser.parse_args()

    from craftpix.batch import LocalRunner, RayRunner

    results = []
    print("| runner | jobs | wall | jobs/min | job (in worker) | overhead/job | CPU/job | "
          "1 000 jobs |")
    print("|---|---|---|---|---|---|---|---|", flush=True)

    def report(result: dict) -> None:
        results.append(result)
        print(_row(result), flush=True)

    with tempfile.TemporaryDirectory(prefix="batch-bench-") as tmp:
        scratch = Path(tmp)
        jobs = write_jobs(scratch, args.jobs)
        if not args.no_serial:
            report(bench_serial(jobs, scratch))
        for workers in (int(w) for w in args.workers.split(",") if w):
            report(bench_runner(f"local pool, {workers} worker(s)", LocalRunner(workers), jobs,
                                workers, scratch))
        if args.ray:
            import ray

            t0 = time.perf_counter()
            ray.init(num_cpus=args.ray_cpus, include_dashboard=False, log_to_driver=False)
            start = time.perf_counter() - t0
            try:
                result = bench_runner(f"Ray, local instance, {args.ray_cpus} CPUs", RayRunner(),
                                      jobs, args.ray_cpus, scratch)
            finally:
                ray.shutdown()
            result["ray_init_s"] = round(start, 1)
            report(result)
    machine = {"python": platform.python_version(), "cores": os.cpu_count(),
               "load_avg_1min_after": round(os.getloadavg()[0], 1)}
    print(json.dumps(machine), file=sys.stderr)
    if args.json:
        with open(args.json, "a") as f:
            f.write(json.dumps({"results": results, "machine": machine}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
