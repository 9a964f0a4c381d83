"""How far craftpix's hand-written Canny is from OpenCV's ``cv2.Canny`` (what the canny
ControlNets were trained on), on a few photographs.

For each image at 512 px on the long side (SD 1.5's working size): craftpix's control
image pipeline (PIL Gaussian blur radius 1, then the numpy Canny 100/200) against (a) OpenCV's
Canny 100/200 on the same blurred grayscale image — the algorithm alone — and (b) OpenCV's
Canny 100/200 on the unblurred grayscale image (``cv2.Canny(image, 100, 200)``, the usual
way canny conditioning images are prepared; which variant each ControlNet saw is to be checked
against its training code). Reports edge-pixel counts, IoU, and precision/recall with 0 and
1 pixel of tolerance.

Usage::

    .venv/bin/python bench/canny_compare.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter
from scipy import ndimage

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from craftpix.engines.sds.conditioning import canny  # noqa: E402


def _images() -> dict[str, Image.Image]:
    from skimage import data

    out = {"astronaut.jpg": Image.open(ROOT / "examples" / "astronaut.jpg")}
    for name in ("camera", "coffee", "chelsea", "rocket"):
        out[f"skimage {name}"] = Image.fromarray(getattr(data, name)())
    return out


def _resize(img: Image.Image, long_side: int = 512) -> Image.Image:
    w, h = img.size
    k = long_side / max(w, h)
    return img.convert("RGB").resize((round(w * k), round(h * k)), Image.Resampling.BICUBIC)


def _compare(ours: np.ndarray, ref: np.ndarray) -> dict[str, float]:
    near_ref = ndimage.binary_dilation(ref, np.ones((3, 3), bool))
    near_ours = ndimage.binary_dilation(ours, np.ones((3, 3), bool))
    inter, union = (ours & ref).sum(), (ours | ref).sum()
    return {"edges_ours": int(ours.sum()), "edges_opencv": int(ref.sum()),
            "iou": round(float(inter / max(union, 1)), 4),
            "precision": round(float(inter / max(ours.sum(), 1)), 4),
            "recall": round(float(inter / max(ref.sum(), 1)), 4),
            "precision_1px": round(float((ours & near_ref).sum() / max(ours.sum(), 1)), 4),
            "recall_1px": round(float((ref & near_ours).sum() / max(ref.sum(), 1)), 4)}


def main() -> None:
    import cv2

    rows = []
    for name, img in _images().items():
        rgb = _resize(img)
        blurred = np.asarray(rgb.filter(ImageFilter.GaussianBlur(1.0)).convert("L"))
        ours = canny(blurred, 100, 200)
        same_input = cv2.Canny(blurred, 100, 200) > 0
        training = cv2.Canny(np.asarray(rgb.convert("L")), 100, 200) > 0
        rows.append({"image": name, "size": list(rgb.size),
                     "same_input": _compare(ours, same_input),
                     "as_trained": _compare(ours, training)})
        print(json.dumps(rows[-1]), flush=True)
    print(json.dumps({"opencv": cv2.__version__}))


if __name__ == "__main__":
    main()
