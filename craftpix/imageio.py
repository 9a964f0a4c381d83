"""Reading the user's image and bringing it to the pattern's grid."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from craftpix.color import lab_to_rgb, linear_to_srgb, srgb_to_linear
from craftpix.errors import InputError, printable

FITS = ("crop", "pad", "stretch")
MAX_PIXELS = 80_000_000  # larger files are refused rather than exhausting memory


class Reference(NamedTuple):
    """The user's image on the pattern's grid.

    ``fitted`` is the image at full resolution with the pattern's aspect ratio, transparent
    areas over white (RGB), for ControlNet conditioning. ``rgb`` (H, W, 3) float sRGB 0..1 is
    each cell's color (its opaque pixels averaged in linear light); ``alpha`` (H, W) float 0..1
    is each cell's coverage, or None when the image is opaque. ``flat_colors`` (K, 3) float
    sRGB 0..1, with ``flat_counts`` (K,) pixels each, lists the source colors when the image is
    flat art (few distinct colors: logos, sprites, line art), else both are None.
    """

    fitted: Image.Image
    rgb: np.ndarray
    alpha: np.ndarray | None
    flat_colors: np.ndarray | None = None
    flat_counts: np.ndarray | None = None


def open_image(path: str | os.PathLike[str]) -> Image.Image:
    """Open an image as 8-bit ``RGB``, or ``RGBA`` when it has any transparency.

    Every Pillow mode is read by the range of its values (see :func:`normalise_mode`); EXIF
    orientation is applied. Raises :class:`InputError` (one line) for a missing, unreadable,
    too large or unsupported file.
    """
    p = Path(path)
    if p.is_dir():
        raise InputError(f"{printable(p)} is a folder, not an image")
    if not p.exists():
        raise InputError(f"image {printable(p)} does not exist")
    if not p.is_file():  # /dev/null, a FIFO (opening it would wait forever), a socket
        raise InputError(f"{printable(p)} is not a regular file (a device, FIFO or socket), "
                         "not an image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(p) as im:
                if im.width * im.height > MAX_PIXELS:
                    raise InputError(f"image {p} is too large ({im.width}×{im.height} pixels)")
                im = ImageOps.exif_transpose(im)
                im.load()
    except InputError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InputError(f"{p} is not an image craftpix can read (PNG, JPEG, WebP, ...)") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read image {p}: {exc}") from None
    return normalise_mode(im, str(p))


def normalise_mode(im: Image.Image, label: str = "image") -> Image.Image:
    """Bring any Pillow mode to 8-bit ``RGB`` or ``RGBA``, by the range of its values.

    * 1, L, P, RGB, CMYK, YCbCr, HSV: Pillow's own conversions (CMYK naively, as Pillow does);
    * LA, PA, La, RGBa, RGBA and PNG's single transparent color (tRNS) in P, L, RGB, I;16:
      RGBA (premultiplied modes are un-premultiplied); an all-opaque alpha is dropped;
    * LAB (Pillow stores L* × 255/100 and a*, b* as signed bytes): through CIELAB → sRGB
      (D65), out-of-gamut values clipped;
    * I;16, I;16L, I;16B, I;16N: 0..65535 is black..white;
    * I (32-bit integers): 16-bit when the file format stores 16 bits (PNM, PNG) or any value
      exceeds 255, else 8-bit; negative values or values beyond 16 bits are refused;
    * F (32-bit float): 0..1, 0..255 or 0..65535, whichever holds every value; NaN, infinity
      and values outside 0..65535 are refused.

    Raises :class:`InputError` with one line for a mode or value range it cannot read.
    """
    mode = im.mode
    key = im.info.get("transparency")
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        arr = np.asarray(im).astype(np.float64)
        if mode == "F":
            if not np.isfinite(arr).all():
                raise InputError(f"{label}: a floating-point image with NaN or infinite values")
            lo, hi = float(arr.min()), float(arr.max())
            if lo < 0 or hi > 65535:
                raise InputError(f"{label}: floating-point values {lo:g}..{hi:g} are outside "
                                 "0..1, 0..255 and 0..65535")
            scale = 1.0 if hi <= 1.0 else 255.0 if hi <= 255.0 else 65535.0
        elif mode == "I":
            lo, hi = (float(arr.min()), float(arr.max())) if arr.size else (0.0, 0.0)
            if lo < 0 or hi > 65535:
                raise InputError(f"{label}: integer values {lo:g}..{hi:g} are outside 0..65535")
            sixteen = (im.format or "").upper() in ("PPM", "PNG") or hi > 255
            scale = 65535.0 if sixteen else 255.0
        else:
            scale = 65535.0
        grey = np.clip(np.rint(arr / scale * 255.0), 0, 255).astype(np.uint8)
        if isinstance(key, int | float) and mode != "F":
            alpha = np.where(arr == key, 0, 255).astype(np.uint8)
            return _drop_opaque_alpha(Image.fromarray(
                np.stack([grey, grey, grey, alpha], axis=-1), "RGBA"))
        return Image.fromarray(grey, "L").convert("RGB")
    if mode == "LAB":
        raw = np.asarray(im)
        lab = np.stack([raw[..., 0] / 255.0 * 100.0,
                        raw[..., 1].view(np.int8).astype(np.float64),
                        raw[..., 2].view(np.int8).astype(np.float64)], axis=-1)
        rgb = np.clip(lab_to_rgb(lab), 0.0, 1.0)
        return Image.fromarray(np.rint(rgb * 255).astype(np.uint8), "RGB")
    if mode in ("La", "PA", "LA", "RGBa", "RGBA") or (
            mode in ("P", "L", "RGB") and key is not None):
        if mode == "La":  # grey premultiplied by alpha (Pillow converts it to nothing)
            raw = np.asarray(im).astype(np.float64)
            a = raw[..., 1]
            grey = np.where(a > 0, np.clip(np.rint(raw[..., 0] * 255.0 / np.maximum(a, 1)), 0, 255), 0)
            im = Image.fromarray(np.stack([grey, a], axis=-1).astype(np.uint8), "LA")
        return _drop_opaque_alpha(im.convert("RGBA"))
    if mode in ("1", "L", "P", "RGB", "CMYK", "YCbCr", "HSV"):
        return im.convert("RGB")
    raise InputError(f"{label}: images of Pillow mode {mode!r} are not supported")


def _drop_opaque_alpha(im: Image.Image) -> Image.Image:
    alpha = np.asarray(im.getchannel("A"))
    return im.convert("RGB") if alpha.size and alpha.min() == 255 else im


def over_white(im: Image.Image) -> Image.Image:
    """An RGB(A) image composited over white, as RGB."""
    if im.mode != "RGBA":
        return im.convert("RGB")
    background = Image.new("RGBA", im.size, (255, 255, 255, 255))
    return Image.alpha_composite(background, im).convert("RGB")


def load_image(path: str | os.PathLike[str]) -> Image.Image:
    """Open an image as RGB (transparent areas over white), with one-line errors."""
    return over_white(open_image(path))


def fit_image(
    image: Image.Image, width: int, height: int, fit: str = "crop",
    pad_color: tuple[int, int, int] = (255, 255, 255),
) -> Image.Image:
    """Give ``image`` the aspect ratio width:height without resampling it to the grid yet.

    ``crop`` cuts the centre, ``pad`` adds borders of ``pad_color`` (transparent ones for an
    RGBA image), ``stretch`` does neither. Raises :class:`InputError` when the padded canvas
    would exceed ``MAX_PIXELS``.
    """
    if fit not in FITS:
        raise InputError(f"fit must be one of {', '.join(FITS)}, got {fit!r}")
    w, h = image.size
    target = width / height
    if fit == "stretch" or abs(w / h - target) < 1e-9:
        return image
    if fit == "crop":
        if w / h > target:
            new_w = max(1, round(h * target))
            left = (w - new_w) // 2
            return image.crop((left, 0, left + new_w, h))
        new_h = max(1, round(w / target))
        top = (h - new_h) // 2
        return image.crop((0, top, w, top + new_h))
    # An image with transparency is padded with transparent pixels (empty cells).
    mode, fill = ("RGBA", (0, 0, 0, 0)) if image.mode == "RGBA" else ("RGB", pad_color)
    size = (w, max(h, round(w / target))) if w / h > target else (max(w, round(h * target)), h)
    if size[0] * size[1] > MAX_PIXELS:  # a 1×60000 strip would pad to 60000×60000
        raise InputError(f"padding the {w}×{h} image to the pattern's shape needs a "
                         f"{size[0]}×{size[1]} canvas, over the limit of {MAX_PIXELS:,} pixels; "
                         "use --fit crop or stretch, or crop the image first")
    canvas = Image.new(mode, size, fill)
    canvas.paste(image.convert(mode), ((canvas.width - w) // 2, (canvas.height - h) // 2))
    return canvas


def area_downsample(image: Image.Image, width: int, height: int) -> np.ndarray:
    """Average each cell's pixels in linear light; float sRGB (height, width, 3) in [0, 1].

    Averaging in linear light is what the eye does from a distance, so a fine black-and-white
    texture becomes the right mid grey instead of a too-dark one.
    """
    rgb8 = np.asarray(image.convert("RGB"))
    # A 256-entry table decodes 8-bit sRGB to linear float32 without a float64 copy of a
    # possibly huge photo.
    lut = srgb_to_linear(np.arange(256, dtype=np.float64) / 255.0).astype(np.float32)
    channels = [
        np.asarray(Image.fromarray(lut[rgb8[..., c]]).resize(
            (width, height), Image.Resampling.BOX))
        for c in range(3)
    ]
    return np.clip(linear_to_srgb(np.stack(channels, axis=-1).astype(np.float64)), 0.0, 1.0)


def area_downsample_alpha(image: Image.Image, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Cell colors and coverage of an RGBA image: (height, width, 3) sRGB 0..1, (height, width).

    Colors are averaged in linear light weighted by alpha (premultiplied), so transparent
    pixels add no color; coverage is the mean alpha. A fully transparent cell is white.
    """
    rgba = np.asarray(image.convert("RGBA"))
    lut = srgb_to_linear(np.arange(256, dtype=np.float64) / 255.0).astype(np.float32)
    a = rgba[..., 3].astype(np.float32) / 255.0

    def box(plane: np.ndarray) -> np.ndarray:
        return np.asarray(Image.fromarray(plane).resize((width, height), Image.Resampling.BOX),
                          dtype=np.float64)

    cover = box(a)
    lin = np.stack([box(lut[rgba[..., c]] * a) for c in range(3)], axis=-1)
    safe = np.where(cover > 1e-6, cover, 1.0)[..., None]
    lin = np.where(cover[..., None] > 1e-6, lin / safe, 1.0)
    return np.clip(linear_to_srgb(lin), 0.0, 1.0), np.clip(cover, 0.0, 1.0)


