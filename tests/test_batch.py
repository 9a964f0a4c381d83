"""Batch runs on the local process pool: jobs files, bad rows, failures, resume, publishing."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from craftpix.api import PatternRequest, make_pattern
from craftpix.batch import (
    LocalRunner,
    Store,
    execute,
    publish_dir,
    read_jobs,
    request_digest,
    run_batch,
)
from craftpix.batch.store import JOB_FILE
from craftpix.cli import main
from craftpix.errors import InputError
from craftpix.pattern import Pattern
from craftpix.sizing import SizeSpec

REPO = Path(__file__).resolve().parents[1]
# Tiny jobs: 12×12 cells, Floyd–Steinberg (no optimizer), no PDF.
TINY = {"size": "12", "colors": "4", "dither": "true", "pdf": "false"}
HEADER = ["craft", "image", "size", "colors", "seed", "dither", "pdf", "name"]


def _photo(path: Path, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    img = np.zeros((40, 48, 3))
    img[...] = rng.uniform(0.2, 0.9, 3)
    img[8:30, 6:26] = rng.uniform(0, 1, 3)
    img[20:38, 24:44] = rng.uniform(0, 1, 3)
    img = np.clip(img + rng.normal(0, 0.04, img.shape), 0, 1)
    Image.fromarray((img * 255).astype(np.uint8)).save(path)
    return path


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    _photo(folder / "red.png", 1)
    _photo(folder / "blue.png", 2)
    good = (folder / "red.png").read_bytes()
    (folder / "broken.png").write_bytes(good[:80])  # a PNG header, then nothing: decoding fails
    return folder


def _write_csv(path: Path, rows: list[dict[str, str]], header: list[str] = HEADER) -> Path:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    return path


def _job(craft: str, image: str, name: str = "", **changes: str) -> dict[str, str]:
    return {"craft": craft, "image": image, "seed": "0", "name": name, **TINY, **changes}


def _summary(out: Path) -> dict[str, dict[str, str]]:
    with open(out / "summary.csv", newline="") as f:
        return {row["line"]: row for row in csv.DictReader(f)}


# --- reading and checking jobs files -----------------------------------------------------------
def test_rows_become_the_requests_the_craft_commands_make(photos):
    jobs_csv = _write_csv(photos / "jobs.csv", [
        _job("beads", "red.png", colors="6", seed="3"),
        {"craft": "stitch", "image": "blue.png", "size": "20x16", "colors": "5", "seed": "",
         "dither": "", "pdf": "no", "name": "blue-cross"},
    ])
    jobs = read_jobs(jobs_csv)
    assert jobs.bad == []
    beads, stitch = jobs.jobs
    assert (beads.line, beads.name) == (2, "red-beads-12")  # the folder a single run makes
    assert beads.request == PatternRequest(
        medium="beads", size=12, image=photos / "red.png", colors=6, seed=3, dither=True,
        engine="photo", export=beads.request.export, quiet=True).validated()
    assert beads.request.export["pdf"] is False and not beads.needs_gpu
    assert (stitch.name, stitch.request.size, stitch.request.seed) == ("blue-cross", SizeSpec.cells(20, 16), 0)
    assert stitch.request.dither is False and stitch.request.medium == "stitch"
    assert len({beads.digest, stitch.digest}) == 2 and len(beads.digest) == 64


def test_json_lines_take_native_values(photos):
    path = photos / "jobs.jsonl"
    path.write_text(
        json.dumps({"craft": "stitch", "image": "red.png", "size": [20, 16], "colors": 5,
                    "pdf": False, "formats": ["dst"], "hoop": [100, 100]}) + "\n\n"
        + json.dumps({"medium": "bricks", "image": str(photos / "blue.png"), "size": 16,
                      "merge": True, "section": 16}) + "\n"
        + "[1, 2]\n" + "{not json\n")
    jobs = read_jobs(path)
    assert [j.line for j in jobs.jobs] == [1, 3]
    stitch, bricks = jobs.jobs
    assert stitch.request.size == SizeSpec.cells(20, 16) and stitch.request.export["formats"] == ("dst",)
    assert bricks.request.export["merge"] is True and bricks.request.image == photos / "blue.png"
    assert [(b.line, b.message.split(" ")[0]) for b in jobs.bad] == [(4, "each"), (5, "not")]


def test_bad_rows_are_reported_by_line(photos):
    jobs_csv = _write_csv(photos / "bad.csv", [
        _job("beads", "red.png"),                                   # 2: fine
        _job("knitting", "red.png"),                                # 3
        _job("beads", "red.png", size="1"),                         # 4
        _job("beads", "missing.png"),                               # 5
        _job("beads", "red.png", colors="many"),                    # 6
        _job("beads", "red.png", name="../escape"),                 # 7
        _job("beads", "red.png"),                                   # 8: same folder as line 2
        _job("beads", "blue.png", dither="maybe"),                  # 9
        {"craft": "stitch", "image": "red.png", "size": "12", "name": "", "colors": "",
         "seed": "", "dither": "", "pdf": ""},                      # 10: fine
        _job("stitch", "red.png", name="big", size="400"),          # 11: fine (no machine files)
        _job("", "red.png"),                                        # 12
    ])
    jobs = read_jobs(jobs_csv)
    assert [j.line for j in jobs.jobs] == [2, 10, 11]
    messages = {b.line: b.message for b in jobs.bad}
    assert set(messages) == {3, 4, 5, 6, 7, 8, 9, 12}
    assert "unknown craft" in messages[3]
    assert "--size" in messages[4] and "out of range" in messages[4]
    assert "does not exist" in messages[5]
    assert messages[6] == "colors='many': give a whole number from 1 to 500"
    assert "job name '../escape'" in messages[7]
    assert "line 2" in messages[8]
    assert "true or false" in messages[9]
    assert "craft" in messages[12]
    assert all("\n" not in m for m in messages.values())
    assert jobs.describe(jobs.bad[0]) == f"bad.csv line 3: {messages[3]}"


def test_spreadsheet_csv_with_semicolons_and_a_trailing_separator(photos):
    path = photos / "excel.csv"
    path.write_text("\ufeffcraft;image;size;colors;\r\nbeads;red.png;12;3;\r\n"
                    "# a comment row\r\n;;;;\r\nbricks;blue.png;16;3;oops\r\n",
                    encoding="utf-8")
    jobs = read_jobs(path)
    assert [(j.line, j.request.colors) for j in jobs.jobs] == [(2, 3)]
    assert [(b.line, b.message) for b in jobs.bad] == [(5, "a value in a column without a name")]


@pytest.mark.parametrize(("header", "message"), [
    ("craft,image,size,colour", "unknown column 'colour'"),
    ("craft,image,size,out", "column 'out' cannot be set per job"),
    ("craft,image,size,size", "appears twice"),
])
def test_a_bad_header_stops_the_whole_file(tmp_path, header, message):
    path = tmp_path / "jobs.csv"
    path.write_text(header + "\nbeads,x.png,12,3\n")
    with pytest.raises(InputError, match=message):
        read_jobs(path)


def test_unreadable_or_empty_jobs_files(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read_jobs(tmp_path / "nope.csv")
    (tmp_path / "empty.csv").write_text("craft,image,size\n\n")
    with pytest.raises(InputError, match="no jobs"):
        read_jobs(tmp_path / "empty.csv")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.text(min_size=1, max_size=12))
def test_no_job_name_leads_outside_out(photos, tmp_path, name):
    """Whatever the name column says, an accepted job's folder is a child of --out."""
    path = tmp_path / "names.csv"
    _write_csv(path, [_job("beads", "red.png", name=name)])
    jobs = read_jobs(path)
    if "/" in name or "\\" in name or name.strip() in (".", "..") or "." in name:
        assert jobs.jobs == [] and "job name" in jobs.bad[0].message
    for job in jobs.jobs:
        store_out = tmp_path / "out"
        folder = (store_out / job.name)
        assert folder.parent == store_out and job.name not in (".", "..")
        assert "/" not in job.name and "\\" not in job.name and not job.name.startswith(".")


