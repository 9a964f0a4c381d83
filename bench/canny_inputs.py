"""Canny control images from three inputs: what the ControlNets saw in training against
SD-πXL's recipe.

* ``rgb``: ``cv2.Canny(rgb, 100, 200)`` on the resized RGB image — the canny ControlNets'
  annotators, and craftpix's control image;
* ``gray``: the same on the luma (PIL "L") image;
* ``blur+gray``: PIL Gaussian blur radius 1, then luma, then Canny — SD-πXL's code.

Usage::

    python bench/canny_inputs.py examples/astronaut.jpg --size 1024 --size 512

Prints, per image and size, the edge pixel count of each input and its IoU with ``rgb``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageFilter


def edges(img: Image.Image) -> np.ndarray:
    return cv2.Canny(np.asarray(img), 100, 200) > 0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("images", nargs="+", type=Path)
    p.add_argument("--size", type=int, action="append", help="long side in pixels")
    args = p.parse_args()
    print("| image | size | rgb edges | gray edges (IoU) | blur+gray edges (IoU) |")
    print("|---|---|---|---|---|")
    for path in args.images:
        src = Image.open(path).convert("RGB")
        for size in args.size or [1024]:
            scale = size / max(src.size)
            im = src.resize((round(src.width * scale), round(src.height * scale)),
                            Image.Resampling.BICUBIC)
            ref = edges(im)
            row = [f"{ref.sum():,}".replace(",", " ")]
            for variant in (im.convert("L"), im.filter(ImageFilter.GaussianBlur(1)).convert("L")):
                e = edges(variant)
                iou = (e & ref).sum() / max(1, (e | ref).sum())
                row.append(f"{e.sum():,} ({iou:.2f})".replace(",", " "))
            print(f"| {path.name} | {im.width}×{im.height} | " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
