"""One score-distillation run, from settings to the optimized generator.

Importing this module is light (no torch): :func:`run_sds` checks the diffusion stack is
installed and locates every model first, so a missing one is reported in about a second; only
then are torch and diffusers imported and the weights loaded.

:func:`run_sds` builds (or takes) the frozen networks, the text and control conditioning and the
:class:`~craftpix.engines.sds.objective.SDSObjective`, initializes the generator (from the reference image
or at random), then hands everything to :func:`craftpix.engines.sds.optimize.optimize`, which owns the
steps, the progress bar, checkpoints and Ctrl-C.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import numpy as np
from PIL import Image

from craftpix.engines.sds import require_diffusion
from craftpix.engines.sds.prompts import build_prompts
from craftpix.engines.sds.settings import SDSSettings
from craftpix.errors import InputError
from craftpix.fileio import write_text
from craftpix.models.ids import canonical_model, is_local_path
from craftpix.models.loading import (
    LocatedModels,
    SDSComponents,
    load_components,
    locate_components,
)

if TYPE_CHECKING:
    from craftpix.engines.sds.optimize import Hook, OptimResult

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
        "init_metric": settings.init_metric if reference_rgb is not None else None,
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
    that many colors. ``components`` skips locating and loading (tests, benchmarks, notebooks).

    Order: inputs checked, the diffusion stack looked up (:func:`require_diffusion`), the
    resume folder checked, every model located (:func:`locate_components`) — all before torch
    is imported — then networks loaded and the loop run. Raises
    :class:`~craftpix.errors.CraftpixError` subclasses with one-line messages.
    """
    if not prompt or not prompt.strip():
        raise InputError("the sds engine needs --prompt (describe what to make)")
    palette = np.asarray(palette_rgb, dtype=np.float64)
    if palette.ndim != 2 or palette.shape[1] != 3 or len(palette) < 1:
        raise ValueError("palette_rgb must be (n, 3)")
    if reference_rgb is not None and np.asarray(reference_rgb).shape[:2] != (height, width):
        raise ValueError("reference_rgb must be (height, width, 3)")
    if not math.isfinite(smooth):  # before any model is loaded or file written
        raise InputError("--smooth must be a finite number")
    if components is None:
        require_diffusion()
    text, negative = build_prompts(prompt, medium=medium, template=settings.template,
                                   raw=settings.raw_prompt, negative=settings.negative_prompt)
    controls = [] if image is None else settings.controls

    out_dir = Path(out_dir)
    ckpt_dir = Path(settings.resume) if settings.resume is not None else out_dir
    fingerprint = run_fingerprint(
        settings, prompt=text, negative=negative, controls=controls, image=image,
        reference_rgb=reference_rgb, palette_rgb=palette, height=height, width=width,
        colors=colors, medium=medium, steps=steps, seed=seed, smooth=smooth)
    if settings.resume is not None:
        _check_resume(ckpt_dir, fingerprint)  # before any model is touched
    located = None if components is not None else locate_components(settings, controls=controls)
    return _optimize(settings, located=located, components=components, text=text,
                     prompt_subject=prompt,
                     negative=negative, controls=controls, image=image,
                     reference_rgb=reference_rgb, palette=palette, height=height, width=width,
                     colors=colors, steps=steps, seed=seed, smooth=smooth, out_dir=out_dir,
                     ckpt_dir=ckpt_dir, fingerprint=fingerprint, quiet=quiet)


def _fit_to_encoder(text: str, subject: str, negative: str, tokenizer: Any, *,
                    raw: bool) -> str:
    """The filled template cut to the text encoder's length, style words before the subject
    (``raw``: the text as it is); the user is told what was dropped or cut, and when the
    negative prompt is cut."""
    from craftpix.engines.sds.prompts import fit_prompt

    limit = int(getattr(tokenizer, "model_max_length", 77) or 77)

    def count(t: str) -> int:
        return len(tokenizer(t, verbose=False).input_ids)

    fitted, dropped = (text, []) if raw else fit_prompt(text, subject, count, limit)
    if dropped:
        _warn(f"the prompt is longer than the model's {limit} tokens: left out the template's "
              f"\"{', '.join(dropped)}\" to keep your text; shorten --prompt to keep them")
    if count(fitted) > limit:
        _warn(f"the prompt is longer than the model's {limit} tokens: its end is cut off; "
              "shorten --prompt")
    if negative and count(negative) > limit:
        _warn(f"the negative prompt is longer than the model's {limit} tokens: its end is cut "
              "off; shorten --negative-prompt or the template's")
    return fitted