def test_digest_follows_content_not_location(photos, tmp_path):
    moved = tmp_path / "elsewhere.png"
    moved.write_bytes((photos / "red.png").read_bytes())
    a = PatternRequest(medium="beads", size=(12, 12), image=photos / "red.png").validated()
    b = PatternRequest(medium="beads", size=(12, 12), image=moved).validated()
    c = PatternRequest(medium="beads", size=(12, 12), image=photos / "blue.png").validated()
    d = PatternRequest(medium="beads", size=(12, 12), image=photos / "red.png",
                       colors=5).validated()
    e = PatternRequest(medium="beads", size=(12, 12), image=photos / "red.png",
                       out=tmp_path, quiet=False).validated()
    digests = [request_digest(r) for r in (a, b, c, d, e)]
    # b renames the file: its name is in the pattern's metadata, so it counts
    assert digests[0] == digests[4]
    assert len({digests[0], digests[1], digests[2], digests[3]}) == 4


# --- running ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def mixed_run(photos, tmp_path_factory):
    """One batch over good rows, a bad row and a job that raises, on two worker processes."""
    folder = tmp_path_factory.mktemp("mixed")
    jobs_csv = _write_csv(photos / "mixed.csv", [
        _job("beads", "red.png"),                        # 2
        _job("bricks", "blue.png"),                      # 3
        _job("beads", "broken.png"),                     # 4: raises in the worker
        _job("beads", "red.png", size="0"),              # 5: invalid
        _job("stitch", "blue.png", size="14x10"),        # 6
    ])
    out = folder / "out"
    refused = CliRunner().invoke(main, ["batch", str(jobs_csv), "--out", str(out), "-q"])
    res = CliRunner().invoke(main, ["batch", str(jobs_csv), "--out", str(out), "--workers", "2",
                                    "--skip-invalid"])
    return jobs_csv, out, refused, res


