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
from craftpix.engines.sds.settings import FFT_WEIGHT_PER_SMOOTH, REFERENCES, SDSSettings
from craftpix.engines.sds.stages import Progress, StageProgress, stage_weights
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
REFERENCE_FILE = "reference.png"  # the chosen reference, saved beside the pattern
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
    smooth: float, reference_plan: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """What makes two runs "the same run" (device, precision and output cadence do not).

    ``reference_plan`` describes a reference generated first (candidates, their sampler and
    scorer): the same plan makes the same reference."""

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
        "objective": asdict(settings.objective_for()), "optim": settings.optim_for(),
        "reference_first": reference_plan,
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
    steps: int | None,
    seed: int,
    smooth: float,
    out_dir: Path,
    quiet: bool,
    components: SDSComponents | None = None,
    on_progress: Progress | None = None,
) -> OptimResult:
    """Optimize a pattern with SD-πXL's score distillation and return the loop's result.

    ``image`` (the fitted reference, any size) drives the ControlNets; ``reference_rgb``
    (``(height, width, 3)`` float sRGB) initializes the logits. Without them, a prompt alone
    starts from a reference generated first (``settings.reference == "auto"``, the default:
    candidates from the loaded model, ranked, the best turned into a photo-engine pattern that
    initializes the logits and conditions the ControlNets; it is returned as
    ``result.reference``) or from random logits without ControlNets (``"none"``). ``steps``
    None takes the ``settings.quality`` preset's (``draft``: 0, the photo-engine pattern of the
    reference is the result and no SDS step runs; with a photo no model is loaded at all).
    ``colors`` < the catalog size keeps that many colors (pruned progressively from random
    logits; the photo engine's choice from a reference). ``smooth`` is the FFT weight
    (:data:`~.settings.FFT_WEIGHT_PER_SMOOTH` × the clean-up strength). ``components`` skips
    locating and loading (tests, benchmarks, notebooks). ``on_progress(label, fraction)`` gets
    every stage with its time left (:class:`~.stages.StageProgress`).

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
    try:
        preset = settings.preset
    except ValueError as exc:
        raise InputError(str(exc)) from None
    if settings.reference not in REFERENCES:
        raise InputError(f"--reference must be one of {', '.join(REFERENCES)}, "
                         f"got {settings.reference!r}")
    steps = settings.steps_for(steps)
    make_reference = image is None and settings.reference == "auto"
    if image is None and not make_reference and steps == 0:
        raise InputError(f"--quality {settings.quality} makes no score-distillation step and "
                         "starts from a reference: drop --reference none, or give --steps N")
    if image is not None and steps == 0:  # draft with a photo: the photo engine, no model
        return _photo_only(image, palette, height, width, colors, smooth, seed, medium)
    if components is None:
        require_diffusion()
    text, negative = build_prompts(prompt, medium=medium, template=settings.template,
                                   raw=settings.raw_prompt, negative=settings.negative_prompt)
    controls = settings.controls if (image is not None or make_reference) and steps else []
    count = (settings.candidates or preset.candidates) if make_reference else 0
    fast = bool(settings.reference_lora)
    cand_steps = settings.reference_steps or (
        preset.fast_candidate_steps if fast else preset.candidate_steps)
    plan = None
    if make_reference:
        plan = {"candidates": count, "steps": cand_steps, "lora": settings.reference_lora,
                "scorer": settings.reference_scorer, "quality": settings.quality}
    stages = StageProgress(on_progress, stage_weights(
        candidates=count, candidate_steps=cand_steps, steps=steps, cfg=not fast), echo=not quiet)

    out_dir = Path(out_dir)
    ckpt_dir = Path(settings.resume) if settings.resume is not None else out_dir
    fingerprint = run_fingerprint(
        settings, prompt=text, negative=negative, controls=controls, image=image,
        reference_rgb=reference_rgb, palette_rgb=palette, height=height, width=width,
        colors=colors, medium=medium, steps=steps, seed=seed, smooth=smooth,
        reference_plan=plan)
    if settings.resume is not None:
        _check_resume(ckpt_dir, fingerprint)  # before any model is touched
    stages.start("models")
    located = None if components is not None else locate_components(
        settings, controls=controls, reference=make_reference)
    stages.finish()
    return _optimize(settings, located=located, components=components, text=text,
                     prompt_subject=prompt,
                     negative=negative, controls=controls, image=image,
                     reference_rgb=reference_rgb, palette=palette, height=height, width=width,
                     colors=colors, steps=steps, seed=seed, smooth=smooth, out_dir=out_dir,
                     ckpt_dir=ckpt_dir, fingerprint=fingerprint, quiet=quiet,
                     reference_count=count, reference_steps=cand_steps, medium=medium,
                     stages=stages)


def photo_pattern(image: Image.Image, palette: np.ndarray, height: int, width: int, *,
                  colors: int | None, smooth: float, seed: int, medium: str) -> np.ndarray:
    """The photo engine's pattern of ``image`` on ``palette``: ``(height, width)`` indices
    into ``palette`` (-1: empty, where the image is transparent).

    ``smooth`` is the photo engine's clean-up strength; ``colors`` its color cap (None: its
    own choice). The engine sees the palette as a catalog (codes = indices).
    """
    from craftpix.engines.photo import PhotoSettings, make_photo_pattern
    from craftpix.imageio import reference_from_image
    from craftpix.palette import Palette

    n = len(palette)
    rgb8 = np.clip(np.rint(np.asarray(palette) * 255), 0, 255).astype(np.uint8)
    catalog = Palette(name="run", title="run palette", codes=tuple(str(i) for i in range(n)),
                      names=tuple(f"color {i}" for i in range(n)), rgb8=rgb8)
    ref = reference_from_image(image, width, height)
    result = make_photo_pattern(ref, catalog, PhotoSettings(
        colors=colors, smooth=smooth, seed=seed, medium=medium))
    back = np.array([int(c) for c in result.palette.codes], dtype=np.int64)
    idx = np.asarray(result.indices, dtype=np.int64)
    return np.where(idx >= 0, back[np.clip(idx, 0, None)], -1)


def _photo_only(image: Image.Image, palette: np.ndarray, height: int, width: int,
                colors: int | None, smooth: float, seed: int, medium: str) -> OptimResult:
    """``--quality draft`` with a photo: the photo engine's pattern, no model, no SDS step."""
    import time

    from craftpix.engines.sds.optimize import OptimResult

    t0 = time.perf_counter()
    indices = photo_pattern(image, palette, height, width, colors=colors,
                            smooth=smooth / FFT_WEIGHT_PER_SMOOTH, seed=seed, medium=medium)
    return OptimResult(indices=indices, steps=0, seconds=time.perf_counter() - t0)


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
    fingerprint: dict[str, Any], quiet: bool, reference_count: int = 0,
    reference_steps: int = 0, medium: str = "beads", stages: StageProgress | None = None,
) -> OptimResult:
    """The heavy half of :func:`run_sds`: load, condition, (make the reference,) place the
    networks, optimize."""
    import time
    from contextlib import ExitStack
    from dataclasses import replace

    import torch

    from craftpix.engines.sds.conditioning import working_canvas
    from craftpix.engines.sds.generator import Generator
    from craftpix.engines.sds.networks import (
        PreviewWriter,
        bf16_supported,
        control_inputs,
        encode_prompt_pair,
        low_memory_settings,
        place_networks,
        speed_up,
    )
    from craftpix.engines.sds.objective import LatentEncoder, SDSObjective
    from craftpix.engines.sds.optimize import ColorBudget, OptimConfig, OptimResult, optimize
    from craftpix.models.loading import resolve_device, resolve_dtype

    stages = stages or StageProgress(None, {})
    device = resolve_device(settings.device)
    dtype = resolve_dtype(settings.dtype, device)
    optim = OptimConfig(steps=steps, seed=seed, fft_weight=smooth, **settings.optim_for())
    if components is None:
        components = load_components(settings, controls=controls, dtype=dtype, located=located)
    for note in components.notes:
        _warn(note)
    if device.type == "cpu":
        _warn("running the diffusion model on the CPU: this is very slow "
              "(minutes per step at full resolution); a CUDA GPU is recommended")
    if settings.low_memory:
        settings = low_memory_settings(settings, components, device)

    if components.tokenizers:
        text = _fit_to_encoder(text, prompt_subject, negative, components.tokenizers[0],
                               raw=settings.raw_prompt)
    resolution = settings.resolution or settings.preset.resolution \
        or components.native_resolution
    canvas = working_canvas(height, width, resolution, components.size_multiple,
                            components.max_aspect)
    if max(height / width, width / height) > components.max_aspect:
        _warn(f"the pattern ({width}×{height} cells) is wider than the "
              f"{components.max_aspect:g}:1 the model was trained on: it sees it letterboxed "
              f"on a {canvas.width}×{canvas.height} px canvas")
    cond = encode_prompt_pair(components, text, negative, device, canvas.size)
    keep: np.ndarray | None = None  # the colors of the reference's pattern
    chosen = None
    ref_meta: dict[str, Any] = {}
    if reference_count:
        t0 = time.perf_counter()
        with ExitStack() as lora:
            if settings.reference_lora:
                from craftpix.models.lora import lora_adapter

                lora_file = located.reference_lora_file if located is not None else None
                if lora_file is None:
                    from craftpix.models.loading import locate_reference_lora

                    lora_file = locate_reference_lora(settings, components.family)
                lora.enter_context(lora_adapter(components, lora_file,
                                                name=str(settings.reference_lora)))
            vae_dtype = place_networks(components, device, dtype, settings, speed=False)
            candidates = _candidates(components, settings, cond, canvas, device, dtype, seed,
                                     reference_count, reference_steps, stages)
        # ranked by the base model (the few-step LoRA is unloaded)
        chosen, ref_meta = _choose(candidates, components, located, settings, cond, canvas,
                                   text, device, dtype, seed, reference_steps, stages)
        image = chosen.image
        indices = photo_pattern(image, palette, height, width, colors=colors,
                                smooth=smooth / FFT_WEIGHT_PER_SMOOTH, seed=seed, medium=medium)
        if not steps:  # draft: the reference's pattern is the result
            stages.start("sds", 1)
            stages.finish()
            return OptimResult(indices=indices, steps=0, seconds=time.perf_counter() - t0,
                               reference=image, reference_meta=ref_meta)
        keep = np.unique(indices[indices >= 0])
        reference_rgb = palette[np.clip(indices, 0, None)]
        control = (control_inputs(components, image, canvas, settings, device)
                   if controls else [])
        speed_up(components, device, settings)
    else:
        control = (control_inputs(components, image, canvas, settings, device)
                   if image is not None else [])
        vae_dtype = place_networks(components, device, dtype, settings)
    # The control images were made before the networks were placed (the depth estimator had
    # the device to itself); the ControlNets themselves are the placed (maybe compiled) ones.
    control = [replace(c, model=components.controlnets[c.name]) for c in control]

    config = settings.objective_for()
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
    if keep is not None and len(keep) < len(palette):
        gen.restrict_(keep.tolist())  # the reference's colors: its color budget holds
    gen = gen.to(device)

    hooks: list[Hook] = []
    active = len(palette) if keep is None else len(keep)
    if colors is not None and colors < active:
        hooks.append(ColorBudget(colors, steps))
    if settings.preview_every:
        hooks.append(PreviewWriter(out_dir / PREVIEW_DIR, settings.preview_every))
    stages.start("sds", steps)
    hooks.append(stages.hook(every=max(1, steps // 100)))

    if settings.resume is None:
        ckpt_dir.mkdir(parents=True, exist_ok=True)
        write_text(ckpt_dir / RUN_FILE, json.dumps(fingerprint, indent=2) + "\n")
    result = optimize(gen, objective, optim, hooks=hooks, progress=not quiet, desc="sds",
                      checkpoint_dir=ckpt_dir, checkpoint_every=settings.checkpoint_every,
                      resume=settings.resume is not None)
    stages.finish()
    if chosen is not None:
        result.reference, result.reference_meta = chosen.image, ref_meta
    return result


def _candidates(
    comps: SDSComponents, settings: SDSSettings, cond: Any, canvas: Any, device: Any,
    dtype: Any, seed: int, count: int, steps: int, stages: StageProgress,
) -> list[Any]:
    """The reference candidates (with the few-step LoRA, when one is loaded)."""
    from craftpix.engines.sds.reference import generate_candidates

    fast = bool(settings.reference_lora)
    guidance = 1.0 if fast else settings.preset.candidate_guidance
    stages.start("candidates", count)
    out = generate_candidates(
        comps, cond, canvas, count=count, steps=steps, guidance=guidance, seed=seed,
        device=device, dtype=dtype, fast=fast, on_candidate=stages.advance)
    stages.finish()
    return out


def _choose(
    candidates: list[Any], comps: SDSComponents, located: LocatedModels | None,
    settings: SDSSettings, cond: Any, canvas: Any, text: str, device: Any, dtype: Any,
    seed: int, steps: int, stages: StageProgress,
) -> tuple[Any, dict[str, Any]]:
    """Rank the candidates; the best and what to record about the choice."""
    from craftpix.engines.sds.reference import ClipScorer, DiffusionScorer, Scorer, rank
    from craftpix.models.loading import scorer_ref

    if len(candidates) == 1:  # nothing to rank (the CPU's cheapest draft)
        only = candidates[0]
        return only, {"candidates": 1, "steps": steps, "scorer": None,
                      "lora": settings.reference_lora, "seed": only.seed, "scores": {}}
    stages.start("ranking", 1)
    scorer: Scorer
    ref = located.scorer if located is not None else scorer_ref(settings)
    clip = None
    if ref is not None:
        if ref.folder is None:
            from craftpix.models.hub import locate

            locate([ref], prefer_fp16=False)
        assert ref.folder is not None
        scorer = clip = ClipScorer(ref.folder, device)
    else:
        scorer = DiffusionScorer(comps, cond, canvas, device, dtype, seed=seed)
    ranked = rank(candidates, scorer, text)
    if clip is not None:
        clip.close()
    stages.finish()
    best = ranked[0]
    meta = {"candidates": len(candidates), "steps": steps, "scorer": scorer.name,
            "lora": settings.reference_lora, "seed": best.seed,
            "scores": {str(c.seed): round(float(c.score), 6) for c in candidates
                       if c.score is not None}}
    return best, meta
