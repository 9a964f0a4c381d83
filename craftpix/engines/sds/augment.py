"""Random augmentations applied identically to the render and to the control images.

SD-πXL augments every training render before encoding it: grayscale (p = 0.2), a random
perspective warp (p = 0.5, distortion 0.3) and a horizontal flip (p = 0.5), the semantics of
torchvision's ``RandomGrayscale``, ``RandomPerspective`` and ``RandomHorizontalFlip``. The
ControlNet inputs (and any mask) get the *same* draw so edges and depth stay aligned with the
render.

The image operations are kornia's (Apache-2.0, in the ``diffusion`` extra):
``get_perspective_transform`` solves the homography from the four corner correspondences,
``warp_perspective`` applies it (bilinear, zeros outside, differentiable in the image),
``rgb_to_grayscale`` uses the ITU-R BT.601 luma weights and ``hflip`` mirrors the columns.
kornia's random samplers are NOT used: they draw from torch's global generator. All random
numbers come from our own CPU :class:`torch.Generator`, a fixed count per step, so runs are
reproducible and resumable bit for bit.

Coordinates. :attr:`AugmentDraw.corners` is in normalized coordinates (x, y) ∈ [-1, 1]² with
``grid_sample``'s ``align_corners=False`` meaning: ±1 are the outer *edges* of the image, so
(-1, -1) is the top-left corner of the top-left pixel whatever (H, W) is. In kornia's pixel
coordinates (pixel centres at integers, origin at the top-left pixel's centre) that point is
(-0.5, -0.5) and (1, 1) is (W - 0.5, H - 0.5) (:func:`normalized_to_pixels`). One draw thus
describes the same geometric warp at every resolution and aspect ratio (the render at the
model's size, the ControlNet images, a 1-channel mask). ``warp_perspective`` takes the
homography in pixels; its ``align_corners`` only picks the normalization it uses internally on
the way to ``grid_sample`` (the same one for both), so it does not move the result; ``False``
is passed, the convention above. (kornia's own ``RandomPerspective`` puts the corners at the
outer pixel *centres* (0, 0) … (W − 1, H − 1) instead: up to half a pixel different.)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from kornia.color import rgb_to_grayscale
from kornia.geometry.transform import get_perspective_transform, hflip, warp_perspective

from craftpix.engines.sds.settings import AugmentConfig

# Corners in normalized coordinates (x, y) ∈ [-1, 1]²: top-left, top-right, bottom-right,
# bottom-left; and the inward direction each one may move in.
_CORNERS = ((-1.0, -1.0), (1.0, -1.0), (1.0, 1.0), (-1.0, 1.0))
_INWARD = ((1.0, 1.0), (-1.0, 1.0), (-1.0, -1.0), (1.0, -1.0))
DRAWS_PER_STEP = 11
_DEFAULT_AUGMENT = AugmentConfig()
# Half precision: a sampling grid in float16 is off by up to half a pixel at 1024 px (10-bit
# mantissa), so such images are warped in float32 and cast back.
_HALF = (torch.float16, torch.bfloat16)

Corners = tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class AugmentDraw:
    """One step's random choices; apply it to any number of images of any size."""

    grayscale: bool
    corners: Corners | None  # where the 4 image corners land (normalized, see module doc), or None
    flip: bool
    # Pixel homographies already built for this draw, by (H, W, device, dtype): the render and
    # the control images of one step share one matrix (and one host-to-device copy).
    _matrices: dict[tuple[int, int, torch.device, torch.dtype], torch.Tensor] = field(
        default_factory=dict, init=False, repr=False, compare=False)

    @property
    def identity(self) -> bool:
        return not (self.grayscale or self.flip or self.corners is not None)


