"""Latent score distillation (SDS) — SD-πXL's objective.

Per step, for a Gumbel-softmax render ``x`` of the generator:

1. upsample ``x`` (bilinear) to the pattern's box on the model-side canvas (a whole number of
   pixels per cell; a pattern wider than the model's trained aspect ratio is letterboxed with
   mid-gray) and augment it — the same random draw also warps the ControlNet images and the
   canvas mask;
2. encode it with gradient: ``z = Enc(2x − 1) · scaling_factor`` (TAESD/TAESDXL by default);
3. draw ``t ~ U{⌊T·t_min⌋ … ⌊T·t_max⌋}`` with ``t_max`` going linearly 0.98 → 0.8 over the first
   half of the run, and noise ``ε``; ``z_t = √ᾱ_t z + √(1 − ᾱ_t) ε``;
4. one frozen UNet call (with the ControlNets' residuals) on the batch [negative, prompt],
   under ``no_grad`` — no third, unused branch;
5. ``grad = w(t)·[(ε_c − ε) + s·(ε_c − ε_u)]`` with ``w(t) = 1 − ᾱ_t`` and ``s = 40``, times
   the fraction of each latent that covers the pattern (padding gets no gradient);
6. return ``0.5·Σ(z − sg(z − grad))²``, whose gradient with respect to ``z`` is ``grad``.

The optimizer loop adds the FFT smoothness term, AdamW, warm-up, clipping and re-centering.
Scalars (t, the augmentation) come from the loop's CPU generator, the latent noise from its
device generator; nothing in a step waits for the device. The UNet's output is checked for
NaN/inf on the device; the count is read every ``check_every`` steps: repeated non-finite
steps upcast fp16 networks once (to bf16 where supported, else fp32), then stop the run.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from craftpix.engines.sds.augment import AugmentDraw, apply_augment, sample_augment
from craftpix.engines.sds.conditioning import Canvas, TextConditioning
from craftpix.engines.sds.settings import SDSConfig
from craftpix.errors import CraftpixError

_DEFAULT_CONFIG = SDSConfig()
#: What the canvas around a letterboxed pattern is filled with: sRGB 0.5, i.e. 0 in the
#: encoder's [-1, 1] input range.
PAD_GRAY = 0.5


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
    """``w(t)·[(ε_c − ε) + s·(ε_c − ε_u)]`` — the SDS gradient with respect to the latent.

    Computed in float32 whatever the inputs (ε_c − ε_u is a small difference of large
    numbers). Non-finite values are returned as they are: callers decide (see
    :class:`SDSObjective`).
    """
    w = 1.0 - alpha_bar if weighting == "1-alpha" else 1.0
    eps_c, eps_u, noise = eps_cond.float(), eps_uncond.float(), noise.float()
    return w * ((eps_c - noise) + guidance_scale * (eps_c - eps_u))


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

    def __call__(self, x: torch.Tensor, rng: torch.Generator | None) -> torch.Tensor:
        """Latents ``(B, C, H/f, W/f)`` float32 of images ``x`` ``(B, 3, H, W)`` in [0, 1].

        ``rng`` samples AutoencoderKL's posterior (on ``rng``'s device). The encoder runs in
        ``dtype`` (never fp16 from :func:`craftpix.models.loading.encoder_dtype`: its backward
        carries gradients of ≈1e-5 that fp16 flushes to zero without loss scaling).
        """
        inp = 2.0 * x - 1.0
        if self.dtype is not None:
            inp = inp.to(self.dtype)
        out = self.vae.encode(inp)
        if hasattr(out, "latent_dist"):  # AutoencoderKL: sample with our own noise
            dist = out.latent_dist
            where = rng.device if rng is not None else dist.mean.device
            noise = torch.randn(dist.mean.shape, generator=rng, device=where).to(dist.mean)
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


class NonFiniteOutput(CraftpixError):
    """The diffusion model kept returning NaN/inf, even at a wider precision."""


class SDSObjective:
    """The SDS loss for :func:`craftpix.engines.sds.optimize.optimize`.

    ``unet`` is called once per step as diffusers' ``UNet2DConditionModel`` (batch 2:
    [negative, prompt]); ``encoder`` maps a [0, 1] image batch to latents with gradient;
    ``alphas_cumprod`` is the noise schedule's ᾱ (length T). ``size`` is the model-side
    :class:`~craftpix.engines.sds.conditioning.Canvas` (or a pixel size (h, w) the render is
    stretched to fill); control images must be canvas-sized.

    A step whose UNet output is not finite contributes no gradient (the loop still applies
    the smoothness term). The non-finite steps are counted on the device and read every
    ``check_every`` steps and after the last one: ``max_nonfinite`` or more in a window upcast
    fp16 networks (to ``upcast_dtype``) once with a warning through ``on_warning``; if it
    happens again, at the last step, or the networks are not fp16, :class:`NonFiniteOutput`
    stops the run with one line.
    """

    uses_noise_rng = True

    def __init__(
        self,
        *,
        unet: Any,
        encoder: Callable[[torch.Tensor, torch.Generator | None], torch.Tensor],
        alphas_cumprod: torch.Tensor,
        text: TextConditioning,
        size: tuple[int, int] | Canvas,
        config: SDSConfig = _DEFAULT_CONFIG,
        controls: Sequence[ControlInput] = (),
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
        prediction_type: str = "epsilon",
        check_every: int = 10,
        max_nonfinite: int = 2,
        upcast_dtype: torch.dtype = torch.float32,
        on_warning: Callable[[str], None] | None = None,
        model_name: str = "the diffusion model",
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
        self.canvas = Canvas.of(size)
        self.size = self.canvas.size
        self._mask = self.canvas.mask(self.device) if self.canvas.padded else None
        self.config = config
        self.controls = [
            ControlInput(c.name, c.model, c.image.to(self.device, torch.float32), c.scale)
            for c in controls if c.scale > 0
        ]
        for c in self.controls:
            if tuple(c.image.shape[-2:]) != self.canvas.size:
                raise ValueError(f"the {c.name} control image is {tuple(c.image.shape[-2:])}, "
                                 f"the canvas {self.canvas.size}")
        self.prediction_type = prediction_type
        self.check_every, self.max_nonfinite = check_every, max_nonfinite
        self.upcast_dtype = upcast_dtype
        self.on_warning = on_warning
        self.model_name = model_name
        self.upcasts = 0
        self._nonfinite = torch.zeros((), dtype=torch.int32, device=self.device)
        #: The last step's t and ‖grad‖ (tensors: read by the loop in batches, no sync).
        self.stats: dict[str, Any] = {}

    # The pieces, separately testable ------------------------------------------------------------
    def controls_active(self, step: int, total: int) -> bool:
        frac = step / max(1, total)
        return bool(self.controls) and self.config.control_start <= frac < self.config.control_end

    @torch.no_grad()
    def predict_noise(
        self, z_t: torch.Tensor, t: int, draw: AugmentDraw, use_controls: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(ε_u, ε_c) in float32 from ONE batched UNet call on [negative, prompt].

        v-prediction models' output is turned into ε with ε = √ᾱ_t·v + √(1 − ᾱ_t)·z_t
        (Salimans & Ho 2022, from z_t = √ᾱ z + √(1−ᾱ) ε and v = √ᾱ ε − √(1−ᾱ) z).
        """
        if self.device.type == "cuda":
            # A new step for compiled networks replayed as CUDA graphs: last step's outputs
            # (already consumed) may be overwritten. A no-op for anything else.
            torch.compiler.cudagraph_mark_step_begin()
        latents = torch.cat([z_t, z_t]).to(self.dtype)
        timesteps = torch.full((2,), t, device=self.device, dtype=torch.long)
        added = self.text.added_cond_kwargs
        down: list[torch.Tensor] | None = None
        mid: torch.Tensor | None = None
        if use_controls and self.controls:
            # One warp for all control images (they share the canvas), split per ControlNet.
            images = apply_augment(torch.cat([c.image for c in self.controls]), draw)
            for c, image in zip(self.controls, images.to(self.dtype).split(1), strict=True):
                image = image.expand(2, -1, -1, -1)
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
        self, render: torch.Tensor, step: int, total: int, rng: torch.Generator,
        noise_rng: torch.Generator | None = None,
    ) -> torch.Tensor:
        """``0.5·Σ(z − sg(z − grad))²`` for this step's render ``(1, 3, h, w)`` in [0, 1].

        ``rng`` (CPU) draws the augmentation and t; ``noise_rng`` (default: ``rng``) the
        latent noise, on its own device.
        """
        cfg = self.config
        noise_rng = rng if noise_rng is None else noise_rng
        x = render.to(self.device, torch.float32)
        x = F.interpolate(x, size=self.canvas.content, mode="bilinear", align_corners=False)
        x = self.canvas.place(x, PAD_GRAY)
        draw = sample_augment(rng, cfg.augment)
        x = apply_augment(x, draw)
        z = self.encoder(x, noise_rng)
        t = sample_timestep(rng, step, total, self.num_train_timesteps, cfg)
        noise = torch.randn(z.shape, generator=noise_rng, device=noise_rng.device).to(z.device)
        a = float(self.alphas_cumprod[t])
        z_t = math.sqrt(a) * z.detach() + math.sqrt(1.0 - a) * noise
        eps_u, eps_c = self.predict_noise(z_t, t, draw, self.controls_active(step, total))
        grad = sds_gradient(eps_u, eps_c, noise, a, cfg.guidance_scale, cfg.weighting)
        finite = torch.isfinite(grad).all()
        grad = torch.where(finite, grad, torch.zeros_like(grad))  # no sync: decided on device
        if self._mask is not None:
            grad = grad * self.latent_mask(draw, tuple(z.shape[-2:]))
        self._nonfinite += (~finite).to(self._nonfinite.dtype)
        self.stats = {"t": float(t), "grad_norm": grad.norm()}
        last = step + 1 == total  # a short run, or the tail of one, is checked too
        if self.check_every > 0 and ((step + 1) % self.check_every == 0 or last):
            self.check_finite(steps=(step + 1) % self.check_every or self.check_every,
                              final=last)
        return sds_loss(z, grad)

    def latent_mask(self, draw: AugmentDraw, latent_size: tuple[int, ...]) -> torch.Tensor:
        """``(1, 1, h, w)``: the fraction of each latent's pixels that show the pattern, after
        this step's augmentation (the canvas mask warped like the render, then averaged)."""
        assert self._mask is not None
        m = self._mask if draw.identity else apply_augment(self._mask, draw)
        return F.adaptive_avg_pool2d(m, latent_size)

    def check_finite(self, steps: int | None = None, final: bool = False) -> None:
        """Read the non-finite count of the last ``steps`` steps (default ``check_every``; one
        host sync) and upcast or stop; see the class doc. ``final``: the run has no step left
        to continue in, so too many non-finite steps stop it even in fp16."""
        bad = int(self._nonfinite)
        self._nonfinite.zero_()
        window = self.check_every if steps is None else steps
        if bad < min(self.max_nonfinite, max(1, window)):
            return
        if self.dtype == torch.float16 and self.upcasts == 0 and not final:
            self.upcast(self.upcast_dtype)
            if self.on_warning is not None:
                self.on_warning(f"{self.model_name} overflowed in fp16 ({bad} NaN/inf steps); "
                                f"continuing in {str(self.upcast_dtype).replace('torch.', '')}")
            return
        raise NonFiniteOutput(
            f"{self.model_name} returned NaN/inf at {bad} of the last {window} steps "
            f"in {str(self.dtype).replace('torch.', '')}: the model (or LoRA) is broken or "
            "unsupported; try --dtype fp32 or another model")

    def upcast(self, dtype: torch.dtype) -> None:
        """Run the UNet and ControlNets (and their conditioning) in ``dtype`` from now on."""
        self.unet.to(dtype=dtype)
        for c in self.controls:
            c.model.to(dtype=dtype)
        self.text = self.text.to(self.device, dtype)
        self.dtype = dtype
        self.upcasts += 1
