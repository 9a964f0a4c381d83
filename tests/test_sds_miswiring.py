"""Tests that catch miswiring of the SDS path: each one fails for a specific, plausible bug.

* text-dependent oracle: the denoiser's target depends on the prompt, so a flipped guidance
  sign, swapped [negative, prompt] rows or an ignored text converge somewhere else;
* scale-sensitive: the raw gradient reaching the render equals the analytic one (a rescaled
  gradient, a wrong latent scaling, ``x`` instead of ``2x − 1``, a wrong w(t) all change it —
  Adam and clipping would hide them in a convergence test);
* v-prediction oracle with a real scheduler config (SD 2.x's);
* the Gumbel-softmax temperature: argmax frequencies must follow softmax(λ) for any τ;
* ``encode_text`` and the SDXL time ids against diffusers' own pipelines (tiny models);
* bf16/fp16 networks on the CPU against fp32.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from craftpix.engines.sds.conditioning import TextConditioning, encode_text, sdxl_time_ids
from craftpix.engines.sds.generator import Generator
from craftpix.engines.sds.objective import LatentEncoder, SDSObjective
from craftpix.engines.sds.optimize import OptimConfig, optimize
from craftpix.engines.sds.settings import AugmentConfig, SDSConfig

try:
    from tiny_models import tiny_paths, tiny_settings  # noqa: F401  (fixture)
except ImportError:  # tests/ imported as a package
    from tests.tiny_models import tiny_paths, tiny_settings  # noqa: F401

H = W = 8
RES = 32
PALETTE = np.array([[0, 0, 0], [1, 1, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0],
                    [0, 1, 1], [1, 0, 1], [0.5, 0.5, 0.5], [1, 0.5, 0]], dtype=np.float64)
NEGATIVE, PROMPT = 0.0, 1.0  # the text "embeddings" of the two rows: all zeros / all ones
#: SD 2.1 (768-v)'s scheduler/scheduler_config.json, trimmed to what sets the schedule.
SD21_SCHEDULER = {"_class_name": "DDIMScheduler", "beta_end": 0.012,
                  "beta_schedule": "scaled_linear", "beta_start": 0.00085,
                  "num_train_timesteps": 1000, "prediction_type": "v_prediction",
                  "set_alpha_to_one": False, "steps_offset": 1, "clip_sample": False}


class ScaledPoolVAE(torch.nn.Module):
    """A known affine encoder with SDXL's latent scaling: z = 0.13025·pool4(input)."""

    class config:  # noqa: N801  (read like a diffusers config)
        scaling_factor = 0.13025
        shift_factor = 0.0

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(x, 4)


def latent(image: torch.Tensor) -> torch.Tensor:
    """The expected latent of a [0, 1] image (1, 3, RES, RES), written out independently."""
    return 0.13025 * F.avg_pool2d(2 * image - 1, 4)


class TextOracle(torch.nn.Module):
    """ε̂ (or v̂) for data concentrated at a target that depends on the row's text."""

    def __init__(self, targets: dict[float, torch.Tensor], alphas: torch.Tensor,
                 v: bool = False) -> None:
        super().__init__()
        self.targets, self.alphas, self.v = targets, alphas, v

    def forward(self, sample, timestep, encoder_hidden_states=None, added_cond_kwargs=None,
                down_block_additional_residuals=None, mid_block_additional_residual=None,
                return_dict=False):
        a = self.alphas[timestep].float().view(-1, 1, 1, 1)
        z0 = torch.cat([self.targets[round(float(h.mean()))]
                        for h in encoder_hidden_states])
        eps = (sample - a.sqrt() * z0) / (1 - a).sqrt()
        return ((a.sqrt() * eps - (1 - a).sqrt() * z0) if self.v else eps,)


def _alphas(config: dict | None = None) -> torch.Tensor:
    from diffusers import DDPMScheduler

    return DDPMScheduler.from_config(config or {"beta_schedule": "scaled_linear",
                                                "beta_start": 0.00085,
                                                "beta_end": 0.012}).alphas_cumprod