def _optimize(
    settings: SDSSettings, *, located: LocatedModels | None, components: SDSComponents | None,
    text: str, prompt_subject: str, negative: str, controls: list[str],
    image: Image.Image | None,
    reference_rgb: np.ndarray | None, palette: np.ndarray, height: int, width: int,
    colors: int | None, steps: int, seed: int, smooth: float, out_dir: Path, ckpt_dir: Path,
    fingerprint: dict[str, Any], quiet: bool,
) -> OptimResult:
    """The heavy half of :func:`run_sds`: load, condition, place the networks, optimize."""
    from dataclasses import replace

    import torch

    from craftpix.engines.sds.conditioning import working_canvas
    from craftpix.engines.sds.generator import Generator
    from craftpix.engines.sds.networks import (
        PreviewWriter,
        bf16_supported,
        control_inputs,
        encode_prompt_pair,
        place_networks,
    )
    from craftpix.engines.sds.objective import LatentEncoder, SDSObjective
    from craftpix.engines.sds.optimize import ColorBudget, OptimConfig, optimize
    from craftpix.models.loading import resolve_device, resolve_dtype

    device = resolve_device(settings.device)
    dtype = resolve_dtype(settings.dtype, device)
    optim = OptimConfig(steps=steps, seed=seed, fft_weight=smooth, **settings.optim)
    if components is None:
        components = load_components(settings, controls=controls, dtype=dtype, located=located)
    for note in components.notes:
        _warn(note)
    if device.type == "cpu":
        _warn("running the diffusion model on the CPU: this is very slow "
              "(minutes per step at full resolution); a CUDA GPU is recommended")

    if components.tokenizers:
        text = _fit_to_encoder(text, prompt_subject, negative, components.tokenizers[0],
                               raw=settings.raw_prompt)
    resolution = settings.resolution or components.native_resolution
    canvas = working_canvas(height, width, resolution, components.size_multiple,
                            components.max_aspect)
    if max(height / width, width / height) > components.max_aspect:
        _warn(f"the pattern ({width}×{height} cells) is wider than the "
              f"{components.max_aspect:g}:1 the model was trained on: it sees it letterboxed "
              f"on a {canvas.width}×{canvas.height} px canvas")
    cond = encode_prompt_pair(components, text, negative, device, canvas.size)
    control = (control_inputs(components, image, canvas, settings, device)
               if image is not None else [])
    vae_dtype = place_networks(components, device, dtype, settings)
    # The control images were made before the networks were placed (the depth estimator had
    # the device to itself); the ControlNets themselves are the placed (maybe compiled) ones.
    control = [replace(c, model=components.controlnets[c.name]) for c in control]

    config = settings.objective
    if config.guidance_scale != settings.guidance_scale:
        config = replace(config, guidance_scale=settings.guidance_scale)
    objective = SDSObjective(
        unet=components.unet, encoder=LatentEncoder(components.vae, dtype=vae_dtype),
        alphas_cumprod=components.alphas_cumprod, text=cond, size=canvas, config=config,
        controls=control, device=device, dtype=dtype,
        prediction_type=components.prediction_type, on_warning=_warn,
        upcast_dtype=torch.bfloat16 if bf16_supported(device) else torch.float32,
        model_name=components.names.get("model", settings.model))

    if reference_rgb is not None:
        gen = Generator.from_image(np.asarray(reference_rgb, dtype=np.float64), palette,
                                   metric=settings.init_metric)
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
