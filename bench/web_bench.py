"""What the web app adds to the library, and what it holds under load.

    .venv/bin/python bench/web_bench.py [--size 48] [--colors 12] [--repeat 3]
    .venv/bin/python bench/web_bench.py --load 1,5,20 [--journeys 2]
    .venv/bin/python bench/web_bench.py --memory 32 [--side 500] [--edits 10]

Round trips (default), in process (FastAPI's TestClient, no network): the example photo is
uploaded once, then ``POST /api/generate`` is timed against
:func:`craftpix.api.make_pattern` on the same request, and an edit, an undo and
``GET /api/files`` (PDF and previews) are timed too; best of ``--repeat`` runs.

``--load N,...``: a real ``craftpix serve`` on a free local port and N concurrent users
(threads, one cookie each); every user does ``--journeys`` journeys of: upload the photo,
generate ``--size``² with ``--colors`` colors, one edit, download ``all.zip``. Reports the
journey's median and p95 seconds and the errors (any status but 200).

``--memory N``: N sessions, each uploading the photo and a ``--side``² pattern.json and making
``--edits`` edits (so each holds an undo history); the server's resident memory (with its
child processes) is sampled every 0.1 s: peak, and after the last request.

``--decode N``: N sessions upload a 40-megapixel PNG (8000×5000, a few hundred KB) at once;
the server's peak memory, its memory after the last upload, and the statuses.

Prints Markdown for docs/BENCHMARKS.md ("Web app").
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from craftpix.api import PatternRequest, make_pattern  # noqa: E402
from craftpix.web import WebSettings, create_app  # noqa: E402

PHOTO = ROOT / "examples" / "astronaut.jpg"


def best(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def serve() -> tuple[subprocess.Popen, str]:
    """``craftpix serve`` on a free port in a subprocess: (process, base URL)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", "from craftpix.cli import main; main()", "serve", "--port", "0",
         "--no-browser"], stdout=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.stdout is not None
    line = proc.stdout.readline()
    m = re.search(r"running at (\S+)", line)
    if m is None:
        proc.kill()
        raise SystemExit(f"the server did not start: {line!r}")
    return proc, m.group(1)


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and its children, in MB."""
    import psutil

    try:
        p = psutil.Process(pid)
        procs = [p, *p.children(recursive=True)]
    except psutil.Error:
        return 0.0
    total = 0
    for q in procs:
        try:
            total += q.memory_info().rss
        except psutil.Error:
            pass
    return total / 1e6


class Sampler:
    """Samples :func:`rss_mb` every 0.1 s in a thread; ``peak`` in MB."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0.0, threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            self.peak = max(self.peak, rss_mb(self.pid))

    def close(self) -> float:
        self._stop.set()
        self._t.join()
        return self.peak


def journey(c: Any, form: dict[str, Any]) -> tuple[float, list[int]]:
    """One journey of the user with client ``c``: (seconds, statuses that were not 200)."""
    bad: list[int] = []
    t0 = time.perf_counter()
    if True:
        for method, path, kw in [
                ("POST", "api/image", {"files": {"file": ("a.jpg", PHOTO.read_bytes())}}),
                ("POST", "api/generate", {"json": form}),
                ("POST", "api/edit", {"json": {"op": "clean"}}),
                ("GET", "api/files/all.zip", {})]:
            r = c.request(method, path, **kw)
            if r.status_code != 200:
                bad.append(r.status_code)
                break
    return time.perf_counter() - t0, bad


def load(levels: list[int], journeys: int, form: dict[str, Any]) -> None:
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    proc, base = serve()
    try:
        with httpx.Client(base_url=base, timeout=600) as c:
            journey(c, form)  # warm up

        def user(_: int) -> list[tuple[float, list[int]]]:
            with httpx.Client(base_url=base, timeout=600) as c:  # one cookie: one session
                return [journey(c, form) for _ in range(journeys)]

        print("| users at once | journeys | median s | p95 s | errors | server peak MB |")
        print("|---:|---:|---:|---:|---:|---:|")
        for n in levels:
            sampler = Sampler(proc.pid)
            with ThreadPoolExecutor(n) as ex:
                results = [r for rs in ex.map(user, range(n)) for r in rs]
            peak = sampler.close()
            times = np.array([t for t, _ in results])
            errors = sum(bool(b) for _, b in results)
            print(f"| {n} | {len(results)} | {np.median(times):.2f} | "
                  f"{np.percentile(times, 95):.2f} | {errors} | {peak:.0f} |")
    finally:
        stop(proc)


