"""--budget, prices and what you own, as a new user types them (issue 21, items 3-4).

Each test is one finding of a tester: a budget that drops colors where cheaper near ones fit,
a refusal naming a wrong minimum, a minimum that charges for owned beads, a run-out owned
color called a catalog gap, a note hard to follow, and an owned color used silently where a
bought one matches much better.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from craftpix.cli import main

#: Per bag of 1000 beads. Snow, Brick are cheaper near twins of White, Red.
MYPAL = """code,name,hex,price
W,White,#FFFFFF,2.50
S,Snow,#F4F4F0,1.50
N,Navy,#1E2850,1.00
R,Red,#DC141E,3.00
B,Brick,#B4322D,2.00
C,Coal,#282828,1.00
"""


def logo(path: Path, size: int) -> Path:
    """A flat logo: a navy band (25 %), a red band (20 %), white below (55 %)."""
    a = np.zeros((size, size, 3), np.uint8)
    a[:] = (255, 255, 255)
    a[: size // 4] = (30, 40, 80)
    a[size // 4: size // 4 + size // 5] = (220, 20, 30)
    Image.fromarray(a).save(path)
    return path


def run(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(main, list(args))
    return res.exit_code, res.output


def used(folder: Path) -> dict[str, int]:
    data = json.loads((folder / "pattern.json").read_text())
    cells = np.array([[-1 if v is None else v for v in row] for row in data["cells"]])
    codes = [c["code"] for c in data["palette"]]
    return {codes[i]: int((cells == i).sum()) for i in range(len(codes)) if (cells == i).any()}


def shopping_total(folder: Path) -> float:
    with open(folder / "shopping-list.csv", newline="") as fh:
        return sum(float(r["price_total"] or 0) for r in csv.DictReader(fh))


def mean_de(folder: Path) -> float:
    return float(json.loads((folder / "pattern.json").read_text())["meta"]["delta_e00_mean"])


@pytest.fixture()
def pal(tmp_path: Path) -> Path:
    p = tmp_path / "mypal.csv"
    p.write_text(MYPAL)
    return p


def test_budget_switches_to_cheaper_near_colors_before_dropping_any(tmp_path: Path, pal: Path) -> None:
    img = logo(tmp_path / "logo.png", 40)  # 1600 cells: one bag of each color
    out = tmp_path / "o"
    code, text = run("beads", "--image", str(img), "--size", "40", "--palette", str(pal),
                     "--budget", "4.5", "--out", str(out), "-q", "--no-pdf")
    assert code == 0, text
    assert set(used(out)) == {"S", "N", "B"}  # Snow + Navy + Brick = 4.50 exactly
    assert shopping_total(out) <= 4.5
    assert mean_de(out) < 8


def test_a_larger_budget_keeps_the_red(tmp_path: Path, pal: Path) -> None:
    img = logo(tmp_path / "logo.png", 48)  # 2304 cells: white needs two bags (9.00 in all)
    out = tmp_path / "o"
    code, text = run("beads", "--image", str(img), "--size", "48", "--palette", str(pal),
                     "--budget", "8", "--out", str(out), "-q", "--no-pdf")
    assert code == 0, text
    colors = used(out)
    assert {"N", "R"} <= set(colors) and "S" in colors  # Snow + Navy + Red = 7.00
    assert colors["R"] == (48 // 5) * 48  # every red cell stays red
    assert shopping_total(out) <= 8


def test_the_refused_budget_names_the_true_minimum(tmp_path: Path, pal: Path) -> None:
    a = np.full((40, 40, 3), 255, np.uint8)
    a[:12] = (220, 20, 30)  # a white and red flag: the image has no navy, no coal
    Image.fromarray(a).save(tmp_path / "flag.png")
    img = tmp_path / "flag.png"
    out = tmp_path / "o"
    code, text = run("beads", "--image", str(img), "--size", "40", "--palette", str(pal),
                     "--budget", "1", "--out", str(out), "-q", "--no-pdf")
    assert code == 2
    line = text.strip().splitlines()[-1]
    # 1600 beads + 5 % spare in one color at 1.00 a bag (Navy or Coal): two bags, 2.00 -
    # any color of the palette counts, not only those the picture first chose
    assert "costs 2.00" in line and "--budget 2.00" in line, line
    assert not out.exists()
    code, text = run("beads", "--image", str(img), "--size", "40", "--palette", str(pal),
                     "--budget", "2", "--out", str(out), "-q", "--no-pdf")
    assert code == 0, text
    assert shopping_total(out) <= 2


INV3 = """code,count,price
80-19001,300,3.50
80-19005,100,3.50
80-19018,400,3.50
"""


def cat(path: Path) -> Path:
    """40x40: red top quarter, black second quarter, white half."""
    a = np.full((40, 40, 3), 234, np.uint8)
    a[:10] = (176, 53, 60)
    a[10:20] = (50, 50, 52)
    Image.fromarray(a).save(path)
    return path


def test_owned_beads_cost_nothing_in_the_minimum_and_the_budget(tmp_path: Path) -> None:
    img = cat(tmp_path / "cat.png")
    inv = tmp_path / "inv3.csv"
    inv.write_text(INV3)
    out = tmp_path / "o"
    # 1600 cells, 800 owned: one bag of 800 + spare on top costs 3.50 (not a bag of white
    # and one of red)
    code, text = run("beads", "--image", str(img), "--size", "40", "--inventory", str(inv),
                     "--budget", "3", "--out", str(out), "-q", "--no-pdf")
    assert code == 2
    assert "costs 3.50" in text.strip().splitlines()[-1], text
    code, text = run("beads", "--image", str(img), "--size", "40", "--inventory", str(inv),
                     "--budget", "5", "--out", str(out), "-q", "--no-pdf")
    assert code == 0, text
    assert shopping_total(out) <= 5
    # the note about unpriced colors says it plainly, naming the file
    assert re.search(r"98 colors without a price in \S*inv3\.csv are treated as the most "
                     r"expensive, so they are used only where nothing else is close", text), text


def test_only_owned_says_which_owned_color_ran_out(tmp_path: Path) -> None:
    img = cat(tmp_path / "cat.png")  # 800 white cells
    inv = tmp_path / "inv.csv"
    inv.write_text("code,count\n80-19001,500\n80-19005,\n80-19018,\n")
    out = tmp_path / "o"
    code, text = run("beads", "--image", str(img), "--size", "40", "--inventory", str(inv),
                     "--only-owned", "--out", str(out), "-q", "--no-pdf")
    assert code == 0, text
    m = re.search(r"your White ran out \(owned 500 of (\d+) needed\): the rest is shown as "
                  r"the nearest owned color", text)
    assert m and int(m.group(1)) >= 750, text
    assert "no close match" not in text
    assert used(out)["80-19001"] == 500


def test_a_poor_owned_match_names_the_better_color_to_buy(tmp_path: Path) -> None:
    a = np.full((30, 30, 3), 234, np.uint8)
    a[:12] = (220, 20, 30)  # #DC141E
    Image.fromarray(a).save(tmp_path / "flag.png")
    inv = tmp_path / "inv.csv"
    inv.write_text("code,count\n80-19001,\n80-19005,\n")
    out = tmp_path / "o"
    code, text = run("beads", "--image", str(tmp_path / "flag.png"), "--size", "30",
                     "--inventory", str(inv), "--out", str(out), "-q", "--no-pdf")
    assert code == 0, text
    m = re.search(r"used your Red for #DC141E \(ΔE00 ([\d.]+)\); buying (\w+) would match "
                  r"better \(ΔE00 ([\d.]+)\)", text)
    assert m, text
    assert float(m.group(1)) - float(m.group(3)) > 3
    assert "no close match" not in text  # the catalog has one: the note names it
