"""Export timings on a real-ish 200×200 pattern, and the piece reduction of --merge.

    .venv/bin/python bench/export_bench.py [--size 200] [--colors 20] [--repeat 3]
    .venv/bin/python bench/export_bench.py --dst 100,150,200,250 [--colors 20]

``--dst`` times only the DST contract (route, write, read back and check) per size, against
pyembroidery's own DST reader on the same bytes (the read-back craftpix used before).

Patterns are made without any model: the example photo is resized to the grid, the catalog
colors that best represent it are chosen (``Palette.select``) and every cell takes the
CIEDE2000-nearest of them. Timings are the best of ``--repeat`` runs, single process.
Prints Markdown for docs/BENCHMARKS.md ("Exports").
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from craftpix.export import export_pattern  # noqa: E402
from craftpix.export.bom import build_bom, resolve_settings  # noqa: E402
from craftpix.export.embroidery import (  # noqa: E402
    FORMATS,
    plan_cross_stitch,
    read_summary,
    render_format,
    write_embroidery,
)
from craftpix.export.merge import merge_plates  # noqa: E402
from craftpix.export.orders import bricklink_xml, catalog_facts, shopping_csv  # noqa: E402
from craftpix.export.pdf import write_pdf  # noqa: E402
from craftpix.export.preview import render_preview  # noqa: E402
from craftpix.palette import load_palette  # noqa: E402
from craftpix.pattern import Pattern, pattern_from_indices  # noqa: E402

IMAGE = ROOT / "examples" / "astronaut.jpg"


def make_pattern(medium: str, brand: str, size: int, colors: int) -> Pattern:
    pal = load_palette(brand)
    if medium == "bricks" and "transparent" in pal.columns:
        pal = pal.where("transparent", "false")
    with Image.open(IMAGE) as im:
        ref = np.asarray(im.convert("RGB").resize((size, size), Image.LANCZOS), np.float64) / 255
    sub = pal.select(ref, colors, seed=0)
    idx = sub.nearest(ref)
    return pattern_from_indices(idx, sub.codes, sub.names, sub.hexes, medium, brand,
                                {"image": IMAGE.name, "engine": "nearest", "seed": 0})


def best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def dst_rows(sizes: list[int], colors: int) -> None:
    """Print the DST table: route, write + check (craftpix's read-back), pyembroidery's read."""
    import io

    import pyembroidery as emb

    print(f"DST of an NxN pattern, {colors} colors, from examples/{IMAGE.name} (nearest, noisy); "
          f"single runs; Python {platform.python_version()}, {platform.machine()}\n")
    print("| size | records | trims | route | write + read back + check | "
          "pyembroidery's DST read of the same file |\n|---|---|---|---|---|---|")
    for n in sizes:
        p = make_pattern("stitch", "dmc", n, colors)
        t_plan, plan = best(lambda p=p: plan_cross_stitch(p, 14), 1)
        t_write, data = best(lambda p=p, plan=plan: render_format(p, plan, "dst", (600, 600)), 1)
        t_old, _ = best(lambda data=data: emb.EmbPattern.read_embroidery(
            emb.DstReader, io.BytesIO(data), {"trim_at": 3}), 1)
        print(f"| {n}x{n} | {(len(data) - 512) // 3} | {plan.trims} | {t_plan:.2f} s | "
              f"{t_write:.2f} s | {t_old:.2f} s |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=200)
    ap.add_argument("--colors", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dst", help="only the DST table, at these comma-separated sizes")
    args = ap.parse_args()
    if args.dst:
        dst_rows([int(v) for v in args.dst.split(",")], args.colors)
        return
    n, k, rep = args.size, args.colors, args.repeat
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        for medium, brand in (("beads", "perler"), ("bricks", "lego"), ("stitch", "dmc")):
            p = make_pattern(medium, brand, n, k)
            s = resolve_settings(medium)
            bom = build_bom(p, s)
            t, img = best(lambda p=p: render_preview(p, "craft"), rep)
            rows.append((medium, f"preview craft {img.width}x{img.height} px", f"{t * 1000:.0f} ms"))
            t, img = best(lambda p=p: render_preview(p, "pixels"), rep)
            rows.append((medium, "preview pixels", f"{t * 1000:.0f} ms"))
            pdf_path = tmp / f"{medium}.pdf"
            t, _ = best(lambda p=p, s=s, bom=bom, q=pdf_path: write_pdf(p, q, s, bom), rep)
            kb = pdf_path.stat().st_size / 1024
            rows.append((medium, f"PDF A4 ({kb:.0f} KiB)", f"{t:.2f} s"))
            if medium == "bricks":
                t, m = best(lambda p=p: merge_plates(p.cells, 16), rep)
                rows.append((medium, f"--merge: {m.pieces_before} -> {m.pieces_after} pieces "
                             f"({m.reduction:.0%} fewer)", f"{t * 1000:.0f} ms"))
                t, res = best(lambda p=p: export_pattern(p, tmp / "b", merge=True), 1)
                rows.append((medium, "export_all --merge (previews + PDF + orders)", f"{t:.2f} s"))
                facts = catalog_facts("lego")
                t, _ = best(lambda res=res, facts=facts: bricklink_xml(res.bom, facts), rep)
                rows.append((medium, "BrickLink wanted-list XML", f"{t * 1000:.1f} ms"))
            facts = catalog_facts(p.brand)
            bom_p = build_bom(p, resolve_settings(medium))
            t, _ = best(lambda p=p, b=bom_p, f=facts: shopping_csv(p, b, f), rep)
            rows.append((medium, "shopping-list CSV", f"{t * 1000:.1f} ms"))
            if medium == "stitch":
                t, plan = best(lambda p=p: plan_cross_stitch(p, 14), rep)
                rows.append((medium, f"embroidery routing: {plan.stitches} stitches, "
                             f"{plan.regions} areas, {plan.trims} trims", f"{t:.2f} s"))
                # JEF names one of Janome's hoops (largest 200x200 mm): bench it on a
                # 100x100 crop; the others on the whole design
                crop = Pattern(p.cells[:100, :100], p.palette, "stitch", p.brand)
                crop_plan = plan_cross_stitch(crop, 14)
                for fmt in FORMATS:
                    q, qplan = (crop, crop_plan) if fmt == "jef" else (p, plan)
                    what = " (100x100 crop)" if fmt == "jef" else ""
                    t, data = best(lambda q=q, qplan=qplan, fmt=fmt: render_format(
                        q, qplan, fmt, (400, 400)), 1)
                    tr, _ = best(lambda data=data, fmt=fmt: read_summary(data, fmt), 1)
                    rows.append((medium, f"write + read back {fmt.upper()}{what} "
                                 f"({len(data) / 1024:.0f} KiB; read-back alone {tr:.2f} s)",
                                 f"{t:.2f} s"))
                    if fmt == "dst":
                        t, _ = best(lambda p=p, plan=plan: write_embroidery(
                            p, tmp, ["dst"], 14, (400, 400), plan=plan), 1)
                        rows.append((medium, "write_embroidery DST (limits, read-back, file)",
                                     f"{t:.2f} s"))
                t, _ = best(lambda p=p: export_pattern(p, tmp / "s", hoop=(400, 400)), 1)
                rows.append((medium, "export_all default (previews + PDF + PES + DST)",
                             f"{t:.2f} s"))
        # merge on the sizes people build, per baseplate size
        merges = []
        for size in (48, 96, n):
            p = make_pattern("bricks", "lego", size, k)
            for sec in (16, 32, 48):
                m = merge_plates(p.cells, sec)
                merges.append((size, sec, m.pieces_before, m.pieces_after, m.reduction))
    print(f"Exports of a {n}x{n} pattern, {k} colors, from examples/{IMAGE.name}; "
          f"best of {rep}; Python {platform.python_version()}, {platform.machine()}\n")
    print("| medium | step | time |\n|---|---|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]} |")
    print("\n| bricks | baseplate | pieces 1x1 | pieces merged | fewer |\n|---|---|---|---|---|")
    for size, sec, before, after, red in merges:
        print(f"| {size}x{size} | {sec}x{sec} | {before} | {after} | {red:.0%} |")


if __name__ == "__main__":
    main()
