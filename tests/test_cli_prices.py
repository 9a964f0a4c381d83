"""Prices and what you own, end to end through the CLI as a crafter types it (issue 21, 3-4)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from craftpix.cli import main

PALETTE = """code,name,hex,price,per
W,White,#F0F0F0,0.02,piece
R,Red,#C81E28,0.03,piece
K,Black,#141414,0.01,piece
O,Orange,#FA8C14,0.05,piece
"""
INVENTORY = """code,count,price
80-19001,300,3.50
80-19005,100,3.50
80-19018,,3.50
"""


@pytest.fixture()
def cat(tmp_path: Path) -> Path:
    """A JPEG 'cat': white ground, a red block, a black block, an orange patch (80x60)."""
    a = np.zeros((60, 80, 3), np.uint8)
    a[:] = (240, 240, 240)
    a[10:40, 10:50] = (200, 20, 30)
    a[30:55, 40:75] = (20, 20, 20)
    a[5:20, 55:75] = (250, 140, 20)
    path = tmp_path / "cat.jpg"
    Image.fromarray(a).save(path, quality=95)
    return path


def run(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(main, list(args))
    return res.exit_code, res.output


def shopping(folder: Path) -> list[dict[str, str]]:
    with open(folder / "shopping-list.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def test_palette_prices_reach_the_summary_shopping_list_and_pdf(tmp_path: Path, cat: Path) -> None:
    (tmp_path / "mine.csv").write_text(PALETTE)
    out = tmp_path / "o"
    code, text = run("beads", "--image", str(cat), "--size", "40", "--palette",
                     str(tmp_path / "mine.csv"), "--out", str(out), "-q")
    assert code == 0, text
    rows = shopping(out)
    assert rows and all(r["price_per_pack"] and r["price_total"] for r in rows)
    # per piece in the file: a bag of 1000 costs 1000 × the piece price
    by_code = {r["code"]: r for r in rows}
    assert by_code["W"]["price_per_pack"] == "20.00"
    total = sum(float(r["price_total"]) for r in rows)
    assert total == pytest.approx(sum(float(r["packs"]) * float(r["price_per_pack"])
                                      for r in rows))
    assert f"to buy: {total:.2f}" in text
    from pypdf import PdfReader

    pdf_text = " ".join(p.extract_text() for p in PdfReader(out / "pattern.pdf").pages)
    assert "20.00 each" in pdf_text and f"Cost to buy: {total:.2f}" in pdf_text
    # the prices travel with the pattern: an export of it prices it again
    assert json.loads((out / "pattern.json").read_text())["meta"]["prices"]["W"] == 20.0


def test_a_budget_below_the_cheapest_pattern_names_the_minimum(tmp_path: Path, cat: Path) -> None:
    (tmp_path / "mine.csv").write_text(PALETTE)
    out = tmp_path / "o"
    code, text = run("beads", "--image", str(cat), "--size", "40", "--palette",
                     str(tmp_path / "mine.csv"), "--budget", "1", "--out", str(out), "-q")
    assert code == 2
    line = text.strip().splitlines()[-1]
    assert "below the cheapest pattern" in line and "costs 20.00" in line
    assert not out.exists()
    code, text = run("beads", "--image", str(cat), "--size", "40", "--palette",
                     str(tmp_path / "mine.csv"), "--budget", "20", "--out", str(out), "-q",
                     "--no-pdf")
    assert code == 0, text
    assert sum(float(r["price_total"]) for r in shopping(out)) <= 20
    assert "to stay within the budget of 20.00" in text and "mean ΔE00 goes from" in text


def test_own_first_then_buy_the_rest(tmp_path: Path, cat: Path) -> None:
    (tmp_path / "inv.csv").write_text(INVENTORY)
    out = tmp_path / "o"
    code, text = run("beads", "--image", str(cat), "--size", "40", "--inventory",
                     str(tmp_path / "inv.csv"), "--out", str(out), "-q", "--no-pdf")
    assert code == 0, text
    assert "pieces to buy" in text and "completed from the perler catalog" in text
    rows = {r["code"]: r for r in shopping(out)}
    assert "80-19018" not in rows  # plenty of black owned: nothing to buy
    white = rows["80-19001"]
    assert int(white["owned"]) == 300 and int(white["count"]) > 300
    assert int(white["packs"]) == 1  # the rest, not the whole count
    bought_colors = set(rows) - {"80-19001", "80-19005"}
    assert bought_colors  # a red-orange the box lacks is bought
    assert all(int(rows[c]["owned"]) == 0 for c in bought_colors)


def test_only_owned_keeps_the_strict_limit(tmp_path: Path, cat: Path) -> None:
    (tmp_path / "inv.csv").write_text("code,count\n80-19001,300\n80-19005,100\n")
    out = tmp_path / "o"
    code, text = run("beads", "--image", str(cat), "--size", "40", "--inventory",
                     str(tmp_path / "inv.csv"), "--only-owned", "--out", str(out), "-q")
    assert code == 2
    assert "inventory holds only 400" in text.strip().splitlines()[-1]
    code, text = run("beads", "--image", str(cat), "--size", "40", "--inventory",
                     str(tmp_path / "inv.csv"), "--out", str(out), "-q", "--no-pdf")
    assert code == 0, text
    assert "your inventory holds 400 pieces and the pattern needs 1200" in text


def test_the_shopping_list_subtracts_what_is_owned(tmp_path: Path, cat: Path) -> None:
    (tmp_path / "inv.csv").write_text("code,count\n80-19001,5000\n80-19005,5000\n"
                                      "80-19018,5000\n80-19004,5000\n")
    out = tmp_path / "o"
    code, text = run("beads", "--image", str(cat), "--size", "40", "--inventory",
                     str(tmp_path / "inv.csv"), "--out", str(out), "-q", "--no-pdf")
    assert code == 0, text
    owned = {"80-19001", "80-19005", "80-19018", "80-19004"}
    assert not any(r["code"] in owned for r in shopping(out))
