"""Reference first: candidate images from the prompt with the model already loaded, ranked.

SD-πXL's code can start a prompt-only run from a reference: it generates images from the
prompt with the same SDXL model, keeps the best by CLIP score and initializes the logits from
it. craftpix does the same with the networks it loaded for score distillation — a diffusers
text-to-image pipeline is built around them (components passed in, nothing downloaded): the
UNet, the model's scheduler class, the run's text conditioning (the template-filled prompt and
its negative, encoded once) and the run's image decoder (TAESD/TAESDXL by default). A few-step
LoRA (LCM-LoRA) may be loaded for the candidates only (:func:`craftpix.models.lora.lora_adapter`):
it is unloaded before the score distillation, which sees the base model's weights.

Ranking goes through the :class:`Scorer` interface: :class:`DiffusionScorer` (the default,
from the loaded models: how much the prompt lowers the UNet's denoising error on the image,
the "diffusion classifier" score of Li et al. 2023, arXiv 2303.16203) or :class:`ClipScorer`
(CLIP score, Hessel et al. 2021: 100 · cos(image, text) with an optional CLIP model).

Heavy (torch) module: imported by :mod:`craftpix.engines.sds.run` after every model is located.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from craftpix.engines.sds.conditioning import Canvas, TextConditioning
from craftpix.engines.sds.objective import LatentEncoder
from craftpix.errors import InputError
from craftpix.models.loading import SDSComponents

#: Timesteps (of 1000) at which :class:`DiffusionScorer` compares the denoising errors: spread
#: over the schedule, as the diffusion-classifier score averages over t.
SCORE_TIMESTEPS = (200, 400, 600, 800)
_SCORE_SEED = 0x5C0E


@dataclass
class Candidate:
    """One generated reference: the image of the pattern's box, its seed and its score."""

    image: Image.Image  # RGB, the canvas's content box (the pattern's aspect ratio)
    seed: int
    score: float | None = None


class Scorer(Protocol):
    """Ranks candidates: higher is a better match of ``prompt``; one float per image."""

    name: str

    def __call__(self, images: Sequence[Image.Image], prompt: str) -> list[float]: ...


def rank(candidates: Sequence[Candidate], scorer: Scorer, prompt: str) -> list[Candidate]:
    """``candidates`` scored by ``scorer`` (scores set in place), best first.

    Ties keep the generation order (the sort is stable). Raises :class:`InputError` when the
    scorer returns a different number of scores or a non-finite one.
    """
    scores = [float(s) for s in scorer([c.image for c in candidates], prompt)]
    if len(scores) != len(candidates):
        raise InputError(f"the {scorer.name} scorer gave {len(scores)} scores for "
                         f"{len(candidates)} candidates")
    if not np.isfinite(scores).all():
        raise InputError(f"the {scorer.name} scorer gave a non-finite score (NaN or inf)")
    for cand, score in zip(candidates, scores, strict=True):
        cand.score = score
    return sorted(candidates, key=lambda c: -float(c.score))  # type: ignore[arg-type]