def _up(image: np.ndarray) -> torch.Tensor:
    x = torch.tensor(image, dtype=torch.float32).permute(2, 0, 1)[None]
    return F.interpolate(x, size=(RES, RES), mode="bilinear", align_corners=False)


def _text() -> TextConditioning:
    return TextConditioning(hidden=torch.stack([torch.full((1, 8), NEGATIVE),
                                                torch.full((1, 8), PROMPT)]))


def _nearest(image: np.ndarray) -> np.ndarray:
    return ((image[:, :, None, :] - PALETTE[None, None]) ** 2).sum(-1).argmin(-1)


# --- text-dependent oracle ---------------------------------------------------------------------
def test_guided_target_is_reached_only_through_the_prompt_row() -> None:
    """Prompt target C, negative target U = C − (G − C)/s: the CFG fixed point is
    (1 + s)·z(C) − s·z(U) = z(G) (the encoder is affine), a catalog image unlike C's mapping.
    Ignoring the text (ε_c = ε_u) goes to C; a flipped sign or swapped rows elsewhere."""
    s = 40.0
    rng = np.random.default_rng(0)
    truth = rng.integers(0, len(PALETTE), size=(H, W))
    guided = PALETTE[truth]
    cond = 0.5 * guided + 0.5 * PALETTE[rng.integers(0, len(PALETTE), size=(H, W))]
    uncond = cond - (guided - cond) / s
    assert (_nearest(cond) == truth).mean() < 0.75  # C alone is not the answer

    alphas = _alphas()
    unet = TextOracle({PROMPT: latent(_up(cond)), NEGATIVE: latent(_up(uncond))}, alphas)
    objective = SDSObjective(unet=unet, encoder=LatentEncoder(ScaledPoolVAE()),
                             alphas_cumprod=alphas, text=_text(), size=(RES, RES),
                             config=SDSConfig(guidance_scale=s, augment=AugmentConfig.off()))
    gen = Generator.random(H, W, PALETTE, torch.Generator().manual_seed(1))
    result = optimize(gen, objective, OptimConfig(steps=500, warmup=10, fft_weight=0.0),
                      progress=False)
    assert (result.indices == truth).mean() >= 0.95


# --- scale-sensitive: the raw gradient ---------------------------------------------------------
def _raw_gradient_case(v: bool, alphas: torch.Tensor, scale: float = 40.0):
    rng = np.random.default_rng(3)
    cond = rng.uniform(0, 1, (H, W, 3))
    uncond = np.clip(cond + rng.normal(0, 0.1, cond.shape), 0, 1)
    zc, zu = latent(_up(cond)), latent(_up(uncond))
    unet = TextOracle({PROMPT: zc, NEGATIVE: zu}, alphas, v=v)
    objective = SDSObjective(
        unet=unet, encoder=LatentEncoder(ScaledPoolVAE()), alphas_cumprod=alphas, text=_text(),
        size=(RES, RES), config=SDSConfig(guidance_scale=scale, augment=AugmentConfig.off()),
        prediction_type="v_prediction" if v else "epsilon")
    render = torch.tensor(rng.uniform(0, 1, (1, 3, H, W)), dtype=torch.float32,
                          requires_grad=True)
    objective.loss(render, 10, 100, torch.Generator().manual_seed(5)).backward()
    t = int(objective.stats["t"])
    a = float(alphas[t])
    # Analytic: with exact denoisers the noise cancels, ε_c − ε = √ᾱ/√(1−ᾱ)·(z − z_c) and
    # ε_c − ε_u = √ᾱ/√(1−ᾱ)·(z_u − z_c); the SDS gradient in z is w(t) times their CFG sum.
    x = render.detach().clone().requires_grad_(True)
    z = latent(F.interpolate(x, size=(RES, RES), mode="bilinear", align_corners=False))
    k = (1 - a) * math.sqrt(a) / math.sqrt(1 - a)
    g = k * ((z - zc) + scale * (zu - zc))
    (z * g.detach()).sum().backward()
    return render.grad, x.grad


@pytest.mark.parametrize("v", [False, True], ids=["epsilon", "v-prediction (SD 2.1 config)"])
def test_raw_gradient_equals_the_analytic_one(v: bool) -> None:
    alphas = _alphas(SD21_SCHEDULER if v else None)
    got, want = _raw_gradient_case(v, alphas)
    assert want.abs().max() > 1e-4
    torch.testing.assert_close(got, want, rtol=2e-3, atol=1e-6)