def sample_augment(rng: torch.Generator, config: AugmentConfig = _DEFAULT_AUGMENT) -> AugmentDraw:
    """Draw one step's augmentation (always :data:`DRAWS_PER_STEP` numbers from ``rng``).

    As torchvision's ``RandomPerspective`` (and SD-πXL): each corner moves inward by up to
    ``distortion`` × half the side, independently in x and y (uniform, continuous here where
    torchvision draws whole pixels).
    """
    u = torch.rand(DRAWS_PER_STEP, generator=rng, dtype=torch.float64).tolist()
    grayscale = u[0] < config.p_grayscale
    corners = None
    if u[1] < config.p_perspective and config.distortion > 0:
        d = config.distortion
        corners = tuple(
            (cx + ix * d * u[2 + 2 * i], cy + iy * d * u[3 + 2 * i])
            for i, ((cx, cy), (ix, iy)) in enumerate(zip(_CORNERS, _INWARD, strict=True))
        )
    flip = u[10] < config.p_flip
    return AugmentDraw(grayscale=grayscale, corners=corners, flip=flip)


def normalized_to_pixels(points: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Normalized (x, y) ``(..., 2)`` (±1 = outer pixel edges) → kornia pixel coordinates.

    ``x_px = (x + 1)·W/2 − 0.5``, ``y_px = (y + 1)·H/2 − 0.5``: pixel centres at integers, the
    inverse of ``grid_sample``'s ``align_corners=False`` normalization.
    """
    scale = points.new_tensor([width / 2.0, height / 2.0])
    return (points + 1.0) * scale - 0.5


def perspective_matrix(corners: Corners, height: int, width: int) -> torch.Tensor:
    """Pixel homography ``(1, 3, 3)`` (float64, CPU) that moves the image corners to ``corners``.

    Source → destination, as kornia's ``warp_perspective`` takes it: the image's outer corners
    (normalized ±1) go to ``corners`` (normalized, 4 × (x, y) in the order top-left, top-right,
    bottom-right, bottom-left) for an ``height`` × ``width`` image. Solved by kornia's
    ``get_perspective_transform`` (direct linear transform).
    """
    src = normalized_to_pixels(torch.tensor(_CORNERS, dtype=torch.float64), height, width)
    dst = normalized_to_pixels(torch.tensor(corners, dtype=torch.float64), height, width)
    return get_perspective_transform(src[None], dst[None])


def _matrix_on(draw: AugmentDraw, height: int, width: int, device: torch.device,
               dtype: torch.dtype) -> torch.Tensor:
    """This draw's matrix on ``device`` in ``dtype``, built once per (H, W, device, dtype)."""
    key = (height, width, device, dtype)
    m = draw._matrices.get(key)
    if m is None:
        assert draw.corners is not None
        # Solved on the CPU in float64, then 36 bytes go to the device. A blocking copy to CUDA
        # waits for every queued kernel; a non-blocking one from pinned (page-locked) memory is
        # asynchronous by CUDA's definition, and the pinned tensor lives until it is done.
        m = perspective_matrix(draw.corners, height, width).to(dtype)
        if device.type == "cuda":
            m = m.pin_memory().to(device, non_blocking=True)
        draw._matrices[key] = m
    return m


def apply_augment(images: torch.Tensor, draw: AugmentDraw) -> torch.Tensor:
    """Apply ``draw`` to ``images`` ``(B, C, H, W)`` (any C, H, W): perspective, flip, grayscale.

    Differentiable in ``images``. Pixels that the warp brings in from outside are 0 (black),
    as torchvision's default fill. Grayscale (BT.601 luma, repeated over the 3 channels)
    applies to 3-channel images only; other channel counts (a mask) get the geometry only.
    Returns a tensor of the same shape and dtype.
    """
    x = images
    if draw.corners is not None:
        b, _, h, w = x.shape
        dtype = x.dtype
        work = torch.float32 if dtype in _HALF else dtype
        m = _matrix_on(draw, h, w, x.device, work)
        x = warp_perspective(x.to(work), m.expand(b, -1, -1), (h, w), mode="bilinear",
                             padding_mode="zeros", align_corners=False).to(dtype)
    if draw.flip:
        x = hflip(x)
    if draw.grayscale and x.shape[1] == 3:
        x = rgb_to_grayscale(x).expand(-1, 3, -1, -1)
    return x
