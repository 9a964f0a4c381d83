"""Where small details matter: a per-cell feature map that the photo engine's clean-up respects.

At 48×48 cells a portrait's eyes and mouth are one or two cells each, only a little darker
than the skin around them. The photo engine's contrast-sensitive Potts term and blob clean-up
(:mod:`craftpix.engines.photo`) are built to flatten exactly such low-contrast specks, so a
face becomes one slab of skin color. This module finds the cells where a crafter expects a
detail to survive and says how much the clean-up should spare them:

* **Faces.** When OpenCV is installed (the ``faces`` extra, ``opencv-python-headless``),
  its Viola–Jones face detector (Viola & Jones, "Rapid object detection using a boosted
  cascade of simple features", CVPR 2001; the frontal-face Haar cascade that OpenCV ships in
  ``cv2.data.haarcascades``) runs on the fitted image. Inside a detected face every cell
  that differs from the face's skin (the median color of the box's middle) by more than
  :data:`FACE_DETAIL_DE` ΔE00 — eyes, brows, nostrils, the mouth — is a feature, fully so
  from :data:`FACE_FULL_DE` on. Faces narrower than :data:`FACE_MIN_CELLS` cells are left out
  (their features are smaller than a cell). Without OpenCV this part is skipped.
* **Small details anywhere.** A difference of Gaussians at the cell scale: the ΔE00 between
  a cell and its Gaussian surround (σ = :data:`DETAIL_SIGMA` cells). A cell is a detail when
  that difference is at least :data:`DETAIL_DE` and at least :data:`SURROUND_RATIO` times
  the median difference of its 5×5 neighbourhood — it stands out from calm surroundings (a
  button, a star, an eye in a drawing), while texture, where every cell differs from its
  surround, is not singled out.

The result is a saliency ``s`` in 0..1 per cell (:data:`DETAIL_WEIGHT` for a detail). The
photo engine first enlarges each face feature's difference from the skin
(:meth:`FeatureMap.sharpen`: at the cell scale a one-cell eye is the average of eye and skin
pixels, paler than the eye a person sees, and often as close to the skin's catalog color as
to any darker one), then multiplies the Potts weight of an edge by
``1 − (1 − FEATURE_SMOOTH) · max(s_p, s_q)``, does not absorb a blob that holds a cell with
``s ≥ 0.5``, and counts each cell ``1 + COLOR_BOOST · s`` times when it chooses the colors,
so that a feature also has a color of its own to take. The constants were set on
``examples/astronaut.jpg`` and scikit-image's photographs; docs/BENCHMARKS.md has what they
cost. Importing this module imports
neither OpenCV nor torch; OpenCV is imported on first use.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from craftpix.color import delta_e_2000, lab_to_rgb, rgb_to_lab

__all__ = [
    "COLOR_BOOST",
    "DETAIL_DE",
    "FACE_DETAIL_DE",
    "FEATURE_SMOOTH",
    "SHARPEN",
    "FeatureMap",
    "detect_faces",
    "detail_saliency",
    "feature_map",
    "face_saliency",
]

#: How much a feature's difference from its surround is enlarged before colors are chosen
#: (1 doubles it): a one-cell eye is the average of eye and skin pixels, so at the cell scale
#: it is paler than the eye a person sees.
SHARPEN = 1.0
#: Potts weight left on an edge at a full feature (×; 1 would leave the clean-up unchanged).
FEATURE_SMOOTH = 0.2
#: Extra weight of a full feature cell in the color choice (a feature counts 1 + this times).
COLOR_BOOST = 2.0
#: Inside a face: ΔE00 from the skin color where a cell starts to be a feature, and where it
#: fully is one. Skin shading stays below the first; eyes and mouth at 48 cells are ≈ 15–25.
FACE_DETAIL_DE = 8.0
FACE_FULL_DE = 14.0
#: Faces narrower than this many cells are not looked into.
FACE_MIN_CELLS = 6
#: The longest side the face detector sees, in pixels (larger images are shrunk for speed).
DETECT_SIDE = 640
#: Difference of Gaussians: surround σ in cells, least ΔE00 to the surround, and how many times
#: the neighbourhood's median difference a detail must stand out by.
DETAIL_SIGMA = 1.0
DETAIL_DE = 20.0
SURROUND_RATIO = 3.0
#: Saliency of such a detail (faces' features reach 1): protected from the blob clean-up,
#: Potts weight × 0.6, but not sharpened (it already stands out by DETAIL_DE; sharpening the
#: stars of a telescope image raised its ΔE00 by 4 % on the photo benchmark).
DETAIL_WEIGHT = 0.5
#: Cells with at least this saliency are never absorbed by the blob clean-up.
PROTECT_FROM = 0.5

_CASCADE = "haarcascade_frontalface_default.xml"


@dataclass
class FeatureMap:
    """Per-cell saliency (H, W) float 0..1, what each feature stands out from, the faces."""

    saliency: np.ndarray
    surround: np.ndarray  # (H, W, 3) CIELAB each feature stands out from (skin, its surround)
    faces: list[tuple[float, float, float, float]] = field(default_factory=list)  # x0, y0, x1, y1
    detector: bool = False  # whether a face detector ran

    def sharpen(self, rgb: np.ndarray) -> np.ndarray:
        """``rgb`` (H, W, 3) float sRGB 0..1 with each feature's difference from its surround
        enlarged, ``lab + SHARPEN · s · (lab − surround)`` in CIELAB (an unsharp mask at the
        feature cells only), clipped to the sRGB gamut. Other cells are returned as they are.
        """
        rgb = np.asarray(rgb, dtype=np.float64)
        s = self.saliency
        if not (s > 0).any():
            return rgb.copy()
        lab = rgb_to_lab(rgb)
        sharp = lab + SHARPEN * s[..., None] * (lab - self.surround)
        sharp[..., 0] = np.clip(sharp[..., 0], 0.0, 100.0)
        out = rgb.copy()
        m = s > 0
        out[m] = np.clip(lab_to_rgb(sharp[m]), 0.0, 1.0)
        return out

    def edge_scale(self, edges: np.ndarray) -> np.ndarray:
        """Factor (E,) for the Potts weights of ``edges`` (E, 2) flat cell indices (row-major
        over the saliency's grid): ``1 − (1 − FEATURE_SMOOTH) · max(s_p, s_q)``."""
        s = self.saliency.ravel()
        if len(edges) == 0:
            return np.ones(0)
        m = np.maximum(s[edges[:, 0]], s[edges[:, 1]])
        return 1.0 - (1.0 - FEATURE_SMOOTH) * m

    def protected(self) -> np.ndarray:
        """(H, W) bool: cells whose blob the clean-up must not absorb."""
        return self.saliency >= PROTECT_FROM

    def color_weights(self) -> np.ndarray:
        """(H, W) weight of each cell in the color choice, ``1 + COLOR_BOOST · s``."""
        return 1.0 + COLOR_BOOST * self.saliency


def detect_faces(image: Image.Image, min_side: int = 24) -> list[tuple[int, int, int, int]] | None:
    """Frontal faces in ``image`` as (x, y, w, h) pixel boxes; None when OpenCV is missing.

    Uses OpenCV's Viola–Jones detector with its shipped frontal-face Haar cascade on the
    histogram-equalised gray image, shrunk to at most :data:`DETECT_SIDE` pixels;
    ``min_side`` is the smallest face side in pixels of ``image``. OpenCV builds without the
    cascade (OpenCV 5 moved it out of the main package) also give None.
    """
    try:
        import cv2
    except ImportError:
        return None
    cascade_dir = getattr(getattr(cv2, "data", None), "haarcascades", None)
    if cascade_dir is None or not hasattr(cv2, "CascadeClassifier"):
        return None
    from pathlib import Path

    path = Path(cascade_dir) / _CASCADE
    if not path.is_file():
        return None
    classifier = cv2.CascadeClassifier(str(path))
    if classifier.empty():
        return None
    gray = np.asarray(image.convert("L"))
    scale = min(1.0, DETECT_SIDE / max(gray.shape))
    if scale < 1.0:
        size = (max(1, round(gray.shape[1] * scale)), max(1, round(gray.shape[0] * scale)))
        gray = np.asarray(Image.fromarray(gray).resize(size, Image.Resampling.BOX))
    gray = cv2.equalizeHist(np.ascontiguousarray(gray))
    side = max(20, int(min_side * scale))
    found = classifier.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5,
                                        minSize=(side, side))
    return [tuple(int(round(v / scale)) for v in box) for box in np.asarray(found).reshape(-1, 4)]