def test_v_prediction_read_as_epsilon_is_caught() -> None:
    """The same v-model with ``prediction_type`` ignored gives another gradient."""
    alphas = _alphas(SD21_SCHEDULER)
    rng = np.random.default_rng(3)
    cond = rng.uniform(0, 1, (H, W, 3))
    zc = latent(_up(cond))
    unet = TextOracle({PROMPT: zc, NEGATIVE: zc}, alphas, v=True)
    grads = []
    for kind in ("v_prediction", "epsilon"):
        objective = SDSObjective(unet=unet, encoder=LatentEncoder(ScaledPoolVAE()),
                                 alphas_cumprod=alphas, text=_text(), size=(RES, RES),
                                 config=SDSConfig(augment=AugmentConfig.off()),
                                 prediction_type=kind)
        render = torch.full((1, 3, H, W), 0.3, requires_grad=True)
        objective.loss(render, 10, 100, torch.Generator().manual_seed(5)).backward()
        grads.append(render.grad)
    assert not torch.allclose(grads[0], grads[1], rtol=0.05)


# --- Gumbel-softmax temperature ----------------------------------------------------------------
@pytest.mark.parametrize("tau", [0.5, 1.5])
def test_gumbel_argmax_follows_softmax_of_logits_for_any_tau(tau: float) -> None:
    """argmax softmax((λ + G)/τ) ~ Cat(softmax λ) whatever τ (Gumbel-max); the misplaced
    softmax(λ/τ + G) would follow softmax(λ/τ) instead."""
    lam = torch.tensor([0.0, 1.0, 2.0])
    gen = Generator(PALETTE[:3], lam.expand(120, 120, 3).clone())
    w = gen.gumbel_weights(tau, torch.Generator().manual_seed(0))
    freq = torch.bincount(w.argmax(-1).flatten(), minlength=3).float() / w[..., 0].numel()
    assert torch.allclose(freq, torch.softmax(lam, 0), atol=0.015)


# --- item 1: the paper's initial logit scale ---------------------------------------------------
def test_rgb_l1_init_keeps_the_start_color_like_the_paper() -> None:
    """SD-πXL's RGB-L1 init is ≈3× stronger than CIEDE2000/100: a τ=1 Gumbel sample keeps
    the reference's nearest color in many more cells (the effect the default is chosen for)."""
    from PIL import Image

    from craftpix.palette import load_palette

    pal = load_palette("perler").rgb
    photo = Image.open(Path(__file__).resolve().parent.parent / "examples" / "astronaut.jpg")
    image = np.asarray(photo.convert("RGB").resize((40, 40), Image.Resampling.BOX)) / 255.0
    kept = {}
    for metric in ("rgb-l1", "de2000"):
        gen = Generator.from_image(image, pal, metric=metric)
        start = gen.indices()
        sample = gen.gumbel_weights(1.0, torch.Generator().manual_seed(0)).argmax(-1)
        kept[metric] = float((sample == start).float().mean())
        norm = float(gen.logits.norm(dim=-1).mean())
        kept[metric + " norm"] = norm
    assert kept["rgb-l1 norm"] > 2.5 * kept["de2000 norm"]
    assert kept["rgb-l1"] > 1.5 * kept["de2000"]


def test_sds_runs_start_from_rgb_l1_logits() -> None:
    from craftpix.engines.sds.settings import SDSSettings

    assert SDSSettings().init_metric == "rgb-l1"


