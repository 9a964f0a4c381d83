"""Latent score distillation (SDS) — SD-πXL's objective.

Per step, for a Gumbel-softmax render ``x`` of the generator:

1. upsample ``x`` (bilinear) to the model's working resolution and augment it — the same
   random draw also warps the ControlNet images;
2. encode it with gradient: ``z = Enc(2x − 1) · scaling_factor`` (TAESD/TAESDXL by default);
3. draw ``t ~ U{⌊T·t_min⌋ … ⌊T·t_max⌋}`` with ``t_max`` going linearly 0.98 → 0.8 over the first
   half of the run, and noise ``ε``; ``z_t = √ᾱ_t z + √(1 − ᾱ_t) ε``;
4. one frozen UNet call (with the ControlNets' residuals) on the batch [negative, prompt],
   under ``no_grad`` — no third, unused branch;
5. ``grad = w(t)·[(ε_c − ε) + s·(ε_c − ε_u)]`` with ``w(t) = 1 − ᾱ_t`` and ``s = 40``;
6. return ``0.5·Σ(z − sg(z − grad))²``, whose gradient with respect to ``z`` is ``grad``.

The optimizer loop adds the FFT smoothness term, AdamW, warm-up, clipping and re-centering.
All random numbers are drawn from the loop's CPU generator, in a fixed order.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from craftpix.engines.sds.augment import AugmentDraw, apply_augment, sample_augment
from craftpix.engines.sds.conditioning import TextConditioning
from craftpix.engines.sds.settings import SDSConfig

_DEFAULT_CONFIG = SDSConfig()


def t_max_at(step: int, total: int, config: SDSConfig = _DEFAULT_CONFIG) -> float:
    """Upper bound of the timestep fraction at ``step`` of ``total`` (linear annealing)."""
    span = config.anneal_fraction * total
    frac = 1.0 if span <= 0 else min(1.0, step / span)
    return config.t_max_start + (config.t_max_end - config.t_max_start) * frac


def timestep_bounds(
    step: int, total: int, num_train_timesteps: int = 1000, config: SDSConfig = _DEFAULT_CONFIG
) -> tuple[int, int]:
    """Inclusive integer range ``(lo, hi)`` the step's timestep is drawn from."""
    n = num_train_timesteps
    lo = int(math.floor(n * config.t_min))
    hi = min(n - 1, int(math.floor(n * t_max_at(step, total, config) + 1e-9)))
    return lo, max(lo, hi)


def sample_timestep(
    rng: torch.Generator, step: int, total: int, num_train_timesteps: int = 1000,
    config: SDSConfig = _DEFAULT_CONFIG,
) -> int:
    lo, hi = timestep_bounds(step, total, num_train_timesteps, config)
    return int(torch.randint(lo, hi + 1, (), generator=rng))


def sds_gradient(
    eps_uncond: torch.Tensor, eps_cond: torch.Tensor, noise: torch.Tensor, alpha_bar: float,
    guidance_scale: float, weighting: str = "1-alpha",
) -> torch.Tensor:
    """``w(t)·[(ε_c − ε) + s·(ε_c − ε_u)]`` — the SDS gradient with respect to the latent."""
    w = 1.0 - alpha_bar if weighting == "1-alpha" else 1.0
    grad = w * ((eps_cond - noise) + guidance_scale * (eps_cond - eps_uncond))
    return torch.nan_to_num(grad, nan=0.0, posinf=0.0, neginf=0.0)


