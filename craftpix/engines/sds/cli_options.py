"""The command-line options of the score-distillation engine, turned into :class:`SDSSettings`.

The craft commands (``craftpix beads|bricks|stitch``) are decorated with :func:`sds_options`;
the command body calls :func:`sds_settings` on its keyword arguments, which pops exactly the
options defined here and returns one :class:`SDSSettings` value for
:func:`craftpix.engines.sds.run.run_sds`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any, TypeVar

import click

from craftpix.engines.sds.settings import (
    DEFAULT_CONTROL_WEIGHT,
    DEFAULT_GUIDANCE_SCALE,
    DEFAULT_QUALITY,
    QUALITY,
    REFERENCES,
    SDSSettings,
)
from craftpix.models.ids import SDXL_BASE

F = TypeVar("F", bound=Callable[..., Any])


#: The keyword names :func:`sds_options` adds to a command (and :func:`sds_settings` pops).
OPTION_KEYS: tuple[str, ...] = (
    "model", "vae", "controlnet_canny", "controlnet_depth", "depth_model", "canny_weight",
    "depth_weight", "negative_prompt", "guidance_scale", "lora", "lora_scale", "template",
    "raw_prompt", "device", "dtype", "offload", "attention_slicing", "compile", "preview_every",
    "checkpoint_every", "resume", "quality", "reference", "candidates", "reference_steps", "reference_lora",
    "reference_scorer", "low_memory",
)


def sds_options(f: F) -> F:
    """Click decorator adding the SDS engine's options to a command."""
    options = [
        click.option("--quality", type=click.Choice(list(QUALITY)), default=DEFAULT_QUALITY,
                     show_default=True,
                     help="draft: a reference image made into a pattern by the photo engine "
                          "(seconds on a GPU); fine: draft + 500 steps of score distillation "
                          "(about a minute); paper: SD-πXL's 6000 steps. --steps overrides."),
        click.option("--reference", type=click.Choice(list(REFERENCES)), default="auto",
                     show_default=True,
                     help="A prompt alone: auto generates reference images first and starts "
                          "from the best; none starts from random colors (no ControlNets)."),
        click.option("--candidates", type=click.IntRange(1, 16), metavar="K",
                     help="Reference images to generate and rank (default 4)."),
        click.option("--reference-steps", type=click.IntRange(1, 200), metavar="N",
                     help="Denoising steps per reference image (default 20; 4 with "
                          "--reference-lora)."),
        click.option("--reference-lora", metavar="fast|ID_OR_PATH",
                     help="Few-step LoRA for the reference images: 'fast' is LCM-LoRA "
                          "(craftpix models pull --fast-reference), 4 steps instead of 20."),
        click.option("--reference-scorer", default="diffusion", show_default=True,
                     metavar="diffusion|ID_OR_PATH",
                     help="How reference images are ranked: the diffusion model's own score, "
                          "or a CLIP model (id or folder) for CLIP score."),
        click.option("--low-memory", is_flag=True,
                     help="For 8–12 GB cards: one network on the GPU at a time, sliced "
                          "attention, layer-by-layer offload if even that does not fit."),
        click.option("--model", default=SDXL_BASE, show_default=True, metavar="ID_OR_PATH",
                     help="Diffusion model: a Hugging Face id or a local diffusers folder. "
                          "SDXL by default; an SD 1.5/2.x model (e.g. 'sd15') is lighter."),
        click.option("--vae", default="tiny", show_default=True, metavar="tiny|full|ID_OR_PATH",
                     help="Image encoder: 'tiny' (TAESD/TAESDXL, fast), 'full' (the model's "
                          "own VAE) or an id/folder of an AutoencoderTiny/AutoencoderKL."),
        click.option("--controlnet-canny", metavar="ID_OR_PATH",
                     help="Edge ControlNet used with --image (default: the model family's)."),
        click.option("--controlnet-depth", metavar="ID_OR_PATH",
                     help="Depth ControlNet used with --image (default: the model family's)."),
        click.option("--depth-model", metavar="ID_OR_PATH",
                     help="Depth estimator for the depth ControlNet [default: "
                          "Intel/dpt-hybrid-midas for SDXL, as its depth ControlNets were "
                          "trained on; depth-anything/Depth-Anything-V2-Small-hf for SD 1.5]."),
        click.option("--canny-weight", type=click.FloatRange(0), default=DEFAULT_CONTROL_WEIGHT,
                     show_default=True, help="Strength of the edge ControlNet; 0 turns it off."),
        click.option("--depth-weight", type=click.FloatRange(0), default=DEFAULT_CONTROL_WEIGHT,
                     show_default=True, help="Strength of the depth ControlNet; 0 turns it off."),
        click.option("--negative-prompt", metavar="TEXT",
                     help="What to steer away from (default: the template's negative prompt)."),
        click.option("--guidance-scale", type=click.FloatRange(0), default=DEFAULT_GUIDANCE_SCALE,
                     show_default=True, help="Classifier-free guidance scale."),
        click.option("--lora", metavar="ID_OR_PATH",
                     help="A LoRA style for the diffusion model: a .safetensors file, a folder or a hub id."),
        click.option("--lora-scale", type=float, default=1.0, show_default=True,
                     help="Strength of the LoRA."),
        click.option("--template", type=click.Path(path_type=Path, dir_okay=False),
                     help="Prompt template TOML (default: templates/<craft>.toml)."),
        click.option("--raw-prompt", is_flag=True,
                     help="Use --prompt verbatim instead of filling the craft's template."),
        click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto",
                     show_default=True, help="Where the models run."),
        click.option("--dtype", type=click.Choice(["auto", "fp16", "bf16", "fp32"]),
                     default="auto", show_default=True,
                     help="Precision of the frozen networks (auto: fp16 on CUDA, fp32 on CPU)."),
        click.option("--offload", is_flag=True,
                     help="Keep only the network in use on the GPU (for ~12 GB cards; slower)."),
        click.option("--attention-slicing", is_flag=True,
                     help="Compute attention in slices: less GPU memory, slower."),
        click.option("--compile", is_flag=True,
                     help="Compile the diffusion networks (CUDA only): minutes of warm-up, "
                          "then faster steps; models of 512² and less replay as CUDA graphs."),
        click.option("--preview-every", type=click.IntRange(0), default=0, metavar="K",
                     help="Write a snapshot PNG of the pattern every K steps."),
        click.option("--checkpoint-every", type=click.IntRange(0), default=0, metavar="K",
                     help="Save a checkpoint every K steps (Ctrl-C always saves one)."),
        click.option("--resume", type=click.Path(path_type=Path, file_okay=False), metavar="DIR",
                     help="Continue an interrupted run from its output folder."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def sds_settings(kwargs: dict[str, Any] | None = None, /, **click_kwargs: Any) -> SDSSettings:
    """Pop the SDS options out of a command's keyword arguments into :class:`SDSSettings`.

    ``sds_settings(kwargs)`` removes the keys from the dict it is given (so the command can
    handle the rest); ``sds_settings(**kwargs)`` reads them from keyword arguments. Keys that
    are absent keep the dataclass defaults.
    """
    source = kwargs if kwargs is not None else click_kwargs
    values = {key: source.pop(key) for key in OPTION_KEYS if key in source}
    defaults = {f.name: f.default for f in fields(SDSSettings) if f.name in OPTION_KEYS}
    for key in ("model", "vae", "canny_weight", "depth_weight", "guidance_scale", "lora_scale",
                "device", "dtype"):
        if values.get(key) is None:
            values.pop(key, None)  # None from an untouched option: keep the default
    for key in ("quality", "reference", "reference_scorer"):
        if values.get(key) is None:
            values.pop(key, None)
    for key in ("raw_prompt", "offload", "attention_slicing", "compile", "low_memory"):
        values[key] = bool(values.get(key, defaults[key]))
    for key in ("preview_every", "checkpoint_every"):
        values[key] = int(values.get(key) or 0)
    for key in ("template", "resume"):
        if values.get(key) is not None:
            values[key] = Path(values[key])
    return SDSSettings(**values)
