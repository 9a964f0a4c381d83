"""``craftpix batch JOBS --out DIR``: the batch runner on the command line."""

from __future__ import annotations

from pathlib import Path

import click

from craftpix.errors import InputError


@click.command("batch")
@click.argument("jobs", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), required=True,
              help="Folder for the results: one folder per job, and summary.csv.")
@click.option("--workers", type=click.IntRange(min=1), default=None, metavar="N",
              help="Jobs at once on this computer [default: its number of cores].")
@click.option("--ray", "ray_address", is_flag=False, flag_value="auto", default=None,
              metavar="[ADDRESS]",
              help="Run the jobs as Ray tasks on the cluster at ADDRESS ('auto': the one this "
                   "computer is part of; 'local': start Ray here). Photo jobs take a CPU, "
                   'prompt jobs a GPU. Needs: pip install "craftpix[cluster]".')
@click.option("--retry-failed", is_flag=True,
              help="Run again the jobs that failed last time (by default they are left).")
@click.option("--skip-invalid", is_flag=True,
              help="Run the valid rows even if some are not (those are listed as invalid).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no table.")
def batch_command(jobs: Path, out: Path, workers: int | None, ray_address: str | None,
                  retry_failed: bool, skip_invalid: bool, quiet: bool) -> int:
    """Make every pattern of a jobs file (CSV or JSON Lines, one pattern per row).

    Columns: craft (beads, bricks or stitch), name (the job's folder; default like a single
    run's) and the options of 'craftpix beads|bricks|stitch' without the dashes: image or
    prompt, size, colors, seed, brand, paper, formats... Paths are relative to the jobs file.
    A rerun skips the jobs that are complete with the same settings and finishes the rest.
    Exit status 1 if a job failed.
    """
    from craftpix.batch import LocalRunner, RayRunner, format_table, read_jobs, run_batch

    jobs_file = read_jobs(jobs)
    for row in jobs_file.bad:
        click.echo(f"craftpix: {jobs_file.describe(row)}", err=True)
    if jobs_file.bad and not skip_invalid:
        raise InputError(f"{len(jobs_file.bad)} of {len(jobs_file.bad) + len(jobs_file.jobs)} "
                         f"rows of {jobs.name} are not valid; nothing was run (fix them, or "
                         "--skip-invalid to run the others)")
    if ray_address is not None:
        runner = RayRunner(ray_address, num_cpus=workers if ray_address == "local" else None)
    else:
        runner = LocalRunner(workers)
    report = run_batch(jobs_file, out, runner=runner, retry_failed=retry_failed,
                       skip_invalid=skip_invalid, progress=not quiet)
    if not quiet:
        click.echo(format_table(report.rows))
    click.echo(f"{report.totals()}; summary in {report.summary}")
    return 0 if report.ok else 1