def sds_loss(z: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """``0.5·Σ(z − sg(z − grad))²``: a scalar whose gradient in ``z`` is exactly ``grad``."""
    target = (z - grad).detach()
    return 0.5 * F.mse_loss(z, target, reduction="sum")


# --- the image encoder -----------------------------------------------------------------------


class LatentEncoder:
    """``z = (Enc(2x − 1) − shift) · scaling_factor`` for AutoencoderTiny or AutoencoderKL.

    Any other module with an ``encode`` method returning a tensor (or an object with
    ``latents``) works too; tests use that for a known, linear "VAE".
    """

    def __init__(self, vae: Any, dtype: torch.dtype | None = None) -> None:
        self.vae = vae
        config = getattr(vae, "config", None)
        self.scaling = float(getattr(config, "scaling_factor", 1.0) or 1.0)
        self.shift = float(getattr(config, "shift_factor", 0.0) or 0.0)
        self.dtype = dtype

    def __call__(self, x: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        inp = 2.0 * x - 1.0
        if self.dtype is not None:
            inp = inp.to(self.dtype)
        out = self.vae.encode(inp)
        if hasattr(out, "latent_dist"):  # AutoencoderKL: sample with our own noise
            dist = out.latent_dist
            noise = torch.randn(dist.mean.shape, generator=rng).to(dist.mean)
            z = dist.mean + dist.std * noise
        elif hasattr(out, "latents"):
            z = out.latents
        elif isinstance(out, tuple):
            z = out[0]
        else:
            z = out
        return ((z.float() - self.shift) * self.scaling)


# --- ControlNets -------------------------------------------------------------------------------


@dataclass
class ControlInput:
    """One ControlNet, its control image ``(1, 3, H, W)`` in [0, 1] and its weight."""

    name: str
    model: Any
    image: torch.Tensor
    scale: float


# --- the objective -------------------------------------------------------------------------------


class SDSObjective:
    """The SDS loss for :func:`craftpix.engines.sds.optimize.optimize`.

    ``unet`` is called once per step as diffusers' ``UNet2DConditionModel`` (batch 2:
    [negative, prompt]); ``encoder`` maps a [0, 1] image batch to latents with gradient;
    ``alphas_cumprod`` is the noise schedule's ᾱ (length T).
    """

    def __init__(
        self,
        *,
        unet: Any,
        encoder: Callable[[torch.Tensor, torch.Generator], torch.Tensor],
        alphas_cumprod: torch.Tensor,
        text: TextConditioning,
        size: tuple[int, int],
        config: SDSConfig = _DEFAULT_CONFIG,
        controls: Sequence[ControlInput] = (),
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
        prediction_type: str = "epsilon",
    ) -> None:
        if prediction_type not in ("epsilon", "v_prediction"):
            raise ValueError(f"unsupported prediction type {prediction_type!r}")
        self.unet = unet
        self.encoder = encoder
        self.alphas_cumprod = alphas_cumprod.detach().double().cpu()
        self.num_train_timesteps = len(self.alphas_cumprod)
        self.device = torch.device(device)
        self.dtype = dtype
        self.text = text.to(self.device, dtype)
        self.size = size
        self.config = config
        self.controls = [
            ControlInput(c.name, c.model, c.image.to(self.device, torch.float32), c.scale)
            for c in controls if c.scale > 0
        ]
        self.prediction_type = prediction_type
        self.last: dict[str, float] = {}

    # The pieces, separately testable ------------------------------------------------------------
    def controls_active(self, step: int, total: int) -> bool:
        frac = step / max(1, total)
        return bool(self.controls) and self.config.control_start <= frac < self.config.control_end

    @torch.no_grad()
    def predict_noise(
        self, z_t: torch.Tensor, t: int, draw: AugmentDraw, use_controls: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(ε_u, ε_c) from ONE batched UNet call on [negative, prompt]."""
        latents = torch.cat([z_t, z_t]).to(self.dtype)
        timesteps = torch.full((2,), t, device=self.device, dtype=torch.long)
        added = self.text.added_cond_kwargs
        down: list[torch.Tensor] | None = None
        mid: torch.Tensor | None = None
        if use_controls:
            for c in self.controls:
                image = apply_augment(c.image, draw).to(self.dtype).expand(2, -1, -1, -1)
                d, m = c.model(latents, timesteps, encoder_hidden_states=self.text.hidden,
                               controlnet_cond=image, conditioning_scale=c.scale,
                               added_cond_kwargs=added, return_dict=False)
                down = list(d) if down is None else [a + b for a, b in zip(down, d, strict=True)]
                mid = m if mid is None else mid + m
        out = self.unet(latents, timesteps, encoder_hidden_states=self.text.hidden,
                        added_cond_kwargs=added, down_block_additional_residuals=down,
                        mid_block_additional_residual=mid, return_dict=False)[0].float()
        if self.prediction_type == "v_prediction":
            a = float(self.alphas_cumprod[t])
            out = math.sqrt(a) * out + math.sqrt(1.0 - a) * torch.cat([z_t, z_t]).float()
        eps_u, eps_c = out.chunk(2)
        return eps_u, eps_c

    def loss(
        self, render: torch.Tensor, step: int, total: int, rng: torch.Generator
    ) -> torch.Tensor:
        cfg = self.config
        x = render.to(self.device, torch.float32)
        x = F.interpolate(x, size=self.size, mode="bilinear", align_corners=False)
        draw = sample_augment(rng, cfg.augment)
        x = apply_augment(x, draw)
        z = self.encoder(x, rng)
        t = sample_timestep(rng, step, total, self.num_train_timesteps, cfg)
        noise = torch.randn(z.shape, generator=rng).to(z.device)
        a = float(self.alphas_cumprod[t])
        z_t = math.sqrt(a) * z.detach() + math.sqrt(1.0 - a) * noise
        eps_u, eps_c = self.predict_noise(z_t, t, draw, self.controls_active(step, total))
        grad = sds_gradient(eps_u, eps_c, noise, a, cfg.guidance_scale, cfg.weighting)
        self.last = {"t": float(t), "grad_norm": float(grad.norm())}
        return sds_loss(z, grad)
