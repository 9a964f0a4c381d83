"""The library API: a typed request in, a result out, the same pattern the CLI makes."""

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from craftpix.api import PatternRequest, export, load, make_pattern
from craftpix.cli import main
from craftpix.errors import CraftpixError, InputError

try:
    from synthetic import blocks_photo
except ImportError:  # tests/ imported as a package
    from tests.synthetic import blocks_photo


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    return blocks_photo(tmp_path_factory.mktemp("api") / "photo.jpg", (60, 80),
                        [0.9, 0.85, 0.7], [(slice(10, 40), slice(10, 40), [0.8, 0.1, 0.1]),
                                           (slice(30, 55), slice(45, 75), [0.1, 0.3, 0.8])],
                        noise=0.05, seed=3, quality=95)


def test_request_in_memory_writes_nothing(photo, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    seen = []
    result = make_pattern(PatternRequest(medium="beads", image=photo, size=(24, 24), colors=6,
                                         seed=7), on_progress=lambda s, f: seen.append((s, f)))
    assert (result.pattern.width, result.pattern.height) == (24, 24)
    assert len(result.pattern.palette) <= 6
    assert result.files == [] and list(tmp_path.iterdir()) == []
    assert seen[0][0] == "load" and seen[-1] == ("done", 1.0)
    assert [f for _, f in seen] == sorted(f for _, f in seen)
    assert "24×24" in result.summary


def test_api_and_cli_make_the_same_pattern(photo, tmp_path):
    """The issue's own example: the API pattern is the one ``craftpix beads`` writes."""
    in_memory = make_pattern(PatternRequest(medium="beads", image=photo, size=(24, 24),
                                            colors=6, seed=7)).pattern
    out = tmp_path / "cli"
    res = CliRunner().invoke(main, ["beads", "--image", str(photo), "--size", "24x24",
                                    "--colors", "6", "--seed", "7", "--out", str(out), "-q"])
    assert res.exit_code == 0, res.output
    from_cli = load(out / "pattern.json")
    assert np.array_equal(in_memory.cells, from_cli.cells)
    assert [c.code for c in in_memory.palette] == [c.code for c in from_cli.palette]


def test_output_folder_gets_the_set_and_export_rewrites_it(photo, tmp_path):
    out = tmp_path / "set"
    result = make_pattern(PatternRequest(medium="stitch", image=photo, size=(20, 16), colors=5,
                                         export={"formats": "dst", "paper": "letter"}, out=out))
    names = {p.name for p in result.files}
    assert {"pattern.json", "preview.png", "pattern.pdf", "pattern.dst"} <= names
    again = export(result.pattern, tmp_path / "again", pdf=False, formats="none")
    assert {p.name for p in again.paths} == {"pattern.json", "preview.png", "preview-pixels.png",
                                             "shopping-list.csv"}
    assert load(tmp_path / "again" / "pattern.json").settings["paper"] == "letter"


@pytest.mark.parametrize(("changes", "message"), [
    ({"medium": "knitting"}, "unknown craft"),
    ({"size": (1, 30)}, "out of range"),
    ({"size": (30, 501)}, "out of range"),
    ({"size": "big"}, "size must be"),
    ({"image": None}, "prompt"),
    ({"engine": "magic"}, "unknown engine"),
    ({"fit": "zoom"}, "fit must be"),
    ({"colors": 0}, "colors must be"),
    ({"smooth": float("nan")}, "smooth must be"),
    ({"smooth": float("inf")}, "smooth must be"),
    ({"seed": -1}, "seed must be"),
    ({"seed": 2**70}, "seed must be"),
    ({"steps": 10**9}, "steps must be"),
    ({"export": {"formats": "dst"}}, "cross-stitch"),
    ({"export": {"colour": "red"}}, "unknown export setting"),
    ({"engine": "photo", "image": None, "prompt": "a fox"}, "needs an image"),
])
def test_bad_requests_are_one_line_errors(photo, changes, message):
    base = {"medium": "beads", "image": photo, "size": (10, 10)}
    with pytest.raises(InputError) as err:
        make_pattern(PatternRequest(**{**base, **changes}))
    assert message in str(err.value) and "\n" not in str(err.value)


def test_prompt_without_the_diffusion_extra_names_it(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "diffusers" else real(name, *a))
    with pytest.raises(CraftpixError, match=r'pip install "\.\[diffusion\]"'):
        make_pattern(PatternRequest(medium="beads", prompt="a red rose", size=(16, 16)))


def test_size_hoop_fits_the_hoop_and_writes_machine_files(photo, tmp_path):
    """``--size hoop``: the largest design of the photo's shape that the hoop holds."""
    result = make_pattern(PatternRequest(
        medium="stitch", image=photo, size="hoop", colors=4, steps=3, out=tmp_path,
        export={"hoop": (60, 50), "formats": "dst", "pdf": False, "fabric_count": 14}))
    p = result.pattern
    assert p.width * 25.4 / 14 <= 60 and p.height * 25.4 / 14 <= 50
    assert (tmp_path / "pattern.dst").is_file()
    with pytest.raises(InputError, match="cross-stitch"):
        make_pattern(PatternRequest(medium="beads", image=photo, size="hoop"))


def test_color_controls_are_checked_before_the_engine(photo, tmp_path):
    with pytest.raises(InputError, match="need an image"):
        make_pattern(PatternRequest(medium="beads", prompt="a fox", size=(8, 8), budget=5.0))
    with pytest.raises(InputError, match="need prices"):
        make_pattern(PatternRequest(medium="beads", image=photo, size=(8, 8), prefer_cheap=True))
    with pytest.raises(InputError, match="budget must be"):
        make_pattern(PatternRequest(medium="beads", image=photo, size=(8, 8), budget=-1.0))
    with pytest.raises(InputError, match="not both"):
        make_pattern(PatternRequest(medium="beads", image=photo, size=(8, 8), boards="1x1"))


def test_size_auto_reads_pixel_art_back_cell_for_cell(tmp_path):
    """A 6×4 sprite scaled up 8×: --size auto finds the 6×4 grid, one catalog color per color."""
    rng = np.random.default_rng(1)
    colors = np.array([[200, 30, 30], [250, 250, 250], [20, 20, 20], [40, 90, 200]], np.uint8)
    sprite = rng.integers(0, 4, (4, 6))
    big = np.kron(colors[sprite], np.ones((8, 8, 1), np.uint8)).astype(np.uint8)
    Image.fromarray(big).save(tmp_path / "sprite.png")
    result = make_pattern(PatternRequest(medium="beads", image=tmp_path / "sprite.png",
                                         size="auto"))
    pattern = result.pattern
    assert (pattern.width, pattern.height) == (6, 4)
    # the same cells share a color, different source colors stay different
    for a in range(4):
        for b in range(4):
            same = pattern.cells[sprite == a][:, None] == pattern.cells[sprite == b][None, :]
            assert same.all() if a == b else not same.any()
    photo = np.clip(rng.normal(128, 40, (30, 40, 3)), 0, 255).astype(np.uint8)
    Image.fromarray(photo).save(tmp_path / "photo.png")
    with pytest.raises(InputError, match="not pixel art"):
        make_pattern(PatternRequest(medium="beads", image=tmp_path / "photo.png", size="auto"))


def test_models_commands_on_a_core_install_name_the_extra(monkeypatch):
    """Without the diffusion extra, `craftpix models pull|list` is one line, not a traceback."""
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "huggingface_hub" else real(name, *a))
    for args in (["models", "pull", "--sdxl"], ["models", "list"]):
        res = CliRunner().invoke(main, args)
        assert res.exit_code == 2, res.output
        lines = [line for line in res.output.splitlines() if line.strip()]
        assert len(lines) == 1 and 'pip install ".[diffusion]"' in lines[0], res.output
