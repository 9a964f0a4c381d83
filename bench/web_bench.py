"""What the web app adds to the library: request round trips against direct API calls.

    .venv/bin/python bench/web_bench.py [--size 48] [--colors 12] [--repeat 3]

In process (FastAPI's TestClient, no network): the example photo is uploaded once, then
``POST /api/generate`` is timed against :func:`craftpix.api.make_pattern` on the same
request, and an edit, an undo and ``GET /api/files`` (PDF and previews) are timed too.
Timings are the best of ``--repeat`` runs. Prints Markdown for docs/BENCHMARKS.md ("Web app").
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=48)
    ap.add_argument("--colors", type=int, default=12)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
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
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}; best of {args.repeat}\n")
    print("| step | seconds |\n|---|---:|")
    for name, t in rows:
        print(f"| {name} | {t:.3f} |")


if __name__ == "__main__":
    main()
