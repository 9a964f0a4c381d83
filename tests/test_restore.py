"""Reference restoration (--restore): the decision, the fallback, and the packaged model."""

from __future__ import annotations

import io

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from craftpix import restore
from craftpix.api import PatternRequest, make_pattern
from craftpix.cli import main
from craftpix.errors import InputError
from craftpix.imageio import reference_grid
from craftpix.restore import (
    blockiness,
    needs_restore,
    restore_available,
    restore_image,
    restored_reference,
)

needs_model = pytest.mark.skipif(not restore_available(), reason="the restore extra is not installed")


def _smooth(w: int, h: int, seed: int = 0) -> Image.Image:
    """A photo-like picture: gradients, a disc, mild noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w] / max(w, h)
    img = np.stack([0.2 + 0.6 * x, 0.3 + 0.4 * y, 0.7 - 0.4 * x * y], axis=-1)
    img[(x - 0.4) ** 2 + (y - 0.4) ** 2 < 0.04] = (0.9, 0.2, 0.1)
    img += rng.normal(0, 0.01, img.shape)
    return Image.fromarray(np.clip(img * 255, 0, 255).astype(np.uint8))


def _jpeg(image: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def test_blockiness_tells_jpeg_blocking_from_a_clean_photo() -> None:
    clean = _smooth(128, 96)
    assert abs(blockiness(clean) - 1.0) < 0.15
    assert blockiness(_jpeg(clean, 10)) > restore.BLOCKY
    assert blockiness(_smooth(10, 10)) == 1.0  # too small to say


def test_auto_restores_only_where_it_was_measured_to_help() -> None:
    big, small = _smooth(600, 600), _smooth(60, 60)
    blocky = _jpeg(_smooth(640, 640), 10)
    # Before the ControlNet images: small (upsampled to 1024 px) or blocky photos.
    assert needs_restore(small, (48, 48), engine="sds")
    assert needs_restore(blocky, (48, 48), engine="sds")
    assert not needs_restore(big, (48, 48), engine="sds")
    # Never for the photo engine's colors (neutral in docs/BENCHMARKS.md).
    assert not needs_restore(small, (96, 96)) and not needs_restore(blocky, (48, 48))


def test_off_is_the_plain_reference_and_modes_are_checked(tmp_path) -> None:
    path = tmp_path / "p.png"
    _smooth(40, 30).save(path)
    notes: list[str] = []
    ref = restored_reference(path, 32, 24, "crop", "off", notes=notes)
    plain = reference_grid(path, 32, 24, "crop")
    assert np.array_equal(ref.rgb, plain.rgb) and notes == []
    with pytest.raises(InputError, match="--restore must be one of"):
        restored_reference(path, 32, 24, mode="always")


def test_missing_extra_falls_back_with_one_line(tmp_path, monkeypatch) -> None:
    path = tmp_path / "p.png"
    _smooth(40, 30).save(path)
    monkeypatch.setattr(restore, "restore_available", lambda: False)
    for mode, engine in (("on", "photo"), ("auto", "sds")):
        notes: list[str] = []
        ref = restored_reference(path, 32, 24, mode=mode, engine=engine, notes=notes)
        assert np.array_equal(ref.rgb, reference_grid(path, 32, 24).rgb)
        assert len(notes) == 1 and 'pip install "craftpix[restore]"' in notes[0]
    with pytest.raises(InputError, match="not installed"):
        restore_image(_smooth(8, 8))


def test_flat_art_is_never_restored(tmp_path) -> None:
    art = np.zeros((16, 16, 3), dtype=np.uint8)
    art[4:12, 4:12] = (220, 30, 30)
    path = tmp_path / "sprite.png"
    Image.fromarray(art).save(path)
    notes: list[str] = []
    ref = restored_reference(path, 16, 16, mode="on", notes=notes)
    assert np.array_equal(ref.rgb, reference_grid(path, 16, 16).rgb)
    assert "flat art" in notes[0]


@needs_model
def test_model_enlarges_x4_keeps_colors_and_removes_blocking() -> None:
    clean = _smooth(64, 48)
    blocky = _jpeg(clean, 15)
    out = restore_image(blocky, threads=2)
    assert out.size == (256, 192) and out.mode == "RGB"
    back = np.asarray(out.resize(clean.size, Image.Resampling.BOX), dtype=np.float64)
    assert np.abs(back - np.asarray(clean, dtype=np.float64)).mean() < 12  # same picture
    up = out.resize((out.width // 4 * 4, out.height // 4 * 4))
    assert blockiness(up) < blockiness(blocky)
    # Tiles with overlapping borders: the same result as one whole pass, within rounding.
    tiled = np.asarray(restore_image(blocky, threads=2, tile=24), dtype=np.float64)
    assert np.abs(tiled - np.asarray(out, dtype=np.float64)).mean() < 1.0
    rgba = blocky.convert("RGBA")
    assert restore_image(rgba, threads=2).mode == "RGBA"
    with pytest.raises(InputError, match="unknown restoration model"):
        restore_image(blocky, model="magic")


@needs_model
def test_api_and_cli_restore_a_small_photo(tmp_path) -> None:
    path = tmp_path / "thumb.jpg"
    _smooth(40, 40).save(path, quality=30)
    on = make_pattern(PatternRequest(medium="stitch", image=path, size=(48, 48), colors=6,
                                     restore="on"))
    assert any(n.startswith("restored the photo") for n in on.notes)
    auto = make_pattern(PatternRequest(medium="stitch", image=path, size=(48, 48), colors=6))
    assert not any(n.startswith("restored") for n in auto.notes)  # photo engine: auto is off
    r = CliRunner().invoke(main, ["stitch", "--image", str(path), "--size", "48", "--restore",
                                  "on", "--out", str(tmp_path / "o"), "-q", "--no-pdf"])
    assert r.exit_code == 0, r.output
    assert "restored the photo" in r.output