def test_invalid_rows_stop_the_batch_before_anything_runs(mixed_run):
    jobs_csv, out, refused, _ = mixed_run
    assert refused.exit_code == 2
    lines = refused.output.strip().splitlines()
    assert lines[0].startswith("craftpix: mixed.csv line 5: ") and "--size" in lines[0]
    assert lines[-1].startswith("craftpix: 1 of 5 rows of mixed.csv are not valid; nothing")
    assert "Traceback" not in refused.output


def test_a_failing_job_never_stops_the_others(mixed_run):
    _, out, _, res = mixed_run
    assert res.exit_code == 1, res.output
    assert "5 jobs: 3 done, 1 failed, 1 invalid; summary in" in res.output
    rows = _summary(out)
    assert {k: r["status"] for k, r in rows.items()} == {
        "2": "done", "3": "done", "4": "failed", "5": "invalid", "6": "done"}
    assert "cannot read image" in rows["4"]["error"] and "--size" in rows["5"]["error"]
    stitched = Pattern.load(out / "blue-stitch-14x10" / "pattern.json")
    assert (stitched.width, stitched.height) == (14, 10)
    assert rows["6"]["pieces"] == str(int(stitched.counts().sum())) and int(rows["6"]["colors"]) <= 4
    assert sorted(p.name for p in out.iterdir()) == [
        ".craftpix-batch", "blue-bricks-12", "blue-stitch-14x10", "red-beads-12",
        "summary.csv"]
    stitch = out / "blue-stitch-14x10"
    assert {p.name for p in stitch.iterdir()} == {
        JOB_FILE, "pattern.json", "preview.png", "preview-pixels.png", "pattern.pes",
        "pattern.dst", "shopping-list.csv", ".craftpix-manifest.json"}
    record = json.loads((stitch / JOB_FILE).read_text())
    assert record["files"] == sorted(p.name for p in stitch.iterdir() if p.name != JOB_FILE)
    assert record["request"]["medium"] == "stitch" and record["line"] == 6
    assert Pattern.load(stitch / "pattern.json").cells.shape == (10, 14)
    failed = json.loads((out / ".craftpix-batch" / "failed" / "broken-beads-12.json")
                        .read_text())
    assert failed["ok"] is False and "cannot read image" in failed["error"]


