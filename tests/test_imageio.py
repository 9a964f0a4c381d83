"""Image input: loading with plain errors, EXIF, transparency, fitting and area downsampling."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from craftpix import imageio
from craftpix.errors import InputError
from craftpix.imageio import FITS, area_downsample, fit_image, load_image, reference_grid

HYP = settings(derandomize=True, deadline=None, database=None, max_examples=150)

# sRGB encoding of linear 0.5: what a fine black/white texture looks like from afar
MID_GREY = 1.055 * 0.5 ** (1 / 2.4) - 0.055  # 0.7353569830524495


def rgb_image(arr) -> Image.Image:
    return Image.fromarray(np.asarray(arr, dtype=np.uint8), "RGB")


def flat(w: int, h: int, color=(10, 200, 30)) -> Image.Image:
    return Image.new("RGB", (w, h), color)


# --- load_image --------------------------------------------------------------------------
def test_load_png_roundtrip(tmp_path):
    arr = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    rgb_image(arr).save(tmp_path / "a.png")
    im = load_image(tmp_path / "a.png")
    assert im.mode == "RGB" and im.size == (7, 5)
    assert np.array_equal(np.asarray(im), arr)
    assert load_image(str(tmp_path / "a.png")).size == (7, 5)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_image(tmp_path / "nope.png")


def test_text_file_renamed_png(tmp_path):
    path = tmp_path / "fake.png"
    path.write_text("this is not an image\n")
    with pytest.raises(InputError, match="not an image craftpix can read") as info:
        load_image(path)
    assert str(path) in str(info.value)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    with pytest.raises(InputError):
        load_image(path)


def test_truncated_png(tmp_path):
    path = tmp_path / "t.png"
    arr = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    rgb_image(arr).save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError):
        load_image(path)


def test_directory(tmp_path):
    folder = tmp_path / "pics.png"
    folder.mkdir()
    with pytest.raises(InputError, match="folder"):
        load_image(folder)


def test_too_many_pixels(tmp_path, monkeypatch):
    flat(10, 10).save(tmp_path / "big.png")
    monkeypatch.setattr(imageio, "MAX_PIXELS", 99)
    with pytest.raises(InputError, match="too large"):
        load_image(tmp_path / "big.png")


def test_grayscale_and_palette_become_rgb(tmp_path):
    Image.new("L", (3, 2), 77).save(tmp_path / "g.png")
    im = load_image(tmp_path / "g.png")
    assert im.mode == "RGB" and np.all(np.asarray(im) == 77)
    p = flat(3, 2, (200, 10, 10)).convert("P", palette=Image.Palette.ADAPTIVE)
    p.save(tmp_path / "p.png")
    im = load_image(tmp_path / "p.png")
    assert im.mode == "RGB" and tuple(np.asarray(im)[0, 0]) == (200, 10, 10)


def test_rgba_composited_over_white(tmp_path):
    arr = np.zeros((1, 3, 4), dtype=np.uint8)
    arr[0, 0] = (255, 0, 0, 0)  # fully transparent red -> white
    arr[0, 1] = (0, 0, 255, 255)  # opaque blue stays blue
    arr[0, 2] = (0, 0, 0, 128)  # half transparent black -> mid grey
    Image.fromarray(arr, "RGBA").save(tmp_path / "a.png")
    out = np.asarray(load_image(tmp_path / "a.png")).astype(int)
    assert out[0, 0].tolist() == [255, 255, 255]
    assert out[0, 1].tolist() == [0, 0, 255]
    assert np.all(np.abs(out[0, 2] - 127) <= 1)


def test_la_and_transparent_palette_composited_over_white(tmp_path):
    la = Image.new("LA", (2, 1), (0, 0))
    la.save(tmp_path / "la.png")
    assert np.all(np.asarray(load_image(tmp_path / "la.png")) == 255)

    p = Image.new("P", (2, 1), 0)
    p.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    p.putpixel((1, 0), 1)
    p.info["transparency"] = 0
    p.save(tmp_path / "p.png", transparency=0)
    out = np.asarray(load_image(tmp_path / "p.png"))
    assert out[0, 0].tolist() == [255, 255, 255]
    assert out[0, 1].tolist() == [255, 0, 0]


def test_png_transparent_color_key_composited_over_white(tmp_path):
    # tRNS chunk: one color of an L or RGB image is transparent
    grey = Image.new("L", (2, 1), 0)
    grey.putpixel((1, 0), 200)
    grey.save(tmp_path / "l.png", transparency=0)
    assert np.asarray(load_image(tmp_path / "l.png")).tolist() == [[[255] * 3, [200] * 3]]
    rgb = Image.new("RGB", (2, 1), (1, 2, 3))
    rgb.putpixel((1, 0), (9, 9, 9))
    rgb.save(tmp_path / "rgb.png", transparency=(1, 2, 3))
    assert np.asarray(load_image(tmp_path / "rgb.png")).tolist() == [[[255] * 3, [9] * 3]]


def test_16_bit_greyscale_is_scaled_not_clipped(tmp_path):
    levels = np.arange(16, dtype=np.uint16).reshape(4, 4) * 4369  # 0 .. 65535
    Image.fromarray(levels).save(tmp_path / "g16.png")
    assert Image.open(tmp_path / "g16.png").mode.startswith("I")
    out = np.asarray(load_image(tmp_path / "g16.png"))
    assert out.shape == (4, 4, 3)
    assert np.array_equal(out[..., 0], (levels // 257).astype(np.uint8))
    assert np.array_equal(out[..., 0], out[..., 2])
    Image.fromarray(levels).save(tmp_path / "g16t.png", transparency=4369)
    out = np.asarray(load_image(tmp_path / "g16t.png"))
    assert out[0, 1].tolist() == [255, 255, 255] and out[0, 2].tolist() == [34, 34, 34]


def _jpeg_with_orientation(path, orientation: int) -> None:
    # Stored 40 wide × 20 high: left half red, right half blue.
    arr = np.zeros((20, 40, 3), dtype=np.uint8)
    arr[:, :20] = (255, 0, 0)
    arr[:, 20:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = orientation
    rgb_image(arr).save(path, "JPEG", quality=95, exif=exif)


def _is_red(px) -> bool:
    return px[0] > 200 and px[2] < 60


def _is_blue(px) -> bool:
    return px[2] > 200 and px[0] < 60


@pytest.mark.parametrize(
    "orientation, size, red_at, blue_at",
    [
        (1, (40, 20), (10, 5), (10, 30)),  # (row, col) of a pixel in each half
        (3, (40, 20), (10, 30), (10, 5)),  # rotated 180: red on the right
        (6, (20, 40), (5, 10), (30, 10)),  # rotate 90° clockwise to view: red on top
        (8, (20, 40), (30, 10), (5, 10)),  # rotate 90° counter-clockwise: red at the bottom
    ],
)
def test_exif_orientation_respected(tmp_path, orientation, size, red_at, blue_at):
    path = tmp_path / f"o{orientation}.jpg"
    _jpeg_with_orientation(path, orientation)
    im = load_image(path)
    assert im.size == size
    arr = np.asarray(im).astype(int)
    assert _is_red(arr[red_at]), arr[red_at]
    assert _is_blue(arr[blue_at]), arr[blue_at]


# --- fit_image ---------------------------------------------------------------------------
def test_fit_rejects_unknown_mode():
    with pytest.raises(InputError, match="fit must be one of crop, pad, stretch"):
        fit_image(flat(4, 4), 2, 2, "zoom")
    assert FITS == ("crop", "pad", "stretch")


def test_stretch_and_same_ratio_return_image_unchanged():
    im = flat(10, 4)
    assert fit_image(im, 1, 1, "stretch") is im
    for fit in FITS:
        assert fit_image(im, 5, 2, fit).size == (10, 4)


def test_crop_takes_the_centre():
    arr = np.zeros((4, 10, 3), dtype=np.uint8)
    arr[..., 0] = np.arange(10)[None, :]  # red channel = column index
    out = fit_image(rgb_image(arr), 8, 8, "crop")
    assert out.size == (4, 4)
    assert np.asarray(out)[0, :, 0].tolist() == [3, 4, 5, 6]

    tall = np.zeros((10, 4, 3), dtype=np.uint8)
    tall[..., 1] = np.arange(10)[:, None]  # green channel = row index
    out = fit_image(rgb_image(tall), 2, 1, "crop")
    assert out.size == (4, 2)
    assert np.asarray(out)[:, 0, 1].tolist() == [4, 5]


def test_pad_centres_the_image_on_the_pad_color():
    im = flat(4, 10, (1, 2, 3))
    out = fit_image(im, 3, 3, "pad", pad_color=(250, 251, 252))
    assert out.size == (10, 10) and out.mode == "RGB"
    arr = np.asarray(out)
    assert np.all(arr[:, 3:7] == (1, 2, 3))
    assert np.all(arr[:, :3] == (250, 251, 252)) and np.all(arr[:, 7:] == (250, 251, 252))
    wide = fit_image(flat(10, 4, (9, 9, 9)), 1, 1, "pad")
    arr = np.asarray(wide)
    assert wide.size == (10, 10)
    assert np.all(arr[3:7] == 9) and np.all(arr[:3] == 255) and np.all(arr[7:] == 255)


@HYP
@given(
    w=st.integers(1, 300),
    h=st.integers(1, 300),
    tw=st.integers(1, 120),
    th=st.integers(1, 120),
    fit=st.sampled_from(FITS),
)
def test_property_fit_gives_target_aspect_ratio(w, h, tw, th, fit):
    im = Image.new("RGB", (w, h))
    out = fit_image(im, tw, th, fit)
    rw, rh = out.size
    assert rw >= 1 and rh >= 1
    if fit == "stretch":
        assert (rw, rh) == (w, h)
        return
    target = tw / th
    # One side is kept; the other is the target ratio rounded to a whole pixel (a crop never
    # goes below one pixel, hence "< 1" rather than "<= 0.5" there).
    wider = w / h > target
    if fit == "crop":
        assert rw <= w and rh <= h
        if wider:
            assert rh == h and abs(rw - h * target) < 1
        else:
            assert rw == w and abs(rh - w / target) < 1
    else:
        assert rw >= w and rh >= h
        if wider:
            assert rw == w and abs(rh - w / target) <= 0.5 + 1e-9
        else:
            assert rh == h and abs(rw - h * target) <= 0.5 + 1e-9
    assert abs(rw / rh - target) <= max(1.0, target) / rh + 1e-9  # ratio off by < 1 pixel


# --- area_downsample ---------------------------------------------------------------------
@pytest.mark.parametrize("size, grid", [((12, 8), (3, 2)), ((10, 10), (3, 3)), ((5, 7), (5, 7)), ((7, 3), (2, 1))])
def test_flat_image_stays_flat(size, grid):
    color = (10, 200, 30)
    out = area_downsample(flat(*size, color), *grid)
    assert out.shape == (grid[1], grid[0], 3)
    assert out.dtype == np.float64
    assert np.allclose(out, np.array(color) / 255.0, atol=1e-5)


def test_checkerboard_becomes_linear_mid_grey():
    cb = (np.indices((40, 60)).sum(0) % 2 * 255).astype(np.uint8)
    im = rgb_image(np.stack([cb] * 3, axis=-1))
    out = area_downsample(im, 15, 10)
    assert out.shape == (10, 15, 3)
    assert np.allclose(out, MID_GREY, atol=2e-4)
    assert abs(MID_GREY - 0.7354) < 1e-4
    assert not np.allclose(out, 0.5, atol=0.1)  # a plain sRGB average would give 0.5


def test_halves_stay_apart_and_values_in_range():
    arr = np.zeros((6, 8, 3), dtype=np.uint8)
    arr[:, 4:] = 255
    out = area_downsample(rgb_image(arr), 2, 3)
    assert np.allclose(out[:, 0], 0.0, atol=1e-6) and np.allclose(out[:, 1], 1.0, atol=1e-6)
    noise = np.random.default_rng(3).integers(0, 256, (33, 47, 3), dtype=np.uint8)
    out = area_downsample(rgb_image(noise), 5, 4)
    assert out.shape == (4, 5, 3)
    assert out.min() >= 0.0 and out.max() <= 1.0


def test_area_downsample_accepts_other_modes():
    out = area_downsample(Image.new("L", (4, 4), 255), 2, 2)
    assert out.shape == (2, 2, 3) and np.allclose(out, 1.0, atol=1e-6)
    out = area_downsample(Image.new("RGBA", (4, 4), (0, 0, 0, 255)), 1, 1)
    assert out.shape == (1, 1, 3) and np.allclose(out, 0.0, atol=1e-6)


def test_reference_grid(tmp_path):
    flat(30, 10, (0, 0, 255)).save(tmp_path / "r.png")
    fitted, grid, alpha, *_ = reference_grid(tmp_path / "r.png", 4, 4, "crop")
    assert fitted.size == (10, 10) and alpha is None
    assert grid.shape == (4, 4, 3)
    assert np.allclose(grid, [0, 0, 1], atol=1e-5)
    fitted, grid, alpha, *_ = reference_grid(tmp_path / "r.png", 4, 4, "pad")
    assert fitted.size == (30, 30) and grid.shape == (4, 4, 3)
    assert np.allclose(grid[0, 0], 1.0, atol=1e-5)  # white padding


# --- image modes, by value range -----------------------------------------------------------
from craftpix.imageio import flat_colors, native_grid, normalise_mode, open_image  # noqa: E402

RAMP16 = (np.arange(12, dtype=np.uint16).reshape(3, 4) * 5957)  # 0 .. 65527


def test_16_bit_pgm_mode_i_is_scaled(tmp_path):
    path = tmp_path / "g16.pgm"
    path.write_bytes(b"P5\n4 3\n65535\n" + RAMP16.astype(">u2").tobytes())
    assert Image.open(path).mode == "I"
    out = np.asarray(load_image(path))[..., 0]
    assert np.array_equal(out, np.rint(RAMP16 / 65535 * 255).astype(np.uint8))


def test_mode_i_by_value_range():
    eight = Image.fromarray(np.array([[0, 128, 255]], dtype=np.int32), "I")
    assert np.asarray(normalise_mode(eight))[0, :, 0].tolist() == [0, 128, 255]
    sixteen = Image.fromarray(np.array([[0, 32768, 65535]], dtype=np.int32), "I")
    assert np.asarray(normalise_mode(sixteen))[0, :, 0].tolist() == [0, 128, 255]
    with pytest.raises(InputError, match="outside 0..65535"):
        normalise_mode(Image.fromarray(np.array([[-5, 10]], dtype=np.int32), "I"))
    with pytest.raises(InputError, match="outside 0..65535"):
        normalise_mode(Image.fromarray(np.array([[0, 70000]], dtype=np.int32), "I"))


@pytest.mark.parametrize("scale", [1.0, 255.0, 65535.0])
def test_float_tiff_mode_f_by_value_range(tmp_path, scale):
    values = np.array([[0.0, 0.5, 1.0]], dtype=np.float32) * scale
    Image.fromarray(values, "F").save(tmp_path / "f.tif")
    assert Image.open(tmp_path / "f.tif").mode == "F"
    out = np.asarray(load_image(tmp_path / "f.tif"))[0, :, 0]
    assert out.tolist() == [0, 128, 255]


@pytest.mark.parametrize("bad", [np.nan, np.inf, -3.0, 1e6])
def test_float_values_that_cannot_be_read_are_refused(bad):
    im = Image.fromarray(np.array([[0.2, bad]], dtype=np.float32), "F")
    with pytest.raises(InputError):
        normalise_mode(im)


@pytest.mark.parametrize("mode, dtype", [("I;16", "<u2"), ("I;16L", "<u2"), ("I;16B", ">u2")])
def test_i16_variants(mode, dtype):
    im = Image.frombytes(mode, (3, 1), np.array([0, 32768, 65535], dtype=dtype).tobytes())
    assert im.mode == mode
    assert np.asarray(normalise_mode(im))[0, :, 0].tolist() == [0, 128, 255]


def test_la_pa_and_premultiplied_keep_alpha():
    la = Image.new("LA", (2, 1), (90, 0))
    la.putpixel((1, 0), (90, 255))
    out = normalise_mode(la)
    assert out.mode == "RGBA" and np.asarray(out)[0, :, 3].tolist() == [0, 255]
    assert np.asarray(out)[0, 1, :3].tolist() == [90, 90, 90]
    pa = Image.new("PA", (1, 1))
    pa.putpalette([10, 20, 30] * 256)
    pa.putpixel((0, 0), (0, 128))
    out = normalise_mode(pa)
    assert out.mode == "RGBA" and np.asarray(out)[0, 0].tolist() == [10, 20, 30, 128]
    rgba = normalise_mode(Image.new("RGBa", (1, 1), (50, 100, 150, 255)))
    assert np.asarray(rgba)[0, 0].tolist() == [50, 100, 150]  # opaque: alpha dropped
    la_pre = normalise_mode(Image.new("La", (1, 1), (40, 128)))
    assert la_pre.mode == "RGBA" and np.asarray(la_pre)[0, 0, 3] == 128


def test_opaque_alpha_is_dropped_and_palette_trns_kept():
    assert normalise_mode(Image.new("RGBA", (2, 2), (1, 2, 3, 255))).mode == "RGB"
    p = Image.new("P", (2, 1))
    p.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    p.putpixel((1, 0), 1)
    p.info["transparency"] = 0
    out = normalise_mode(p)
    assert out.mode == "RGBA" and np.asarray(out)[0, :, 3].tolist() == [0, 255]


@pytest.mark.parametrize("mode", ["1", "CMYK", "YCbCr", "HSV"])
def test_other_color_modes_convert(mode):
    im = Image.new("RGB", (2, 1), (255, 255, 255)).convert(mode)
    out = np.asarray(normalise_mode(im))
    assert out.shape == (1, 2, 3) and (out >= 250).all()


def test_lab_mode_through_cielab():
    lab = Image.frombytes("LAB", (2, 1), bytes([112, 64, 42, 255, 0, 0]))  # ≈ (200,30,40), white
    out = np.asarray(normalise_mode(lab)).astype(int)
    assert np.abs(out[0, 0] - [200, 30, 40]).max() <= 4
    assert (out[0, 1] >= 253).all()
    negative = Image.frombytes("LAB", (1, 1), bytes([128, 256 - 40, 256 - 40]))  # a*, b* < 0
    r, g, b = np.asarray(normalise_mode(negative))[0, 0].astype(int)
    assert b > r and g > r  # a bluish green, not a red


def test_unknown_mode_is_refused_in_one_line():
    with pytest.raises(InputError, match="not supported"):
        normalise_mode(_FakeMode())  # a mode Pillow may add later


class _FakeMode:
    mode = "RGBX;weird"
    info: dict = {}


def test_open_image_keeps_transparency(tmp_path):
    a = np.zeros((4, 4, 4), np.uint8)
    a[1:3, 1:3] = (10, 200, 30, 255)
    Image.fromarray(a, "RGBA").save(tmp_path / "t.png")
    assert open_image(tmp_path / "t.png").mode == "RGBA"
    assert load_image(tmp_path / "t.png").mode == "RGB"


# --- reference grid: coverage, flat art, native grid ----------------------------------------
def test_reference_alpha_is_coverage_and_color_ignores_transparent_pixels(tmp_path):
    a = np.zeros((4, 8, 4), np.uint8)
    a[:, :4] = (0, 0, 255, 255)
    a[:, 4:6] = (255, 0, 0, 255)  # right cell: half red, half transparent black
    Image.fromarray(a, "RGBA").save(tmp_path / "t.png")
    ref = reference_grid(tmp_path / "t.png", 2, 1, "stretch")
    assert np.allclose(ref.alpha, [[1.0, 0.5]], atol=1e-6)
    assert np.allclose(ref.rgb[0, 1], [1, 0, 0], atol=1e-5)  # not darkened by the black
    assert np.asarray(ref.fitted)[0, 7].tolist() == [255, 255, 255]


def test_pad_keeps_transparency(tmp_path):
    a = np.full((4, 8, 4), 255, np.uint8)
    a[0, 0, 3] = 0
    Image.fromarray(a, "RGBA").save(tmp_path / "t.png")
    ref = reference_grid(tmp_path / "t.png", 4, 4, "pad")
    assert ref.alpha is not None and np.allclose(ref.alpha[0], 0) and np.allclose(ref.alpha[2], 1)


def test_flat_colors_found_for_flat_art_not_for_photos():
    art = np.zeros((30, 30, 3), np.uint8)
    art[:, 15:] = (200, 0, 0)
    colors, counts = flat_colors(Image.fromarray(art))
    assert len(colors) == 2 and counts.sum() == 900
    noise = np.random.default_rng(0).integers(0, 256, (30, 30, 3), dtype=np.uint8)
    assert flat_colors(Image.fromarray(noise)) is None


@pytest.mark.parametrize("factor, w, h", [(8, 16, 16), (3, 5, 7), (2, 9, 4)])
def test_native_grid_of_scaled_pixel_art(factor, w, h):
    small = np.random.default_rng(factor).integers(0, 4, (h, w)).astype(np.uint8) * 60
    big = np.repeat(np.repeat(small, factor, 0), factor, 1)
    assert native_grid(Image.fromarray(big)) == (w, h)
    assert native_grid(Image.fromarray(np.dstack([big] * 3))) == (w, h)


def test_native_grid_none_for_photos_and_uniform_images():
    assert native_grid(Image.new("RGB", (10, 10), "red")) is None
    noise = np.random.default_rng(0).integers(0, 256, (20, 20, 3), dtype=np.uint8)
    assert native_grid(Image.fromarray(noise)) is None