#: Flat art has at most this many source colors.
FLAT_MAX_COLORS = 48
#: Anti-aliased flat art: colors with at least FLAT_MIN_SHARE of the opaque pixels each are the
#: source colors, and together they cover at least FLAT_SHARE (the rest are edge blends).
FLAT_MIN_SHARE = 0.005
FLAT_SHARE = 0.9
_FLAT_SAMPLE = 2_000_000  # pixels looked at (a regular subsample of larger images)


def flat_colors(image: Image.Image) -> tuple[np.ndarray, np.ndarray] | None:
    """The source colors of flat art (logos, sprites, line art), or None for a photo.

    Counted over the opaque (alpha ≥ 50 %) pixels. An image is flat when it has at most
    :data:`FLAT_MAX_COLORS` distinct colors (pixel art, hard-edged drawings: every color is a
    source color), or when its colors of at least :data:`FLAT_MIN_SHARE` of the pixels each
    are at most that many and cover at least :data:`FLAT_SHARE` (anti-aliased drawings: the
    rest are blends along edges). Returns the source colors, (K, 3) float sRGB 0..1, most
    frequent first, and their pixel counts (K,) (on a regular subsample of images over 2 MP).
    JPEG noise spreads colors thin, so a compressed drawing is treated as a photo.
    """
    arr = np.asarray(image)
    step = max(1, int(np.ceil(np.sqrt(arr.shape[0] * arr.shape[1] / _FLAT_SAMPLE))))
    arr = arr[::step, ::step]
    if arr.shape[-1] == 4:
        arr = arr[arr[..., 3] >= 128][:, :3]
    else:
        arr = arr.reshape(-1, 3)
    if len(arr) == 0:
        return None
    packed = (arr[:, 0].astype(np.uint32) << 16) | (arr[:, 1].astype(np.uint32) << 8) | arr[:, 2]
    values, counts = np.unique(packed, return_counts=True)
    order = np.argsort(-counts, kind="stable")
    values, counts = values[order], counts[order]
    if len(values) > FLAT_MAX_COLORS:
        major = counts >= FLAT_MIN_SHARE * len(packed)
        if major.sum() > FLAT_MAX_COLORS or counts[major].sum() < FLAT_SHARE * len(packed):
            return None
        values, counts = values[major], counts[major]
        rgb8 = np.stack([(values >> 16) & 255, (values >> 8) & 255, values & 255], axis=-1)
        keep = _not_blends(rgb8.astype(np.float64))
        values, counts = values[keep], counts[keep]
    rgb8 = np.stack([(values >> 16) & 255, (values >> 8) & 255, values & 255], axis=-1)
    return rgb8.astype(np.float64) / 255.0, counts.astype(np.int64)