def test_a_batch_job_is_the_single_run(mixed_run, photos):
    """A job's pattern is the one make_pattern gives for the same request."""
    _, out, _, _ = mixed_run
    single = make_pattern(PatternRequest(medium="bricks", image=photos / "blue.png",
                                         size=12, colors=4, dither=True, seed=0,
                                         export={"part": "plate"})).pattern
    batched = Pattern.load(out / "blue-bricks-12" / "pattern.json")
    assert np.array_equal(single.cells, batched.cells)
    assert [c.code for c in single.palette] == [c.code for c in batched.palette]


def test_rerun_skips_finished_jobs_and_runs_changed_ones(mixed_run, photos, tmp_path):
    jobs_csv, out, _, _ = mixed_run
    before = {p.name: (p / JOB_FILE).read_text() for p in out.iterdir()
              if (p / JOB_FILE).is_file()}
    rows = list(csv.DictReader(open(jobs_csv)))
    rows[1]["colors"] = "3"  # line 3 changes: the bricks job runs again
    changed = _write_csv(tmp_path / "changed.csv", rows)
    (tmp_path / "red.png").symlink_to(photos / "red.png")
    (tmp_path / "blue.png").symlink_to(photos / "blue.png")
    (tmp_path / "broken.png").symlink_to(photos / "broken.png")
    report = run_batch(changed, out, runner=LocalRunner(1), skip_invalid=True)
    status = {r.line: r.status for r in report.rows}
    assert status == {2: "skipped", 3: "done", 4: "failed", 5: "invalid", 6: "skipped"}
    assert report.rows[2].error.startswith("earlier run: cannot read image")
    assert (out / "red-beads-12" / JOB_FILE).read_text() == before["red-beads-12"]
    assert (out / "blue-bricks-12" / JOB_FILE).read_text() != before["blue-bricks-12"]
    assert Pattern.load(out / "blue-bricks-12" / "pattern.json").meta  # complete set
    assert len(Pattern.load(out / "blue-bricks-12" / "pattern.json").palette) <= 3
    again = run_batch(changed, out, runner=LocalRunner(1), skip_invalid=True,
                      retry_failed=True)
    status = {r.line: r.status for r in again.rows}
    assert status == {2: "skipped", 3: "skipped", 4: "failed", 5: "invalid", 6: "skipped"}
    assert again.rows[2].error.startswith("cannot read image")
    assert not [p for p in out.iterdir() if ".staging-" in p.name or ".old-" in p.name]


def _finished(out: Path) -> dict[str, str]:
    """``{job folder: its job.json}`` of the published jobs (not the hidden staging folders)."""
    return {p.parent.name: p.read_text() for p in out.glob("*/" + JOB_FILE)
            if not p.parent.name.startswith(".")}


def test_interrupted_batch_resumes_and_runs_every_job_once(photos, tmp_path):
    """Kill a batch midway (the whole process group), rerun: each job is made exactly once."""
    # each job about a second (40×40 with its PDF), so the kill lands between jobs
    rows = [_job("beads", "red.png", name=f"job{i}", seed=str(i), size="40", pdf="true")
            for i in range(6)]
    jobs_csv = _write_csv(photos / "kill.csv", rows)
    out = tmp_path / "out"
    cmd = [sys.executable, "-c", "from craftpix.cli import main; main()", "batch",
           str(jobs_csv), "--out", str(out), "--workers", "1", "-q"]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not _finished(out) and time.monotonic() < deadline:
            assert proc.poll() is None, "the batch ended before it could be interrupted"
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    first = _finished(out)
    assert 1 <= len(first) < 6
    report = run_batch(jobs_csv, out, runner=LocalRunner(2))
    status = {r.name: r.status for r in report.rows}
    assert {n for n, s in status.items() if s == "skipped"} == set(first)
    assert {n for n, s in status.items() if s == "done"} == {f"job{i}" for i in range(6)} - set(first)
    for name, text in first.items():  # not made a second time
        assert (out / name / JOB_FILE).read_text() == text
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [".craftpix-batch", "summary.csv"] + [f"job{i}" for i in range(6)])


def test_execute_turns_any_exception_into_an_outcome(photos, tmp_path, monkeypatch):
    import craftpix.api

    def broken(request, on_progress=None):
        raise ZeroDivisionError("a bug\nsecond line")

    monkeypatch.setattr(craftpix.api, "make_pattern", broken)
    outcome = execute(PatternRequest(medium="beads", size=(12, 12), image=photos / "red.png"),
                      tmp_path / "x")
    assert outcome["ok"] is False and outcome["error"] == "ZeroDivisionError: a bug"
    assert "Traceback" in outcome["traceback"]


