"""The linear DST read-back agrees with pyembroidery's reader, and the header counts records."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pyembroidery as emb
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from craftpix.cli import main as cli
from craftpix.export import dst
from craftpix.export.backstitch import plan_backstitch
from craftpix.export.embroidery import (
    EmbroideryError,
    plan_cross_stitch,
    read_summary,
    render_format,
    summarize_commands,
)
from craftpix.pattern import Color, Pattern

DMC = [Color("3865", "Winter White", "#F9F7F1"), Color("310", "Black", "#000000"),
       Color("321", "Red", "#C7002B"), Color("797", "Royal Blue", "#13477D")]


def pyembroidery_summary(data: bytes) -> tuple[int, int, int, tuple[float, float, float, float]]:
    back = emb.EmbPattern.read_embroidery(emb.DstReader, io.BytesIO(data), {"trim_at": 3})
    return summarize_commands((s[2], s[0], s[1]) for s in back.stitches)


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 14), st.integers(2, 14), st.integers(0, 2**32 - 1), st.booleans())
def test_fast_read_back_matches_pyembroidery(h: int, w: int, seed: int, outline: bool) -> None:
    rng = np.random.default_rng(seed)
    cells = rng.integers(-1, len(DMC), size=(h, w))
    if not (cells >= 0).any():
        cells[0, 0] = 1
    p = Pattern(cells, DMC, "stitch", "dmc")
    bs = None
    if outline:
        p, bs = plan_backstitch(p)
    plan = plan_cross_stitch(p, 14, bs)
    data = render_format(p, plan, "dst", (400, 400))
    got = read_summary(data, "dst")
    assert (got.stitches, got.trims, got.color_changes, got.bounds) == pyembroidery_summary(data)
    assert dst.header_stitch_count(data) == (len(data) - 512) // 3


def test_a_false_header_count_is_refused() -> None:
    cells = np.zeros((6, 6), np.int64)
    cells[2:4, 2:4] = 1
    p = Pattern(cells, DMC, "stitch", "dmc")
    data = render_format(p, plan_cross_stitch(p, 14), "dst", (400, 400))
    at = data.index(b"ST:") + 3
    bad = data[:at] + b"%7d" % (dst.header_stitch_count(data) - 5) + data[at + 7:]
    with pytest.raises(EmbroideryError, match="header counts"):
        read_summary(bad, "dst")


def test_cli_dst_header_counts_every_record(tmp_path: Path) -> None:
    """`craftpix stitch --image photo.png --formats dst`: ST: is the number of records."""
    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, size=(40, 52, 3), dtype=np.uint8)
    Image.fromarray(img).save(tmp_path / "noise.png")
    res = CliRunner().invoke(cli, ["stitch", "--image", str(tmp_path / "noise.png"), "--size", "40",
                                   "--colors", "8", "--formats", "dst", "--no-pdf", "-q",
                                   "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    data = (tmp_path / "o" / "pattern.dst").read_bytes()
    records = (len(data) - 512) // 3
    assert dst.header_stitch_count(data) == records
    # and far more than pyembroidery's own command count would say: trims are 3 jumps each
    back = emb.EmbPattern.read_embroidery(emb.DstReader, io.BytesIO(data), {"trim_at": 3})
    assert records > sum(1 for s in back.stitches if s[2] & emb.COMMAND_MASK == emb.STITCH)


def test_cli_thread_sequence_lists_each_block_as_sewn(tmp_path: Path) -> None:
    """`stitch --backstitch auto --formats dst,pes`: the PDF's thread-sequence rows are the
    machine's blocks — the outline block labelled backstitch with its edge count (issue 21)."""
    from pypdf import PdfReader

    from craftpix.pattern import Pattern as P

    src = Path(__file__).resolve().parents[1] / "examples" / "astronaut.jpg"
    out = tmp_path / "o"
    res = CliRunner().invoke(cli, ["stitch", "--image", str(src), "--size", "40", "--colors",
                                   "10", "--backstitch", "auto", "--formats", "dst,pes", "-q",
                                   "--out", str(out)])
    assert res.exit_code == 0, res.output
    page = next(t for t in (pg.extract_text() for pg in PdfReader(out / "pattern.pdf").pages)
                if "thread sequence" in t)
    text = " ".join(page.split())
    p = P.load(out / "pattern.json")
    outlined, bs = plan_backstitch(p, None)
    plan = plan_cross_stitch(outlined, 14, bs)
    kinds = [b.kind for b in plan.blocks]
    assert kinds[-1] == "backstitch" and kinds.count("backstitch") == 1
    assert f"backstitch, {plan.blocks[-1].edges:,} edges" in text
    assert plan.blocks[-1].edges == bs.segments
    assert " 0 crosses" not in text
    counts = p.counts()
    for b in plan.blocks[:-1]:
        assert b.crosses == counts[[c.code for c in p.palette].index(outlined.palette[b.color].code)]
        assert f"{b.crosses:,} crosses" in text
    # one block per thread the DST holds: color changes + 1
    rec = dst.decode((out / "pattern.dst").read_bytes())
    assert int((rec.kind == dst.COLOR_CHANGE).sum()) + 1 == len(plan.blocks)
