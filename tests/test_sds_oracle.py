"""Oracle test: with an analytic denoiser, SDS must recover the best catalog image.

The "UNet" knows a target latent z* and predicts the exact noise for it,
ε̂ = (z_t − √ᾱ_t·z*)/√(1 − ᾱ_t); the "VAE" is a fixed average pool. Then the SDS gradient is
w(t)·√ᾱ_t/√(1 − ᾱ_t)·(z − z*): descending it drives the render's latent to z*, so the argmax
pattern must approach the nearest-catalog mapping of the target image. A sign or scale error
anywhere in the gradient path (encode, noise, CFG, loss trick, loop) breaks this.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from craftpix.engines.sds.conditioning import TextConditioning
from craftpix.engines.sds.generator import Generator
from craftpix.engines.sds.objective import LatentEncoder, SDSObjective
from craftpix.engines.sds.optimize import OptimConfig, optimize
from craftpix.engines.sds.settings import AugmentConfig, SDSConfig

H = W = 8
RES = 32
PALETTE = np.array([[0, 0, 0], [1, 1, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0],
                    [0, 1, 1], [1, 0, 1], [0.5, 0.5, 0.5], [1, 0.5, 0]], dtype=np.float64)


class PoolVAE(torch.nn.Module):
    """A known, linear encoder: 4×4 average pool of the [-1, 1] image."""

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(x, 4)


class AnalyticDenoiser(torch.nn.Module):
    """ε̂(z_t, t) for data concentrated at ``target`` (ignores the text: ε_c = ε_u)."""

    def __init__(self, target: torch.Tensor, alphas_cumprod: torch.Tensor) -> None:
        super().__init__()
        self.target = target
        self.alphas_cumprod = alphas_cumprod
        self.calls = 0

    def forward(self, sample, timestep, encoder_hidden_states=None, added_cond_kwargs=None,
                down_block_additional_residuals=None, mid_block_additional_residual=None,
                return_dict=False):
        self.calls += 1
        a = self.alphas_cumprod[timestep].float().view(-1, 1, 1, 1)
        return ((sample - a.sqrt() * self.target) / (1 - a).sqrt(),)


def _alphas() -> torch.Tensor:
    betas = torch.linspace(0.00085**0.5, 0.012**0.5, 1000, dtype=torch.float64) ** 2
    return torch.cumprod(1 - betas, 0)


def _nearest(image: np.ndarray) -> np.ndarray:
    d = ((image[:, :, None, :] - PALETTE[None, None]) ** 2).sum(-1)
    return d.argmin(-1)


def test_sds_recovers_nearest_catalog_image() -> None:
    rng = np.random.default_rng(0)
    truth = rng.integers(0, len(PALETTE), size=(H, W))
    target_img = np.clip(PALETTE[truth] + rng.normal(0, 0.06, (H, W, 3)), 0, 1)
    best = _nearest(target_img)

    alphas = _alphas()
    encoder = LatentEncoder(PoolVAE())
    up = F.interpolate(torch.tensor(target_img, dtype=torch.float32).permute(2, 0, 1)[None],
                       size=(RES, RES), mode="bilinear", align_corners=False)
    z_star = encoder(up, torch.Generator())
    unet = AnalyticDenoiser(z_star, alphas)
    objective = SDSObjective(
        unet=unet, encoder=encoder, alphas_cumprod=alphas,
        text=TextConditioning(hidden=torch.zeros(2, 1, 8)), size=(RES, RES),
        config=SDSConfig(augment=AugmentConfig.off()))  # guidance 40: cancels, ε_c = ε_u

    gen = Generator.random(H, W, PALETTE, torch.Generator().manual_seed(1))
    agreement: list[float] = []
    errors: list[float] = []

    def track(step: int, g: Generator) -> None:
        if step % 25 == 0 or step == steps - 1:
            idx = g.indices().numpy()
            agreement.append(float((idx == best).mean()))
            errors.append(float(np.abs(PALETTE[idx] - target_img).mean()))

    steps = 500
    config = OptimConfig(steps=steps, warmup=10, fft_weight=0.0, seed=0)
    result = optimize(gen, objective, config, hooks=[track], progress=False)

    assert unet.calls == steps  # one batched call per step
    best_err = float(np.abs(PALETTE[best] - target_img).mean())
    assert agreement[0] < 0.4  # random start
    assert errors[-1] < errors[0] * 0.5  # error falls...
    assert np.mean(errors[-3:]) < np.mean(errors[:3])
    assert agreement[-1] >= 0.95  # ...to (nearly) the nearest-catalog mapping
    assert (result.indices == best).mean() >= 0.95
    assert errors[-1] < best_err + 0.02
    assert math.isfinite(result.history[-1]["loss"])


def test_flipped_sign_would_diverge() -> None:
    """Sanity of the oracle itself: ascending the same gradient moves away from z*."""
    alphas = _alphas()
    target = torch.zeros(1, 3, 2, 2)
    unet = AnalyticDenoiser(target, alphas)
    z = torch.ones(1, 3, 2, 2)
    t = 500
    a = float(alphas[t])
    eps = torch.randn(1, 3, 2, 2, generator=torch.Generator().manual_seed(0))
    z_t = math.sqrt(a) * z + math.sqrt(1 - a) * eps
    (eps_hat,) = unet(torch.cat([z_t, z_t]), torch.tensor([t, t]))
    grad = (1 - a) * (eps_hat[1:] - eps)
    # grad points from z* to z: a descent step (z − lr·grad) gets closer to z*.
    assert float(((z - 0.1 * grad) - target).norm()) < float((z - target).norm())