# --- the output folder -------------------------------------------------------------------------
def test_publish_replaces_a_set_whole(tmp_path):
    final = tmp_path / "job"
    for generation in ("old", "new"):
        staging = tmp_path / f".job.staging-{generation}"
        staging.mkdir()
        (staging / "pattern.json").write_text(generation)
        if generation == "old":
            (staging / "only-old.txt").write_text("x")
        publish_dir(staging, final)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["job"]
    assert sorted(p.name for p in final.iterdir()) == ["pattern.json"]
    assert (final / "pattern.json").read_text() == "new"


def test_store_cleans_up_after_a_dead_batch(tmp_path):
    out = tmp_path / "out"
    (out / ".job1.staging-abc").mkdir(parents=True)
    (out / ".job1.staging-abc" / "pattern.json").write_text("half")
    (out / ".job2.old-xyz" / "job2").mkdir(parents=True)  # died between the two renames
    (out / ".job2.old-xyz" / "job2" / JOB_FILE).write_text("{}")
    (out / ".keep-me").mkdir()
    with Store(out) as store:
        assert (out / "job2" / JOB_FILE).is_file()
        with pytest.raises(InputError, match="another batch"), Store(out):
            pass
        staging = store.stage("job3")
        (staging / "a.txt").write_text("a")
    assert sorted(p.name for p in out.iterdir()) == [".craftpix-batch", ".keep-me", "job2"]


def test_store_never_replaces_a_folder_it_did_not_make(tmp_path):
    out = tmp_path / "out"
    (out / "mine").mkdir(parents=True)
    (out / "mine" / "notes.txt").write_text("precious")
    (tmp_path / "outside").mkdir()
    (out / "link").symlink_to(tmp_path / "outside")
    with Store(out) as store:
        staging = store.stage("mine")
        with pytest.raises(InputError, match="not a batch job's folder"):
            store.publish("mine", staging, {})
        with pytest.raises(InputError, match="is a link"):
            store.stage("link")
    assert (out / "mine" / "notes.txt").read_text() == "precious"
    assert list((tmp_path / "outside").iterdir()) == []


def test_example_jobs_file_is_valid():
    """examples/batch.csv, which the README runs, reads without a bad row."""
    jobs = read_jobs(REPO / "examples" / "batch.csv")
    assert jobs.bad == [] and len(jobs.jobs) >= 4
    assert {j.request.medium for j in jobs.jobs} >= {"beads", "bricks"}
    assert len({j.request.size for j in jobs.jobs}) >= 2
    assert len({Path(j.request.image).name for j in jobs.jobs}) >= 2


def test_a_dead_worker_fails_only_its_job_and_a_rerun_makes_it(photos, tmp_path):
    """A worker process killed mid-job (as by the out-of-memory killer) breaks the pool:
    that job is failed without a failure record, the others run on a new pool."""
    import multiprocessing
    import threading

    rows = [_job("beads", "red.png", name=f"w{i}", seed=str(i), size="40", pdf="true")
            for i in range(3)]
    jobs_csv = _write_csv(photos / "dead.csv", rows)
    out = tmp_path / "out"
    killed: list[int] = []

    def kill_first_worker() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            workers = multiprocessing.active_children()
            if workers and list(out.glob(".w0.staging-*")):
                os.kill(workers[0].pid, signal.SIGKILL)
                killed.append(workers[0].pid)
            time.sleep(0.01)

    killer = threading.Thread(target=kill_first_worker)
    killer.start()
    report = run_batch(jobs_csv, out, runner=LocalRunner(1))
    killer.join()
    assert killed
    assert [(r.name, r.status) for r in report.rows] == [
        ("w0", "failed"), ("w1", "done"), ("w2", "done")]
    assert "worker process died" in report.rows[0].error
    assert not (out / ".craftpix-batch" / "failed" / "w0.json").exists()
    again = run_batch(jobs_csv, out, runner=LocalRunner(1))
    assert [r.status for r in again.rows] == ["done", "skipped", "skipped"]
