"""Random augmentations applied identically to the render and to the control images.

SD-πXL augments every training render before encoding it: grayscale (p = 0.2), a random
perspective warp (p = 0.5, distortion 0.3) and a horizontal flip (p = 0.5). The ControlNet
inputs get the *same* draws so edges and depth stay aligned with the render.

Pure torch (no torchvision): the perspective warp is a homography solved from four corner
correspondences and applied with ``grid_sample`` (bilinear, zeros outside), which keeps the
render differentiable. All random numbers come from one CPU :class:`torch.Generator`, a fixed
count per step, so runs are reproducible and resumable bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from craftpix.engines.sds.settings import AugmentConfig

# ITU-R 601 luma, as torchvision's rgb_to_grayscale.
_LUMA = (0.299, 0.587, 0.114)
# Corners in normalized coordinates (x, y) ∈ [-1, 1]²: top-left, top-right, bottom-right,
# bottom-left; and the inward direction each one may move in.
_CORNERS = ((-1.0, -1.0), (1.0, -1.0), (1.0, 1.0), (-1.0, 1.0))
_INWARD = ((1.0, 1.0), (-1.0, 1.0), (-1.0, -1.0), (1.0, -1.0))
DRAWS_PER_STEP = 11
_DEFAULT_AUGMENT = AugmentConfig()


@dataclass(frozen=True)
class AugmentDraw:
    """One step's random choices; apply it to any number of images of any size."""

    grayscale: bool
    corners: tuple[tuple[float, float], ...] | None  # where the 4 image corners land, or None
    flip: bool
    # Warp grids already built for this draw, by (H, W, device, dtype): the render and the
    # control images of one step share one grid.
    _grids: dict[tuple[int, int, torch.device, torch.dtype], torch.Tensor] = field(
        default_factory=dict, init=False, repr=False, compare=False)

    @property
    def identity(self) -> bool:
        return not (self.grayscale or self.flip or self.corners is not None)


def sample_augment(rng: torch.Generator, config: AugmentConfig = _DEFAULT_AUGMENT) -> AugmentDraw:
    """Draw one step's augmentation (always :data:`DRAWS_PER_STEP` numbers from ``rng``)."""
    u = torch.rand(DRAWS_PER_STEP, generator=rng, dtype=torch.float64).tolist()
    grayscale = u[0] < config.p_grayscale
    corners = None
    if u[1] < config.p_perspective and config.distortion > 0:
        # As torchvision's RandomPerspective: each corner moves inward by up to
        # distortion × half the side, independently in x and y.
        d = config.distortion
        corners = tuple(
            (cx + ix * d * u[2 + 2 * i], cy + iy * d * u[3 + 2 * i])
            for i, ((cx, cy), (ix, iy)) in enumerate(zip(_CORNERS, _INWARD, strict=True))
        )
    flip = u[10] < config.p_flip
    return AugmentDraw(grayscale=grayscale, corners=corners, flip=flip)


def homography(src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
    """The 3×3 matrix H with H·src_i ∝ dst_i for four point pairs (each ``(4, 2)``)."""
    src, dst = src.double(), dst.double()
    rows, rhs = [], []
    for (x, y), (u, v) in zip(src.tolist(), dst.tolist(), strict=True):
        rows.append([x, y, 1.0, 0.0, 0.0, 0.0, -u * x, -u * y])
        rows.append([0.0, 0.0, 0.0, x, y, 1.0, -v * x, -v * y])
        rhs += [u, v]
    h = torch.linalg.solve(torch.tensor(rows, dtype=torch.float64),
                           torch.tensor(rhs, dtype=torch.float64))
    return torch.cat([h, h.new_ones(1)]).reshape(3, 3)


def perspective_grid(
    corners: tuple[tuple[float, float], ...], height: int, width: int,
    device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Sampling grid ``(1, H, W, 2)`` that moves the image corners to ``corners``.

    For each output pixel the grid holds where to read in the input: the inverse warp, as
    ``grid_sample`` wants it (coordinates normalized with ``align_corners=False``).
    """
    # Built where it is used: a megapixel grid costs far more on the CPU than on a GPU. The
    # 3×3 matrix (solved on the CPU) enters as Python scalars: no host-to-device copy.
    m = homography(torch.tensor(corners), torch.tensor(_CORNERS)).tolist()
    ys = (torch.arange(height, dtype=torch.float64, device=device) * 2 + 1) / height - 1
    xs = (torch.arange(width, dtype=torch.float64, device=device) * 2 + 1) / width - 1
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    w = (m[2][0] * gx + m[2][1] * gy + m[2][2]).clamp_min(1e-12)
    grid = torch.stack([(m[0][0] * gx + m[0][1] * gy + m[0][2]) / w,
                        (m[1][0] * gx + m[1][1] * gy + m[1][2]) / w], dim=-1)
    return grid.unsqueeze(0).to(dtype=dtype)


def apply_augment(images: torch.Tensor, draw: AugmentDraw) -> torch.Tensor:
    """Apply ``draw`` to ``images`` ``(B, C, H, W)``: perspective, then flip, then grayscale.

    Differentiable in ``images``. Pixels that the warp brings in from outside are 0 (black),
    as torchvision's default fill.
    """
    x = images
    if draw.corners is not None:
        h, w = x.shape[-2:]
        key = (h, w, x.device, x.dtype)
        grid = draw._grids.get(key)
        if grid is None:
            grid = draw._grids[key] = perspective_grid(draw.corners, h, w, x.device, x.dtype)
        x = F.grid_sample(x, grid.expand(x.shape[0], -1, -1, -1), mode="bilinear",
                          padding_mode="zeros", align_corners=False)
    if draw.flip:
        x = torch.flip(x, dims=(-1,))
    if draw.grayscale and x.shape[1] == 3:
        luma = x.new_tensor(_LUMA).view(1, 3, 1, 1)
        x = (x * luma).sum(dim=1, keepdim=True).expand(-1, 3, -1, -1)
    return x
