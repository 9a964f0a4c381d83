"""Batch runs as Ray tasks on a local Ray instance: the same outputs as the local pool."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from craftpix.batch import LocalRunner, RayRunner, run_batch
from craftpix.batch.store import JOB_FILE
from craftpix.cli import main

ray = pytest.importorskip("ray")

HEADER = ["craft", "image", "size", "colors", "seed", "dither", "pdf", "steps", "name",
          "prompt", "engine"]


@pytest.fixture(scope="module")
def ray_instance():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def jobs_csv(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rayjobs")
    rng = np.random.default_rng(5)
    img = np.clip(rng.uniform(0, 1, (1, 1, 3)) * np.ones((30, 36, 3))
                  + rng.normal(0, 0.1, (30, 36, 3)), 0, 1)
    img[5:20, 4:18] = [0.9, 0.2, 0.1]
    Image.fromarray((img * 255).astype(np.uint8)).save(folder / "tile.png")
    (folder / "sub").mkdir()
    (folder / "sub" / "broken.png").write_bytes((folder / "tile.png").read_bytes()[:60])
    rows = [
        {"craft": "beads", "image": "tile.png", "size": "12", "colors": "4", "dither": "true",
         "pdf": "false"},
        # the optimizing photo engine, a few steps, with its PDF
        {"craft": "stitch", "image": "tile.png", "size": "14x10", "colors": "5", "steps": "5",
         "seed": "3"},
        {"craft": "bricks", "image": "sub/broken.png", "size": "12", "dither": "true",
         "pdf": "false"},                                     # raises in the task
        {"craft": "beads", "image": "tile.png", "size": "999"},  # invalid
    ]
    path = folder / "jobs.csv"
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=HEADER)
        writer.writeheader()
        writer.writerows(rows)
    return path


def _files(folder: Path) -> dict[str, bytes]:
    files = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.name != JOB_FILE and ".craftpix-batch" not in path.parts:
            data = path.read_bytes()
            if path.name == "pattern.json":  # the run's own wall time differs, nothing else
                pattern = json.loads(data)
                pattern["meta"].pop("seconds")
                data = json.dumps(pattern, sort_keys=True).encode()
            elif path.name == ".craftpix-manifest.json":  # holds pattern.json's hash: its names
                data = json.dumps(sorted(json.loads(data)["files"])).encode()
            files[path.relative_to(folder).as_posix()] = data
    return files


def test_ray_and_the_local_pool_make_identical_outputs(ray_instance, jobs_csv, tmp_path):
    on_ray = run_batch(jobs_csv, tmp_path / "ray", runner=RayRunner(), skip_invalid=True)
    local = run_batch(jobs_csv, tmp_path / "local", runner=LocalRunner(2), skip_invalid=True)
    for report in (on_ray, local):
        assert [(r.line, r.status) for r in report.rows] == [
            (2, "done"), (3, "done"), (4, "failed"), (5, "invalid")]
        assert report.rows[2].error.startswith(
            f"cannot read image {jobs_csv.parent.resolve() / 'sub' / 'broken.png'}")
    ray_files = {k: v for k, v in _files(tmp_path / "ray").items() if k != "summary.csv"}
    local_files = {k: v for k, v in _files(tmp_path / "local").items() if k != "summary.csv"}
    assert set(ray_files) == set(local_files)
    assert {"tile-stitch-14x10/pattern.pdf", "tile-stitch-14x10/pattern.dst",
            "tile-beads-12/pattern.json"} <= set(ray_files)
    for name, data in ray_files.items():
        assert data == local_files[name], name


def test_ray_from_the_command_line_resumes_and_fails_prompt_jobs_without_a_gpu(
        ray_instance, jobs_csv, tmp_path):
    out = tmp_path / "out"
    first = CliRunner().invoke(main, ["batch", str(jobs_csv), "--out", str(out), "--ray",
                                      "--skip-invalid", "-q"])
    assert first.exit_code == 1, first.output
    assert "4 jobs: 2 done, 1 failed, 1 invalid" in first.output
    with open(jobs_csv) as f:
        rows = f.read()
    both = jobs_csv.parent / "both.csv"
    both.write_text(rows + "beads,,12,,,,,,rose,a red rose,sds\n")
    second = CliRunner().invoke(main, ["batch", str(both), "--out", str(out), "--ray", "auto",
                                       "--skip-invalid"])
    assert second.exit_code == 1, second.output
    with open(out / "summary.csv", newline="") as f:
        summary = {row["line"]: row for row in csv.DictReader(f)}
    assert [summary[k]["status"] for k in "23456"] == [
        "skipped", "skipped", "failed", "invalid", "failed"]
    assert summary["6"]["error"] == "prompt jobs need a GPU and the Ray cluster has none"
    assert summary["4"]["error"].startswith("earlier run:")