def face_saliency(lab: np.ndarray, boxes: list[tuple[float, float, float, float]],
                  covered: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(H, W) saliency inside face ``boxes`` and the skin color (H, W, 3) it is measured from (x0, y0, x1, y1 in cells, ends exclusive).

    ``lab`` (H, W, 3) CIELAB of the cells. Only the cells whose centres lie in the ellipse
    inscribed in a box count (its corners are hair and background). The skin color is the
    median Lab of the box's middle half (cheeks and nose; the detector's box reaches from the
    brows to the chin); a cell's saliency rises linearly from 0 at :data:`FACE_DETAIL_DE` to 1
    at :data:`FACE_FULL_DE` ΔE00 from it.
    """
    h, w = covered.shape
    out = np.zeros((h, w))
    skin_of = np.zeros((h, w, 3))
    yy, xx = np.mgrid[0:h, 0:w] + 0.5  # cell centres
    for x0, y0, x1, y1 in boxes:
        cx, cy, rx, ry = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2, (y1 - y0) / 2
        if rx <= 0 or ry <= 0:
            continue
        face = (((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1.0) & covered
        middle = (np.abs(xx - cx) <= rx / 2) & (np.abs(yy - cy) <= ry / 2) & covered
        if not middle.any():
            continue
        skin = np.median(lab[middle], axis=0)
        de = delta_e_2000(lab[face], np.broadcast_to(skin, (int(face.sum()), 3)))
        s = np.clip((de - FACE_DETAIL_DE) / (FACE_FULL_DE - FACE_DETAIL_DE), 0.0, 1.0)
        more = np.zeros((h, w), dtype=bool)
        more[face] = s > out[face]
        out[face] = np.maximum(out[face], s)
        skin_of[more] = skin
    return out, skin_of


def detail_saliency(lab: np.ndarray, covered: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(H, W) saliency of small details (module docstring) and their surround (H, W, 3) Lab:
    :data:`DETAIL_WEIGHT` where a cell's ΔE00 to its Gaussian surround is ≥ :data:`DETAIL_DE`
    and ≥ :data:`SURROUND_RATIO` × the median of its 5×5 neighbourhood, else 0. Empty cells (``covered`` False) are never details and do not
    count in a surround."""
    from scipy.ndimage import gaussian_filter, median_filter

    h, w = covered.shape
    if h < 3 or w < 3 or not covered.any():
        return np.zeros((h, w)), np.asarray(lab, dtype=np.float64).copy()
    m = covered.astype(np.float64)
    norm = gaussian_filter(m, DETAIL_SIGMA, mode="nearest")
    surround = np.stack([gaussian_filter(lab[..., c] * m, DETAIL_SIGMA, mode="nearest")
                         for c in range(3)], -1) / np.maximum(norm, 1e-9)[..., None]
    dog = delta_e_2000(lab.reshape(-1, 3), surround.reshape(-1, 3)).reshape(h, w)
    dog = np.where(covered, dog, 0.0)
    calm = median_filter(dog, size=5, mode="nearest")
    detail = (dog >= DETAIL_DE) & (dog >= SURROUND_RATIO * calm) & covered
    return DETAIL_WEIGHT * detail, surround


