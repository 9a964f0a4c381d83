"""The palette-constrained image generator of SD-πXL.

Parameters are logits ``θ ∈ R^{H×W×n}`` over the ``n`` palette colors. Three renders:

* :meth:`Generator.gumbel` — Gumbel-softmax sample (soft, differentiable), used for training;
* :meth:`Generator.softmax` — the convex color mix, previews only;
* :meth:`Generator.argmax` — the final pattern: every cell exactly one catalog color.

Renders are ``(1, 3, H, W)`` float tensors in [0, 1] sRGB, the layout image models expect.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from craftpix.color import pairwise_delta_e_2000, rgb_to_lab


class Generator(nn.Module):
    """Logits over a fixed palette for an ``height``×``width`` grid."""

    def __init__(self, palette_rgb: torch.Tensor | np.ndarray, logits: torch.Tensor) -> None:
        super().__init__()
        palette = torch.as_tensor(np.asarray(palette_rgb), dtype=torch.float32)
        if palette.ndim != 2 or palette.shape[1] != 3:
            raise ValueError(f"palette must be (n, 3), got {tuple(palette.shape)}")
        if logits.ndim != 3 or logits.shape[-1] != palette.shape[0]:
            raise ValueError("logits must be (H, W, n) with n palette colors")
        self.register_buffer("palette", palette)
        # Colors that are switched off (color budget) get -inf logits in every render.
        self.register_buffer("active", torch.ones(palette.shape[0], dtype=torch.bool))
        self.logits = nn.Parameter(logits.detach().clone().float())

    # --- construction -------------------------------------------------------------------
    @classmethod
    def random(
        cls, height: int, width: int, palette_rgb: np.ndarray, rng: torch.Generator | None = None
    ) -> Generator:
        """N(0, 1) logits, centered per pixel and scaled to norm √n (as SD-πXL)."""
        n = len(palette_rgb)
        logits = torch.randn(height, width, n, generator=rng)
        return cls(palette_rgb, _normalize(logits, target_norm=math.sqrt(n)))

    @classmethod
    def from_image(
        cls, image_rgb: np.ndarray, palette_rgb: np.ndarray, metric: str = "de2000"
    ) -> Generator:
        """Logits λ_ijk = −d(x_ij, c_k)·√n, centered, rescaled to the mean per-pixel norm.

        ``image_rgb`` is already at the pattern resolution, float sRGB ``(H, W, 3)``.
        ``metric`` is ``"de2000"`` (CIEDE2000 / 100, so the argmax is the perceptually nearest
        catalog color) or ``"rgb-l1"`` (the distance of the SD-πXL reference code).
        """
        img = np.asarray(image_rgb, dtype=np.float64)
        pal = np.asarray(palette_rgb, dtype=np.float64)
        h, w, _ = img.shape
        n = len(pal)
        if metric == "de2000":
            d = pairwise_delta_e_2000(rgb_to_lab(img.reshape(-1, 3)), rgb_to_lab(pal)) / 100.0
        elif metric == "rgb-l1":
            d = np.abs(img.reshape(-1, 1, 3) - pal[None]).sum(-1)
        else:
            raise ValueError(f"unknown init metric {metric!r}")
        logits = torch.as_tensor(-d * math.sqrt(n), dtype=torch.float32).reshape(h, w, n)
        return cls(pal, _normalize(logits))

    # --- shape --------------------------------------------------------------------------
    @property
    def height(self) -> int:
        return int(self.logits.shape[0])

    @property
    def width(self) -> int:
        return int(self.logits.shape[1])

    @property
    def n_colors(self) -> int:
        return int(self.logits.shape[2])

    # --- renders ------------------------------------------------------------------------
    def masked_logits(self) -> torch.Tensor:
        return self.logits.masked_fill(~self.active, float("-inf"))

    def mix(self, weights: torch.Tensor) -> torch.Tensor:
        """(H, W, n) weights → (1, 3, H, W) image."""
        return (weights @ self.palette).permute(2, 0, 1).unsqueeze(0)

    def gumbel_weights(self, tau: float, rng: torch.Generator | None = None) -> torch.Tensor:
        """Soft Gumbel-softmax sample s = softmax((λ + G)/τ), shape (H, W, n).

        G = −log(−log U), U ~ U(0, 1) drawn by ``rng`` on ``rng``'s device: a generator on the
        logits' device (what :func:`~craftpix.engines.sds.optimize.optimize` passes) draws
        there, with no host copy; a CPU generator draws on the CPU and copies. The temperature
        divides logits and noise together (Jang et al. 2017, eq. 1), not the logits alone.
        """
        where = rng.device if rng is not None else self.logits.device
        u = torch.rand(self.logits.shape, generator=rng, device=where).to(self.logits.device)
        g = -torch.log(-torch.log(u.clamp(1e-10, 1.0 - 1e-7)))
        return torch.softmax((self.masked_logits() + g) / tau, dim=-1)

    def gumbel(self, tau: float, rng: torch.Generator | None = None) -> torch.Tensor:
        """Differentiable training render (soft sample, no straight-through, as SD-πXL)."""
        return self.mix(self.gumbel_weights(tau, rng))

    def probabilities(self) -> torch.Tensor:
        return torch.softmax(self.masked_logits(), dim=-1)

    def softmax(self) -> torch.Tensor:
        """Convex mix of palette colors: a preview, never a pattern."""
        return self.mix(self.probabilities())

    def indices(self) -> torch.Tensor:
        """Hard argmax: one palette index per cell, ``(H, W)`` int64."""
        return self.masked_logits().argmax(dim=-1)

    def argmax(self) -> torch.Tensor:
        """The final render: every cell exactly one palette color."""
        return self.palette[self.indices()].permute(2, 0, 1).unsqueeze(0)

    # --- maintenance --------------------------------------------------------------------
    @torch.no_grad()
    def recenter_(self) -> None:
        """Subtract each pixel's mean logit: renders are invariant to it, drift is not."""
        self.logits.sub_(self.logits.mean(dim=-1, keepdim=True))

    @torch.no_grad()
    def restrict_(self, keep: torch.Tensor | np.ndarray | list[int]) -> None:
        """Switch off every color not in ``keep`` (indices into the palette)."""
        mask = torch.zeros_like(self.active)
        idx = keep if isinstance(keep, torch.Tensor) else torch.as_tensor(np.asarray(keep))
        mask[idx.to(device=mask.device, dtype=torch.long)] = True
        self.active.copy_(mask)

    @torch.no_grad()
    def entropy(self) -> torch.Tensor:
        """Per-cell normalized entropy H̄ = −Σ π log π / log n_active, in [0, 1]."""
        p = self.probabilities()
        h = -(p * torch.log(p.clamp_min(1e-12))).sum(-1)
        # log n_active on the device: no host sync (0 when one color is left: H = 0 then too).
        log_n = torch.log(self.active.sum().to(h.dtype)).clamp_min(1e-12)
        return h / log_n


def _normalize(logits: torch.Tensor, target_norm: float | None = None) -> torch.Tensor:
    """Center each pixel's logits, then give every pixel the same norm.

    The norm is ``target_norm`` or, by default, the mean norm over pixels (SD-πXL's image init).
    """
    centered = logits - logits.mean(dim=-1, keepdim=True)
    norms = centered.norm(dim=-1, keepdim=True)
    target = target_norm if target_norm is not None else float(norms.mean())
    return centered / norms.clamp_min(1e-8) * target
