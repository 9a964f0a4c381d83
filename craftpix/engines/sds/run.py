"""One score-distillation run, from settings to the optimized generator.

:func:`run_sds` builds (or takes) the frozen networks, the text and control conditioning and the
:class:`~craftpix.engines.sds.objective.SDSObjective`, initializes the generator (from the reference image
or at random), then hands everything to :func:`craftpix.engines.sds.optimize.optimize`, which owns the
steps, the progress bar, checkpoints and Ctrl-C.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import click
import numpy as np
import torch
from PIL import Image

from craftpix.engines.sds.conditioning import (
    TextConditioning,
    canny_image,
    depth_image,
    encode_text,
    module_device,
    sdxl_time_ids,
    working_size,
)
from craftpix.engines.sds.generator import Generator
from craftpix.engines.sds.objective import ControlInput, LatentEncoder, SDSObjective
from craftpix.engines.sds.optimize import ColorBudget, Hook, OptimConfig, OptimResult, optimize
from craftpix.engines.sds.prompts import build_prompts
from craftpix.engines.sds.settings import SDSSettings
from craftpix.errors import InputError
from craftpix.fileio import atomic_path, write_text
from craftpix.models.ids import canonical_model, is_local_path
from craftpix.models.loading import (
    SDSComponents,
    encoder_dtype,
    load_components,
    resolve_device,
    resolve_dtype,
)

__all__ = ["SDSComponents", "SDSSettings", "load_components", "run_sds", "RUN_FILE"]

RUN_FILE = "sds-run.json"
PREVIEW_DIR = "progress"
_INIT_SEED_OFFSET = 0x5EED  # the random logits use their own stream, not the loop's


def _warn(message: str) -> None:
    click.echo(f"warning: {message}", err=True)


def _digest(*arrays: Any) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(np.asarray(a, dtype=np.float32)).tobytes())
    return h.hexdigest()[:16]


def _image_digest(image: Image.Image | None) -> str | None:
    if image is None:
        return None
    rgb = image.convert("RGB")
    return hashlib.sha256(rgb.tobytes() + repr(rgb.size).encode()).hexdigest()[:16]


def run_fingerprint(
    settings: SDSSettings, *, prompt: str, negative: str, controls: list[str],
    image: Image.Image | None, reference_rgb: np.ndarray | None, palette_rgb: np.ndarray,
    height: int, width: int, colors: int | None, medium: str, steps: int, seed: int,
    smooth: float,
) -> dict[str, Any]:
    """What makes two runs "the same run" (device, precision and output cadence do not)."""

    def where(name: str | None) -> str | None:
        # A local folder or file is the same one from any working directory.
        if name and is_local_path(name):
            return str(Path(name).expanduser().resolve())
        return name

    fp: dict[str, Any] = {
        "engine": "sds", "model": where(canonical_model(settings.model)),
        "vae": where(settings.vae), "prompt": prompt,
        "negative": negative, "guidance_scale": settings.guidance_scale,
        "lora": where(settings.lora),
        "lora_scale": settings.lora_scale if settings.lora else None,
        "controls": {
            name: {"model": where(getattr(settings, f"controlnet_{name}")) or "default",
                   "weight": getattr(settings, f"{name}_weight")} for name in controls},
        "depth_model": where(settings.depth_model) if "depth" in controls else None,
        "height": height, "width": width, "palette": _digest(palette_rgb), "colors": colors,
        "medium": medium, "steps": steps, "seed": seed, "smooth": smooth,
        "reference": None if reference_rgb is None else _digest(reference_rgb),
        "image": _image_digest(image), "resolution": settings.resolution,
        "objective": asdict(settings.objective), "optim": settings.optim,
    }
    return json.loads(json.dumps(fp, default=str))


def _check_resume(folder: Path, fingerprint: dict[str, Any]) -> None:
    path = folder / RUN_FILE
    if not path.is_file():
        raise InputError(f"{folder} holds no {RUN_FILE}: not the folder of an sds run")
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None
    differ = sorted(k for k in set(saved) | set(fingerprint) if saved.get(k) != fingerprint.get(k))
    if differ:
        raise InputError(
            f"--resume {folder}: that run used different settings ({', '.join(differ)}); "
            "give the same options, or start a new run")


class PreviewWriter:
    """Hook writing the argmax pattern as a PNG every ``every`` steps (atomically)."""

    def __init__(self, folder: Path, every: int, cell_px: int | None = None) -> None:
        self.folder, self.every, self.cell_px = folder, every, cell_px

    def __call__(self, step: int, gen: Generator) -> None:
        if self.every <= 0 or (step + 1) % self.every:
            return
        rgb = gen.argmax()[0].permute(1, 2, 0).detach().cpu().numpy()
        img = Image.fromarray(np.clip(np.rint(rgb * 255), 0, 255).astype(np.uint8))
        k = self.cell_px or max(1, 512 // max(gen.height, gen.width))
        if k > 1:
            img = img.resize((gen.width * k, gen.height * k), Image.Resampling.NEAREST)
        self.folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(self.folder / f"step-{step + 1:06d}.png") as tmp:
            img.save(tmp, format="PNG")


# --- building the objective ---------------------------------------------------------------------
def _free(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()


def encode_prompt_pair(comps: SDSComponents, prompt: str, negative: str,
                       device: torch.device, size: tuple[int, int]) -> TextConditioning:
    """Text conditioning for [negative, prompt]; the encoders visit ``device`` only meanwhile."""
    homes = [module_device(m) for m in comps.text_encoders]
    try:
        for m in comps.text_encoders:
            m.to(device)
        cond = encode_text(comps.tokenizers, comps.text_encoders, prompt, negative,
                           sdxl=comps.sdxl, zero_empty_negative=comps.zero_empty_negative)
    finally:
        for m, home in zip(comps.text_encoders, homes, strict=True):
            m.to(home)
        _free(device)
    if comps.sdxl:
        cond.time_ids = sdxl_time_ids(*size)
    return cond


def control_inputs(comps: SDSComponents, image: Image.Image, size: tuple[int, int],
                   settings: SDSSettings, device: torch.device) -> list[ControlInput]:
    """The control images of the reference, computed once, with their ControlNets."""
    out = []
    if "canny" in comps.controlnets:
        out.append(ControlInput("canny", comps.controlnets["canny"], canny_image(image, size),
                                settings.canny_weight))
    if "depth" in comps.controlnets:
        if comps.depth_estimator is None or comps.depth_processor is None:
            raise InputError("the depth ControlNet needs a depth estimator")
        home = module_device(comps.depth_estimator)
        try:
            comps.depth_estimator.to(device)
            depth = depth_image(image, size, comps.depth_estimator, comps.depth_processor)
        finally:
            comps.depth_estimator.to(home)
            _free(device)
        out.append(ControlInput("depth", comps.controlnets["depth"], depth, settings.depth_weight))
    return out


def place_networks(comps: SDSComponents, device: torch.device, dtype: torch.dtype,
                   settings: SDSSettings) -> torch.dtype:
    """Put the per-step networks on ``device``; returns the encoder's dtype.

    The encoder stays in float32 when its config asks for it (SDXL's VAE overflows in fp16).
    With ``offload`` on CUDA the ControlNets and the UNet stay on the CPU and accelerate hooks
    move each one to the GPU when it runs (the previous one goes back).
    """
    vae_dtype = encoder_dtype(comps.vae, dtype)
    if hasattr(comps.vae, "to"):
        comps.vae.to(device=device, dtype=vae_dtype)
    nets = [*comps.controlnets.values(), comps.unet]
    if settings.attention_slicing:
        for net in nets:
            if hasattr(net, "set_attention_slice"):
                net.set_attention_slice("auto")
    if settings.offload and device.type == "cuda":
        from accelerate import cpu_offload_with_hook

        hook = None
        for net in nets:
            net.to(device="cpu", dtype=dtype)
            _, hook = cpu_offload_with_hook(net, device, prev_module_hook=hook)
    else:
        if settings.offload:
            _warn("--offload only matters on a GPU; ignored")
        for net in nets:
            net.to(device=device, dtype=dtype)
    _free(device)
    return vae_dtype


def run_sds(
    settings: SDSSettings,
    *,
    prompt: str | None,
    image: Image.Image | None,
    reference_rgb: np.ndarray | None,
    palette_rgb: np.ndarray,
    height: int,
    width: int,
    colors: int | None,
    medium: str,
    steps: int,
    seed: int,
    smooth: float,
    out_dir: Path,
    quiet: bool,
    components: SDSComponents | None = None,
) -> OptimResult:
    """Optimize a pattern with SD-πXL's score distillation and return the loop's result.

    ``image`` (the fitted reference, any size) drives the ControlNets; ``reference_rgb``
    (``(height, width, 3)`` float sRGB) initializes the logits; without them the logits start
    random and no ControlNet is used. ``colors`` < the catalog size prunes progressively to
    that many colors. ``components`` skips loading (tests, benchmarks, notebooks).
    """
    if not prompt or not prompt.strip():
        raise InputError("the sds engine needs --prompt (describe what to make)")
    palette = np.asarray(palette_rgb, dtype=np.float64)
    if palette.ndim != 2 or palette.shape[1] != 3 or len(palette) < 1:
        raise ValueError("palette_rgb must be (n, 3)")
    if reference_rgb is not None and np.asarray(reference_rgb).shape[:2] != (height, width):
        raise ValueError("reference_rgb must be (height, width, 3)")
    optim = OptimConfig(steps=steps, seed=seed, fft_weight=smooth, **settings.optim)
    if not math.isfinite(optim.fft_weight):  # before any model is loaded or file written
        raise InputError("--smooth must be a finite number")
    text, negative = build_prompts(prompt, medium=medium, template=settings.template,
                                   raw=settings.raw_prompt, negative=settings.negative_prompt)
    device = resolve_device(settings.device)
    dtype = resolve_dtype(settings.dtype, device)
    controls = [] if image is None else settings.controls

    out_dir = Path(out_dir)
    ckpt_dir = Path(settings.resume) if settings.resume is not None else out_dir
    fingerprint = run_fingerprint(
        settings, prompt=text, negative=negative, controls=controls, image=image,
        reference_rgb=reference_rgb, palette_rgb=palette, height=height, width=width,
        colors=colors, medium=medium, steps=steps, seed=seed, smooth=smooth)
    if settings.resume is not None:
        _check_resume(ckpt_dir, fingerprint)  # before any model is touched

    if components is None:
        components = load_components(settings, controls=controls, dtype=dtype)
    for note in components.notes:
        _warn(note)
    if device.type == "cpu":
        _warn("running the diffusion model on the CPU: this is very slow "
              "(minutes per step at full resolution); a CUDA GPU is recommended")

    resolution = settings.resolution or components.native_resolution
    size = working_size(height, width, resolution, components.size_multiple)
    cond = encode_prompt_pair(components, text, negative, device, size)
    control = control_inputs(components, image, size, settings, device) if image is not None else []
    vae_dtype = place_networks(components, device, dtype, settings)

    config = settings.objective
    if config.guidance_scale != settings.guidance_scale:
        config = replace(config, guidance_scale=settings.guidance_scale)
    objective = SDSObjective(
        unet=components.unet, encoder=LatentEncoder(components.vae, dtype=vae_dtype),
        alphas_cumprod=components.alphas_cumprod, text=cond, size=size, config=config,
        controls=control, device=device, dtype=dtype,
        prediction_type=components.prediction_type)

    if reference_rgb is not None:
        gen = Generator.from_image(np.asarray(reference_rgb, dtype=np.float64), palette)
    else:
        init_rng = torch.Generator().manual_seed(seed + _INIT_SEED_OFFSET)
        gen = Generator.random(height, width, palette, init_rng)
    gen = gen.to(device)

    hooks: list[Hook] = []
    if colors is not None and colors < len(palette):
        hooks.append(ColorBudget(colors, steps))
    if settings.preview_every:
        hooks.append(PreviewWriter(out_dir / PREVIEW_DIR, settings.preview_every))

    if settings.resume is None:
        ckpt_dir.mkdir(parents=True, exist_ok=True)
        write_text(ckpt_dir / RUN_FILE, json.dumps(fingerprint, indent=2) + "\n")
    return optimize(gen, objective, optim, hooks=hooks, progress=not quiet, desc="sds",
                    checkpoint_dir=ckpt_dir, checkpoint_every=settings.checkpoint_every,
                    resume=settings.resume is not None)
