"""Reading the user's image and bringing it to the pattern's grid."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from craftpix.color import linear_to_srgb, srgb_to_linear
from craftpix.errors import InputError, printable

FITS = ("crop", "pad", "stretch")
MAX_PIXELS = 80_000_000  # larger files are refused rather than exhausting memory


def load_image(path: str | os.PathLike[str]) -> Image.Image:
    """Open an image as RGB (transparent areas over white), with one-line errors."""
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
    except OSError as exc:
        raise InputError(f"cannot read image {p}: {exc}") from None
    if im.mode in ("I;16", "I;16L", "I;16B", "I;16N"):  # 16-bit grey: scale (convert clips)
        arr = np.asarray(im, dtype=np.float64)
        key = im.info.get("transparency")
        alpha = np.where(arr == key, 0, 255) if isinstance(key, int) else np.full(arr.shape, 255)
        grey = np.clip(np.rint(arr / 257.0), 0, 255)
        im = Image.fromarray(np.stack([grey, alpha], axis=-1).astype(np.uint8), "LA")
    # alpha channels, and PNG's single transparent color (tRNS) in P, L and RGB images
    if im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info:
        im = im.convert("RGBA")
        background = Image.new("RGBA", im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(background, im)
    return im.convert("RGB")


def fit_image(
    image: Image.Image, width: int, height: int, fit: str = "crop",
    pad_color: tuple[int, int, int] = (255, 255, 255),
) -> Image.Image:
    """Give ``image`` the aspect ratio width:height without resampling it to the grid yet.

    ``crop`` cuts the centre, ``pad`` adds borders of ``pad_color``, ``stretch`` does neither.
    Raises :class:`InputError` when the padded canvas would exceed ``MAX_PIXELS``.
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
    size = (w, max(h, round(w / target))) if w / h > target else (max(w, round(h * target)), h)
    if size[0] * size[1] > MAX_PIXELS:  # a 1×60000 strip would pad to 60000×60000
        raise InputError(f"padding the {w}×{h} image to the pattern's shape needs a "
                         f"{size[0]}×{size[1]} canvas, over the limit of {MAX_PIXELS:,} pixels; "
                         "use --fit crop or stretch, or crop the image first")
    canvas = Image.new("RGB", size, pad_color)
    canvas.paste(image, ((canvas.width - w) // 2, (canvas.height - h) // 2))
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


def reference_grid(path: str | os.PathLike[str], width: int, height: int, fit: str = "crop") -> tuple[Image.Image, np.ndarray]:
    """Load, fit and downsample: the fitted full-size image and its ``H×W`` cell colors."""
    fitted = fit_image(load_image(path), width, height, fit)
    return fitted, area_downsample(fitted, width, height)