_BLEND_TOLERANCE = 10.0  # 8-bit units from the segment between two source colors


def _not_blends(rgb8: np.ndarray) -> np.ndarray:
    """Which colors (most frequent first, (K, 3) 0..255) are not a mix of two more frequent ones.

    Resampling a drawing leaves colors on the line between two neighbouring colors (with a
    little overshoot); those are edges, not colors of the drawing.
    """
    keep = np.ones(len(rgb8), dtype=bool)
    for i in range(2, len(rgb8)):
        src = rgb8[:i][keep[:i]]
        a, b = src[:, None, :], src[None, :, :]
        ab = b - a
        denom = np.maximum((ab**2).sum(-1), 1e-9)
        t = np.clip(((rgb8[i] - a) * ab).sum(-1) / denom, -0.1, 1.1)
        dist = np.sqrt(((a + t[..., None] * ab - rgb8[i]) ** 2).sum(-1))
        np.fill_diagonal(dist, np.inf)
        keep[i] = not (dist < _BLEND_TOLERANCE).any()
    return keep


def native_grid(image: Image.Image) -> tuple[int, int] | None:
    """The (width, height) of pixel art scaled up by an integer factor, or None.

    The factor is the largest ``f ≥ 2`` such that every color change, along rows and along
    columns, falls on a multiple of ``f`` and both sides are multiples of ``f``: then the
    image is made of uniform f×f blocks and the native grid is (W/f, H/f). Uniform images and
    images without such a factor (photos, smoothly resized art) give None.
    """
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = arr[..., None]
    h, w = arr.shape[:2]
    col_change = np.flatnonzero((arr[:, 1:] != arr[:, :-1]).any(axis=(0, 2))) + 1
    row_change = np.flatnonzero((arr[1:] != arr[:-1]).any(axis=(1, 2))) + 1
    if len(col_change) == 0 and len(row_change) == 0:
        return None
    f = int(np.gcd.reduce(np.concatenate([col_change, row_change, [w, h]]).astype(np.int64)))
    if f < 2:
        return None
    return w // f, h // f