def memory(sessions: int, side: int, edits: int) -> None:
    import httpx

    from craftpix.pattern import pattern_from_indices

    rng = np.random.default_rng(0)
    codes = [f"C{i}" for i in range(24)]
    hexes = [f"#{int(v):06x}" for v in rng.integers(0, 1 << 24, 24)]
    cells = rng.integers(0, 24, (side, side))
    data = pattern_from_indices(cells, codes, codes, hexes, "beads", "perler").to_json()
    proc, base = serve()
    try:
        idle = rss_mb(proc.pid)
        sampler = Sampler(proc.pid)
        t0 = time.perf_counter()
        clients = [httpx.Client(base_url=base, timeout=600) for _ in range(sessions)]
        bad = 0
        for c in clients:
            for r in (c.post("api/image", files={"file": ("a.jpg", PHOTO.read_bytes())}),
                      c.post("api/pattern", files={"file": ("pattern.json", data)})):
                bad += r.status_code != 200
            for k in range(edits):
                r = c.post("api/edit", json={"op": "set", "row": k % side, "col": 0,
                                             "to": codes[(k + 1) % 24]})
                bad += r.status_code != 200
        took = time.perf_counter() - t0
        after = rss_mb(proc.pid)
        peak = sampler.close()
        for c in clients:
            c.close()
        print(f"| sessions | pattern | edits each | errors | idle MB | peak MB | after MB | "
              f"seconds |\n|---:|---|---:|---:|---:|---:|---:|---:|\n"
              f"| {sessions} | {side}×{side} | {edits} | {bad} | {idle:.0f} | {peak:.0f} | "
              f"{after:.0f} | {took:.0f} |")
    finally:
        stop(proc)


def decode(n: int) -> None:
    import io
    from concurrent.futures import ThreadPoolExecutor

    import httpx
    from PIL import Image

    img = Image.new("RGB", (8000, 5000), (200, 40, 40))
    img.paste((30, 60, 200), (0, 0, 4000, 2500))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    data = buf.getvalue()
    del img
    proc, base = serve()
    try:
        idle = rss_mb(proc.pid)
        sampler = Sampler(proc.pid)

        def one(_: int) -> int:
            with httpx.Client(base_url=base, timeout=600) as c:
                return c.post("api/image", files={"file": ("big.png", data)}).status_code

        t0 = time.perf_counter()
        with ThreadPoolExecutor(n) as ex:
            statuses = list(ex.map(one, range(n)))
        took = time.perf_counter() - t0
        time.sleep(1)
        after, peak = rss_mb(proc.pid), sampler.close()
        counts = ", ".join(f"{statuses.count(s)}× {s}" for s in sorted(set(statuses)))
        print(f"| uploads at once | PNG | statuses | idle MB | peak MB | after MB | seconds |\n"
              f"|---:|---|---|---:|---:|---:|---:|\n"
              f"| {n} | 8000×5000, {len(data) / 1e3:.0f} KB | {counts} | {idle:.0f} | "
              f"{peak:.0f} | {after:.0f} | {took:.1f} |")
    finally:
        stop(proc)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=48)
    ap.add_argument("--colors", type=int, default=12)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--load", help="concurrent users, e.g. 1,5,20 (a real server)")
    ap.add_argument("--journeys", type=int, default=2, help="journeys per user (--load)")
    ap.add_argument("--memory", type=int, help="sessions to fill (a real server)")
    ap.add_argument("--side", type=int, default=500, help="pattern side (--memory)")
    ap.add_argument("--edits", type=int, default=10, help="edits per session (--memory)")
    ap.add_argument("--decode", type=int, help="40 MP PNG uploads at once (a real server)")
    args = ap.parse_args()
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}\n")
    if args.load or args.memory or args.decode:
        if args.load:
            load([int(n) for n in args.load.split(",")], args.journeys,
                 {"medium": "beads", "width": args.size, "height": args.size,
                  "colors": args.colors, "seed": 0})
        if args.memory:
            memory(args.memory, args.side, args.edits)
        if args.decode:
            decode(args.decode)
        return
    form = {"medium": "beads", "width": args.size, "height": args.size,
            "colors": args.colors, "seed": 0}
    rows = []
    with TestClient(create_app(WebSettings())) as c:
        t_upload = best(lambda: c.post("/api/image", files={"file": (
            "a.jpg", PHOTO.read_bytes())}).raise_for_status(), args.repeat)
        make_pattern(PatternRequest(medium="beads", image=PHOTO, size=(8, 8), colors=2))  # warm
        t_api = best(lambda: make_pattern(PatternRequest(
            medium="beads", image=PHOTO, size=(args.size, args.size), colors=args.colors)),
            args.repeat)
        t_app = best(lambda: c.post("/api/generate", json=form).raise_for_status(), args.repeat)
        state = c.get("/api/pattern").json()
        code, to = state["palette"][0]["code"], state["palette"][1]["code"]

        def edit_and_undo() -> None:
            c.post("/api/edit", json={"op": "set", "row": 0, "col": 0, "to": to if
                                      state["cells"][0][0] == 0 else code}).raise_for_status()
            c.post("/api/undo").raise_for_status()

        t_edit = best(edit_and_undo, args.repeat) / 2

        def files() -> None:
            c.post("/api/edit", json={"op": "clean"}).raise_for_status()  # a new version
            c.get("/api/files").raise_for_status()

        t_files = best(files, args.repeat)
        t_state = best(lambda: c.get("/api/pattern").raise_for_status(), args.repeat)
    rows = [("upload the photo (POST /api/image)", t_upload),
            (f"make_pattern, {args.size}×{args.size}, {args.colors} colors (library)", t_api),
            ("the same through POST /api/generate", t_app),
            ("one edit or undo (POST /api/edit, /api/undo)", t_edit),
            ("the pattern as JSON (GET /api/pattern)", t_state),
            ("clean-up edit + PDF and previews (GET /api/files)", t_files)]
    print(f"best of {args.repeat}\n")
    print("| step | seconds |\n|---|---:|")
    for name, t in rows:
        print(f"| {name} | {t:.3f} |")


if __name__ == "__main__":
    main()
