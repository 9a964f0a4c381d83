"""Every ``craftpix`` command in the README runs as written (images replaced by small
generated ones; the prompt examples need downloaded models and are left out)."""

import importlib.util
import re
import shlex
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from craftpix.cli import main
from craftpix.palette import load_palette

README = Path(__file__).resolve().parents[1] / "README.md"
NEEDS_MODELS = ("--prompt", "models pull")
# Run by their own tests: the web server runs until stopped (tests/test_web_*.py) and the batch
# example reads examples/ from the repository root (tests/test_batch.py).
OWN_TESTS = ("craftpix serve", "craftpix batch")
# Machine files for a design larger than 100×100 mm need the smallest-hoop rule.
HOOP_PRESETS = importlib.util.find_spec("craftpix.export.hoops") is not None


def readme_commands() -> list[str]:
    """The ``craftpix ...`` lines of the README's ``sh`` blocks, in order."""
    commands, in_sh = [], False
    for line in README.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            in_sh = line.strip() == "```sh"
            continue
        if (in_sh and line.startswith("craftpix ") and not any(k in line for k in NEEDS_MODELS)
                and not line.startswith(OWN_TESTS)):
            commands.append(line)
    return commands


COMMANDS = readme_commands()


def _blocks(width: int, height: int, codes: list[str]) -> np.ndarray:
    """An image of flat perler-colored blocks (a background, then one block per code)."""
    perler = load_palette("perler")
    rgb = {c: perler.rgb8[perler.codes.index(c)] for c in codes}
    img = np.empty((height, width, 3), np.uint8)
    img[:] = rgb[codes[0]]
    for k, code in enumerate(codes[1:]):
        x0 = (k % 3) * width // 3 + width // 12
        y0 = (k // 3) * height // 3 + height // 12
        img[y0:y0 + height // 4, x0:x0 + width // 4] = rgb[code]
    return img


def _image(path: Path) -> None:
    shapes = {"logo": (542, 130), "portrait": (90, 120), "garden": (128, 96)}
    w, h = shapes.get(path.stem, (96, 96))
    # white background, then red, creme, black, orange, blue, green blocks (the edit examples
    # recolor red and drop creme)
    codes = ["80-19001", "80-19005", "80-19002", "80-19018", "80-19004", "80-19009", "80-19010"]
    Image.fromarray(_blocks(w, h, codes)).save(path, quality=95)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("readme")
    text = README.read_text(encoding="utf-8")
    m = re.search(r"```\n(code,count,price\n.*?)```", text, re.S)
    assert m, "the README shows an inventory file"
    (folder / "my-beads.csv").write_text(m.group(1))
    for command in COMMANDS:
        words = shlex.split(command, comments=True)
        if "--image" in words:
            image = folder / words[words.index("--image") + 1]
            if not image.exists():
                _image(image)
    # the pattern the export example re-prints
    res = CliRunner().invoke(main, ["stitch", "--image", str(folder / "rose.png"), "--size", "20",
                                    "--out", str(folder / "my-pattern"), "--steps", "3", "-q"])
    assert res.exit_code == 0, res.output
    return folder


def test_the_readme_has_examples_of_each_new_control():
    text = " ".join(COMMANDS)
    for piece in ("--size 48", "--size x60", "30cmx", "4inx5in",
                  "--boards 2x2", "--exclude", "--only", "--inventory", "--only-owned", "--budget",
                  "craftpix edit",
                  "--replace", "--set", "board 4, row 5, column 7", "--fill", "--clean",
                  "craftpix convert",
                  "craftpix import", "--formats oxs", "--formats ldr"):
        assert piece in text, piece


@pytest.mark.parametrize("command", COMMANDS)
def test_readme_example_runs(command, workdir, monkeypatch):
    monkeypatch.chdir(workdir)
    args = shlex.split(command, comments=True)[1:]
    if "--formats" in args and "pes,dst,vp3" in args and not HOOP_PRESETS:
        pytest.skip("an 80x60 design at 14 count needs the 130x180 mm hoop preset")
    if args[0] in ("beads", "bricks", "stitch"):
        args += ["--steps", "3", "--quiet"]  # a few engine steps: the test checks the command
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, f"{command}\n{res.output}"