def reference_grid(path: str | os.PathLike[str], width: int, height: int, fit: str = "crop") -> Reference:
    """Load, fit and downsample the image at ``path`` to ``width × height`` cells.

    See :class:`Reference` for what is returned. Raises :class:`InputError` for unreadable
    images (see :func:`open_image`) or an unknown ``fit``.
    """
    return reference_of(open_image(path), width, height, fit)


def reference_of(image: Image.Image, width: int, height: int, fit: str = "crop") -> Reference:
    """:func:`reference_grid` of an image already opened (e.g. restored, craftpix.restore)."""
    return reference_from_image(fit_image(image, width, height, fit), width, height)


def reference_from_image(fitted: Image.Image, width: int, height: int) -> Reference:
    """Downsample an already fitted image (any aspect: it is stretched) to ``width × height``
    cells: cell colors, coverage where it has transparency, and its flat colors if it is flat
    art. See :class:`Reference`.
    """
    alpha = None
    if fitted.mode == "RGBA":
        rgb, alpha = area_downsample_alpha(fitted, width, height)
    else:
        rgb = area_downsample(fitted, width, height)
    flat = flat_colors(fitted)
    colors, counts = flat if flat is not None else (None, None)
    return Reference(over_white(fitted), rgb, alpha, colors, counts)