def feature_map(rgb: np.ndarray, covered: np.ndarray, fitted: Image.Image | None = None,
                faces: bool = True) -> FeatureMap:
    """The feature map of a photo on its cell grid (module docstring).

    ``rgb`` (H, W, 3) float sRGB 0..1 per cell, ``covered`` (H, W) bool (cells with a piece),
    ``fitted`` the image at full resolution with the grid's aspect ratio (the face detector's
    input; None skips faces, as does ``faces=False`` or a missing OpenCV).
    """
    rgb = np.asarray(rgb, dtype=np.float64)
    h, w = covered.shape
    lab = rgb_to_lab(rgb.reshape(-1, 3)).reshape(h, w, 3)
    saliency, _ = detail_saliency(lab, covered)
    surround = lab.copy()  # details are spared, not sharpened
    boxes: list[tuple[float, float, float, float]] = []
    detector = False
    if faces and fitted is not None and min(h, w) >= FACE_MIN_CELLS:
        sx, sy = w / fitted.width, h / fitted.height
        found = detect_faces(fitted, min_side=int(np.ceil(FACE_MIN_CELLS / min(sx, sy))))
        if found is not None:
            detector = True
            boxes = [(x * sx, y * sy, (x + bw) * sx, (y + bh) * sy) for x, y, bw, bh in found]
            face, skin = face_saliency(lab, boxes, covered)
            surround = np.where((face > saliency)[..., None], skin, surround)
            saliency = np.maximum(saliency, face)
    return FeatureMap(saliency, surround, boxes, detector)