# --- generating ---------------------------------------------------------------------------------
def generation_pipeline(comps: SDSComponents, scheduler: Any) -> Any:
    """A diffusers text-to-image pipeline around the loaded UNet (components passed in).

    No text encoders (the run's own conditioning is passed as embeddings, so the encoders never
    visit the GPU again) and no VAE (latents come out and the run's decoder decodes them): the
    pipeline's device is the UNet's. ``scheduler`` is a fresh scheduler instance.
    """
    from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline

    if comps.sdxl:
        pipe = StableDiffusionXLPipeline(
            vae=None, text_encoder=None, text_encoder_2=None, tokenizer=None, tokenizer_2=None,
            unet=comps.unet, scheduler=scheduler, add_watermarker=False)
    else:
        pipe = StableDiffusionPipeline(
            vae=None, text_encoder=None, tokenizer=None, unet=comps.unet, scheduler=scheduler,
            safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe.vae_scale_factor = comps.vae_scale
    pipe.set_progress_bar_config(disable=True)
    return pipe


def candidate_scheduler(comps: SDSComponents, fast: bool) -> Any:
    """A new scheduler from the model's schedule: the LCM scheduler for a few-step LoRA, else
    Euler (SDXL's and most SD models' default sampler). The run's own scheduler (whose ᾱ_t the
    score distillation reads) is never touched."""
    from diffusers import EulerDiscreteScheduler, LCMScheduler

    cls = LCMScheduler if fast else EulerDiscreteScheduler
    return cls.from_config(comps.scheduler.config)


@torch.no_grad()
def decode_latents(vae: Any, latents: torch.Tensor) -> torch.Tensor:
    """Images ``(B, 3, H, W)`` float32 in [0, 1] from latents, inverting
    :class:`~craftpix.engines.sds.objective.LatentEncoder` (``z / scaling + shift``)."""
    enc = LatentEncoder(vae)
    dtype = next(vae.parameters()).dtype
    z = latents.to(dtype) / enc.scaling + enc.shift
    out = vae.decode(z)
    x = out.sample if hasattr(out, "sample") else out[0]
    return ((x.float() + 1.0) / 2.0).clamp(0.0, 1.0)


def _to_image(x: torch.Tensor) -> Image.Image:
    arr = x.permute(1, 2, 0).cpu().numpy()
    return Image.fromarray(np.clip(np.rint(arr * 255), 0, 255).astype(np.uint8))


def generate_candidates(
    comps: SDSComponents, cond: TextConditioning, canvas: Canvas, *, count: int, steps: int,
    guidance: float, seed: int, device: torch.device, dtype: torch.dtype, fast: bool = False,
    on_candidate: Callable[[int], None] | None = None,
) -> list[Candidate]:
    """``count`` images of the prompt, each the canvas's content box, one per seed
    ``seed, seed + 1, …`` (each reproducible on its own).

    ``cond`` is the run's ``[negative, prompt]`` conditioning; ``steps`` denoising steps at
    classifier-free guidance ``guidance`` (≤ 1: none, as few-step LoRAs sample); ``fast``
    samples with the LCM scheduler. The UNet must already be on ``device`` in ``dtype``.
    ``on_candidate(k)`` is called after candidate ``k`` (1-based). Raises ``ValueError`` for a
    count or step number below 1.
    """
    if count < 1 or steps < 1:
        raise ValueError("candidates and their steps must be at least 1")
    pipe = generation_pipeline(comps, candidate_scheduler(comps, fast))
    c = cond.to(device, dtype)
    kwargs: dict[str, Any] = dict(
        prompt_embeds=c.hidden[1:2], negative_prompt_embeds=c.hidden[0:1],
        height=canvas.height, width=canvas.width, num_inference_steps=steps,
        guidance_scale=guidance, output_type="latent", return_dict=True)
    if comps.sdxl:
        assert c.pooled is not None
        kwargs.update(pooled_prompt_embeds=c.pooled[1:2],
                      negative_pooled_prompt_embeds=c.pooled[0:1])
    vae_device = next(comps.vae.parameters()).device
    h, w = canvas.content
    out: list[Candidate] = []
    for k in range(count):
        gen = torch.Generator(device=device).manual_seed(seed + k)
        latents = pipe(generator=gen, **kwargs).images
        image = decode_latents(comps.vae, latents.to(vae_device))[0]
        box = image[:, canvas.top:canvas.top + h, canvas.left:canvas.left + w]
        out.append(Candidate(_to_image(box), seed + k))
        if on_candidate is not None:
            on_candidate(k + 1)
    return out


# --- scoring ------------------------------------------------------------------------------------
def _image_tensor(image: Image.Image, size: tuple[int, int]) -> torch.Tensor:
    """``(1, 3, h, w)`` float32 in [0, 1] of ``image`` resized to ``size`` = (h, w)."""
    rgb = image.convert("RGB")
    if rgb.size != (size[1], size[0]):
        rgb = rgb.resize((size[1], size[0]), Image.Resampling.BICUBIC)
    arr = np.asarray(rgb, dtype=np.float32) / 255.0
    return torch.from_numpy(arr).permute(2, 0, 1).unsqueeze(0)


class DiffusionScorer:
    """How much the prompt explains an image, from the loaded UNet and encoder.

    score = mean over t ∈ :data:`SCORE_TIMESTEPS` of ‖ε − ε̂(z_t, t, ∅)‖² − ‖ε − ε̂(z_t, t, y)‖²
    (per element; ε the target of the model's prediction type), with the same noise for every
    image: the diffusion-classifier score (Li et al. 2023). Higher: the prompt lowers the
    denoising error more. The image is placed on the run's canvas (padding mid-gray, as the
    score distillation sees it).
    """

    name = "diffusion"

    def __init__(self, comps: SDSComponents, cond: TextConditioning, canvas: Canvas,
                 device: torch.device, dtype: torch.dtype,
                 timesteps: Sequence[int] = SCORE_TIMESTEPS, seed: int = 0) -> None:
        self.comps, self.canvas, self.device, self.dtype = comps, canvas, device, dtype
        self.cond = cond.to(device, dtype)
        n = len(comps.alphas_cumprod)
        self.timesteps = [min(int(t), n - 1) for t in timesteps]
        self.seed = seed

    @torch.no_grad()
    def __call__(self, images: Sequence[Image.Image], prompt: str) -> list[float]:
        del prompt  # the run's conditioning already holds it
        comps, canvas = self.comps, self.canvas
        vae_dtype = next(comps.vae.parameters()).dtype
        encoder = LatentEncoder(comps.vae, dtype=vae_dtype)
        vae_device = next(comps.vae.parameters()).device
        abar = comps.alphas_cumprod.to(torch.float32)
        rng = torch.Generator().manual_seed(self.seed + _SCORE_SEED)
        noises: list[torch.Tensor] | None = None
        scores = []
        for image in images:
            x = canvas.place(_image_tensor(image, canvas.content), 0.5)
            z = encoder(x.to(vae_device), torch.Generator(device=vae_device).manual_seed(
                self.seed)).to(self.device)
            if noises is None:  # the same noise for every image
                noises = [torch.randn(z.shape, generator=rng).to(self.device)
                          for _ in self.timesteps]
            total = 0.0
            for t, eps in zip(self.timesteps, noises, strict=True):
                a = float(abar[t])
                zt = a ** 0.5 * z + (1 - a) ** 0.5 * eps
                target = eps if comps.prediction_type == "epsilon" else (
                    a ** 0.5 * eps - (1 - a) ** 0.5 * z)
                pred = self._predict(zt, t).float()
                err_uncond = F.mse_loss(pred[0:1], target).item()
                err_cond = F.mse_loss(pred[1:2], target).item()
                total += err_uncond - err_cond
            scores.append(total / len(self.timesteps))
        return scores

    def _predict(self, zt: torch.Tensor, t: int) -> torch.Tensor:
        batch = torch.cat([zt, zt]).to(self.dtype)
        added = self.cond.added_cond_kwargs
        timestep = torch.full((2,), t, device=self.device, dtype=torch.long)
        return self.comps.unet(batch, timestep, encoder_hidden_states=self.cond.hidden,
                               added_cond_kwargs=added, return_dict=False)[0]


class ClipScorer:
    """CLIP score (Hessel et al. 2021): 100 · cos(image embedding, text embedding), with a
    transformers CLIP model from a located folder (safetensors only, no remote code)."""

    name = "clip"

    def __init__(self, folder: str | Path, device: torch.device) -> None:
        from transformers import CLIPModel, CLIPProcessor

        self.model = CLIPModel.from_pretrained(folder, use_safetensors=True,
                                               trust_remote_code=False).eval().to(device)
        self.processor = CLIPProcessor.from_pretrained(folder, trust_remote_code=False)
        self.device = device

    @torch.no_grad()
    def __call__(self, images: Sequence[Image.Image], prompt: str) -> list[float]:
        inputs = self.processor(text=[prompt], images=[im.convert("RGB") for im in images],
                                return_tensors="pt", padding="max_length", truncation=True)
        inputs = {k: v.to(self.device) for k, v in inputs.items()}
        out = self.model(**inputs)
        img = F.normalize(out.image_embeds.float(), dim=-1)
        txt = F.normalize(out.text_embeds.float(), dim=-1)
        return (100.0 * (img @ txt.T)[:, 0]).cpu().tolist()

    def close(self) -> None:
        """Free the model (it is needed for the ranking only)."""
        self.model.to("cpu")