# --- text conditioning against diffusers' pipelines ---------------------------------------------
def test_encode_text_and_time_ids_match_the_sdxl_pipeline(tiny_paths) -> None:
    from diffusers import StableDiffusionXLPipeline

    from craftpix.models.loading import load_components

    comps = load_components(tiny_settings(tiny_paths, "sdxl"), controls=())
    pipe = StableDiffusionXLPipeline(
        vae=None, text_encoder=comps.text_encoders[0], text_encoder_2=comps.text_encoders[1],
        tokenizer=comps.tokenizers[0], tokenizer_2=comps.tokenizers[1], unet=comps.unet,
        scheduler=comps.scheduler, add_watermarker=False,
        force_zeros_for_empty_prompt=comps.zero_empty_negative)
    # craftpix's empty negative is the pipeline's default (None): zeros when the model says so.
    for negative in ("blurry, photo", ""):
        pe, ne, pp, npool = pipe.encode_prompt(
            "a red rose", device=torch.device("cpu"), num_images_per_prompt=1,
            do_classifier_free_guidance=True, negative_prompt=negative or None)
        ours = encode_text(comps.tokenizers, comps.text_encoders, "a red rose", negative,
                           sdxl=True, zero_empty_negative=comps.zero_empty_negative)
        torch.testing.assert_close(ours.hidden[1], pe[0].float())
        torch.testing.assert_close(ours.hidden[0], ne[0].float())
        torch.testing.assert_close(ours.pooled[1], pp[0].float())
        torch.testing.assert_close(ours.pooled[0], npool[0].float())
    ids = pipe._get_add_time_ids((96, 64), (0, 0), (96, 64), dtype=torch.float32,
                                 text_encoder_projection_dim=comps.text_encoders[1].config.projection_dim)
    assert torch.equal(sdxl_time_ids(96, 64), ids.repeat(2, 1))


def test_encode_text_matches_the_sd15_pipeline(tiny_paths) -> None:
    from diffusers import StableDiffusionPipeline

    from craftpix.models.loading import load_components

    comps = load_components(tiny_settings(tiny_paths, "sd15"), controls=())
    pipe = StableDiffusionPipeline(
        vae=None, text_encoder=comps.text_encoders[0], tokenizer=comps.tokenizers[0],
        unet=comps.unet, scheduler=comps.scheduler, safety_checker=None,
        feature_extractor=None, requires_safety_checker=False)
    pe, ne = pipe.encode_prompt("a red rose", torch.device("cpu"), 1, True,
                                negative_prompt="blurry")
    ours = encode_text(comps.tokenizers, comps.text_encoders, "a red rose", "blurry", sdxl=False)
    torch.testing.assert_close(ours.hidden[1], pe[0].float())
    torch.testing.assert_close(ours.hidden[0], ne[0].float())


# --- reduced precision on the CPU ---------------------------------------------------------------
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=["bf16", "fp16"])
def test_reduced_precision_gradient_agrees_with_fp32(tiny_paths, dtype) -> None:
    """The real (tiny) UNet and TAESD in bf16/fp16 on the CPU: the logits' gradient points the
    same way as in fp32 (cosine), the encoder never runs in fp16."""
    from craftpix.models.loading import encoder_dtype, load_components

    settings = tiny_settings(tiny_paths, "sdxl")
    grads = {}
    for dt in (torch.float32, dtype):
        comps = load_components(settings, controls=(), dtype=torch.float32)
        comps.unet.to(dt)
        vae_dtype = encoder_dtype(comps.vae, dt)
        assert vae_dtype != torch.float16
        comps.vae.to(vae_dtype)
        text = encode_text(comps.tokenizers, comps.text_encoders, "a red rose", "", sdxl=True)
        text.time_ids = sdxl_time_ids(64, 64)
        obj = SDSObjective(unet=comps.unet, encoder=LatentEncoder(comps.vae, dtype=vae_dtype),
                           alphas_cumprod=comps.alphas_cumprod, text=text, size=(64, 64),
                           config=SDSConfig(augment=AugmentConfig.off()), dtype=dt)
        gen = Generator.random(8, 8, PALETTE, torch.Generator().manual_seed(0))
        render = gen.gumbel(1.0, torch.Generator().manual_seed(1))
        try:
            obj.loss(render, 3, 10, torch.Generator().manual_seed(2)).backward()
        except RuntimeError as exc:  # an op without a CPU kernel in this dtype
            pytest.skip(f"{dt} on this CPU: {exc}")
        grads[dt] = gen.logits.grad.flatten()
    cos = F.cosine_similarity(grads[torch.float32], grads[dtype], dim=0)
    assert float(cos) > 0.95, float(cos)
