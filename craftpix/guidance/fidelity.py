"""The model-free objective: stay close to a reference image in CIELAB, in flat regions.

Used when the user gives only a photo (and by ``make demo``): no diffusion model, no download,
seconds on a CPU. Three terms, all on the Gumbel-softmax sample ``s`` (H, W, n):

* fidelity — the sample's expected CIEDE2000 to the reference, Σ_k s_ijk·ΔE00(c_k, x_ij)/100.
  Measuring each color's own distance (not the distance of the blended render) means a mix
  of two colors is never rewarded: the argmax stays the color that is really close;
* agreement — 1 − ⟨s_ij, s_neighbour⟩ over 4-neighbours: cells like to share their
  neighbours' color, which removes "confetti" cells that crafters hate to place;
* (added by the loop) SD-πXL's FFT smoothness on the rendered sample.

An optional multi-scale term compares 2×2 and 4×4 averages of the render with the reference.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from craftpix.color import delta_e_2000, pairwise_delta_e_2000, rgb_to_lab
from craftpix.engines.sds.generator import Generator
from craftpix.engines.sds.optimize import OptimConfig, OptimResult, optimize

# Per unit of --smooth; tuned on scikit-image's photographs (see docs/BENCHMARKS.md).
FFT_WEIGHT = 0.09
AGREEMENT_WEIGHT = 0.09


def neighbour_disagreement(weights: torch.Tensor) -> torch.Tensor:
    """Mean of 1 − ⟨s_i, s_j⟩ over horizontally and vertically adjacent cells."""
    vertical = 1.0 - (weights[1:] * weights[:-1]).sum(-1)
    horizontal = 1.0 - (weights[:, 1:] * weights[:, :-1]).sum(-1)
    parts = [t.mean() for t in (vertical, horizontal) if t.numel()]
    return torch.stack(parts).mean() if parts else weights.sum() * 0.0


class FidelityObjective:
    """Expected ΔE00 to the reference plus neighbour agreement (see module doc)."""

    uses_weights = True  # the loop passes the sample's per-color weights

    def __init__(
        self,
        reference_rgb: np.ndarray,
        palette_rgb: np.ndarray,
        agreement: float = AGREEMENT_WEIGHT,
        multiscale: float = 0.0,
    ) -> None:
        ref = np.asarray(reference_rgb, dtype=np.float64)
        if ref.ndim != 3 or ref.shape[-1] != 3:
            raise ValueError("reference must be (H, W, 3) float sRGB")
        h, w, _ = ref.shape
        pal = np.asarray(palette_rgb, dtype=np.float64)
        cost = pairwise_delta_e_2000(rgb_to_lab(ref.reshape(-1, 3)), rgb_to_lab(pal)) / 100.0
        self.cost = torch.as_tensor(cost.reshape(h, w, len(pal)), dtype=torch.float32)
        self.reference = torch.as_tensor(ref, dtype=torch.float32).permute(2, 0, 1).unsqueeze(0)
        self.agreement = agreement
        self.multiscale = multiscale

    def loss(
        self,
        render: torch.Tensor,
        step: int,
        total: int,
        rng: torch.Generator,
        weights: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if weights is None:
            raise ValueError("FidelityObjective needs the sample weights")
        loss = (weights * self.cost.to(weights.device)).sum(-1).mean()
        if self.agreement:
            loss = loss + self.agreement * neighbour_disagreement(weights)
        if self.multiscale:
            ref = self.reference.to(render.device)
            for k in (2, 4):
                if min(render.shape[-2:]) < 2 * k:
                    break
                a = rgb_to_lab(F.avg_pool2d(render, k)[0].permute(1, 2, 0).clamp(0, 1))
                b = rgb_to_lab(F.avg_pool2d(ref, k)[0].permute(1, 2, 0))
                loss = loss + self.multiscale * delta_e_2000(a, b).mean() / 100.0
        return loss


def run_fidelity(
    reference_rgb: np.ndarray,
    palette_rgb: np.ndarray,
    *,
    steps: int,
    seed: int,
    smooth: float = 1.0,
    multiscale: float = 0.0,
    lr: float = 0.1,
    quiet: bool = False,
) -> OptimResult:
    """Start at the nearest catalog colors and optimize toward a clean, faithful pattern.

    ``smooth`` scales both clean-up terms (FFT and neighbour agreement); 0 turns them off.
    """
    torch.manual_seed(seed)
    h, w = reference_rgb.shape[:2]
    gen = Generator.from_image(reference_rgb, palette_rgb)
    # The FFT term grows with √(H·W) (unnormalized transform, as SD-πXL); dividing it out
    # makes ``smooth`` mean the same at every pattern size.
    config = OptimConfig(steps=steps, seed=seed, lr=lr, warmup=min(20, steps),
                         fft_weight=smooth * FFT_WEIGHT / math.sqrt(h * w))
    objective = FidelityObjective(reference_rgb, palette_rgb,
                                  agreement=smooth * AGREEMENT_WEIGHT, multiscale=multiscale)
    return optimize(gen, objective, config, progress=not quiet, desc="fitting colors")
