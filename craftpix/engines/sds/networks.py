"""The frozen networks of one SDS run on their device, and what they are conditioned on.

Heavy (torch) helpers of :func:`craftpix.engines.sds.run.run_sds`, imported by it only after
every model has been located: the text conditioning of the prompt pair, the control images,
placing (and optionally compiling) the networks, and the preview hook.
"""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np
import torch
from PIL import Image

from craftpix.engines.sds.conditioning import (
    Canvas,
    TextConditioning,
    canny_image,
    depth_image,
    encode_text,
    module_device,
    sdxl_time_ids,
)
from craftpix.engines.sds.generator import Generator
from craftpix.engines.sds.objective import ControlInput
from craftpix.engines.sds.settings import SDSSettings
from craftpix.errors import InputError
from craftpix.fileio import atomic_path
from craftpix.models.loading import SDSComponents, encoder_dtype


def _warn(message: str) -> None:
    click.echo(f"warning: {message}", err=True)


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


def control_inputs(comps: SDSComponents, image: Image.Image, canvas: Canvas,
                   settings: SDSSettings, device: torch.device) -> list[ControlInput]:
    """The control images of the reference on ``canvas``, computed once, with their
    ControlNets."""
    out = []
    if "canny" in comps.controlnets:
        out.append(ControlInput("canny", comps.controlnets["canny"], canny_image(image, canvas),
                                settings.canny_weight))
    if "depth" in comps.controlnets:
        if comps.depth_estimator is None or comps.depth_processor is None:
            raise InputError("the depth ControlNet needs a depth estimator")
        home = module_device(comps.depth_estimator)
        try:
            comps.depth_estimator.to(device)
            depth = depth_image(image, canvas, comps.depth_estimator, comps.depth_processor)
        finally:
            comps.depth_estimator.to(home)
            _free(device)
        out.append(ControlInput("depth", comps.controlnets["depth"], depth, settings.depth_weight))
    return out


def bf16_supported(device: torch.device) -> bool:
    """Whether ``device`` runs bf16 at speed (CUDA with compute capability ≥ 8)."""
    return device.type == "cuda" and torch.cuda.is_bf16_supported()


#: Native sizes up to this many pixels a side get CUDA graphs by default (``cuda_graphs=None``).
CUDA_GRAPHS_UP_TO = 512


def compile_mode(comps: SDSComponents, settings: SDSSettings) -> str | None:
    """``torch.compile``'s mode for the per-step networks, or None when not compiling.

    ``"reduce-overhead"`` (inductor with CUDA graphs: one launch replays a whole network) when
    ``settings.cuda_graphs`` is True, or None and the model's native size is at most
    :data:`CUDA_GRAPHS_UP_TO`; else ``"default"``. No compilation with ``offload`` (accelerate
    hooks move weights between calls).
    """
    if not settings.compile or settings.offload:
        return None
    graphs = settings.cuda_graphs
    if graphs is None:
        graphs = comps.native_resolution <= CUDA_GRAPHS_UP_TO
    return "reduce-overhead" if graphs else "default"


def speed_up(comps: SDSComponents, device: torch.device, settings: SDSSettings) -> list[str]:
    """Apply the speed settings that hold on ``device``; returns what was applied.

    On CUDA: ``cudnn_benchmark`` (fixed shapes for the whole run), ``tf32`` (matmuls and
    convolutions of fp32 paths), then per network ``channels_last`` and ``fuse_qkv``
    (diffusers' fused QKV projections; not with ``attention_slicing``, whose processors fusing
    would swap out), and ``compile`` (``torch.compile``, shapes fixed, in
    :func:`compile_mode`'s mode: CUDA graphs for 512² models). ``fuse_qkv``/``channels_last``
    are exact rewrites and also run on the CPU when ``speed_on_cpu`` is set (tests).
    """
    applied: list[str] = []
    cuda = device.type == "cuda"
    anywhere = cuda or settings.speed_on_cpu
    if cuda and settings.cudnn_benchmark:
        torch.backends.cudnn.benchmark = True
        applied.append("cudnn_benchmark")
    if cuda and settings.tf32:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        applied.append("tf32")
    nets = {**{f"controlnet_{k}": v for k, v in comps.controlnets.items()}, "unet": comps.unet}
    for name, net in nets.items():
        # fusing replaces the attention processors: it would undo --attention-slicing
        if (anywhere and settings.fuse_qkv and not settings.attention_slicing
                and hasattr(net, "fuse_qkv_projections")):
            net.fuse_qkv_projections()
            applied.append(f"fuse_qkv:{name}")
        if anywhere and settings.channels_last and hasattr(net, "to"):
            net.to(memory_format=torch.channels_last)
            applied.append(f"channels_last:{name}")
    mode = compile_mode(comps, settings) if anywhere else None
    if mode is not None:
        comps.unet = torch.compile(comps.unet, dynamic=False, mode=mode)
        for key, net in comps.controlnets.items():
            comps.controlnets[key] = torch.compile(net, dynamic=False, mode=mode)
        applied.append(f"compile:{mode}")
    return applied


def place_networks(comps: SDSComponents, device: torch.device, dtype: torch.dtype,
                   settings: SDSSettings, *, speed: bool = True) -> torch.dtype:
    """Put the per-step networks on ``device``; returns the encoder's dtype.

    The encoder never runs in fp16 (:func:`~craftpix.models.loading.encoder_dtype`). With
    ``offload`` on CUDA the ControlNets and the UNet stay on the CPU and accelerate hooks move
    each one to the GPU when it runs (the previous one goes back); with
    ``sequential_offload`` too (the last resort of ``--low-memory``) they are offloaded layer
    by layer (accelerate's ``cpu_offload``). The speed settings are applied last
    (:func:`speed_up`) unless ``speed`` is False (the caller applies them later, e.g. after a
    reference LoRA is unloaded: fused or compiled networks would not take it).
    """
    vae_dtype = encoder_dtype(comps.vae, dtype, bf16_ok=bf16_supported(device))
    if hasattr(comps.vae, "to"):
        comps.vae.to(device=device, dtype=vae_dtype)
    nets = [*comps.controlnets.values(), comps.unet]
    if settings.attention_slicing:
        for net in nets:
            if hasattr(net, "set_attention_slice"):
                net.set_attention_slice("auto")
    if settings.offload and device.type == "cuda" and settings.sequential_offload:
        from accelerate import cpu_offload

        for net in nets:
            if getattr(net, "_hf_hook", None) is None:  # placed once: hooks stay
                net.to(device="cpu", dtype=dtype)
                cpu_offload(net, device)
    elif settings.offload and device.type == "cuda":
        from accelerate import cpu_offload_with_hook

        hook = None
        for net in nets:
            if getattr(net, "_hf_hook", None) is not None:
                continue  # already offloaded (placed before the reference candidates)
            net.to(device="cpu", dtype=dtype)
            _, hook = cpu_offload_with_hook(net, device, prev_module_hook=hook)
    else:
        if settings.offload:
            _warn("--offload only matters on a GPU; ignored")
        for net in nets:
            net.to(device=device, dtype=dtype)
    if settings.compile and device.type != "cuda" and not settings.speed_on_cpu:
        _warn("--compile only matters on a GPU; ignored")
    elif settings.compile and settings.offload:
        _warn("--compile does not work with --offload (weights move between calls); ignored")
    if speed:
        speed_up(comps, device, settings)
    _free(device)
    return vae_dtype


# --- low memory -----------------------------------------------------------------------------------
#: Working memory a 1024² SDXL UNet call of batch 2 needs beyond its weights in fp16 with
#: sliced attention (activations, SDPA workspace, the CUDA context): a computed allowance,
#: pending measurement (docs/BENCHMARKS.md, GPU memory per preset).
WORKSPACE_BYTES_1024 = 2.0 * 2**30


def param_bytes(module: object, dtype: torch.dtype) -> int:
    """Bytes of ``module``'s parameters and buffers in ``dtype`` (0 for a non-module)."""
    if not hasattr(module, "parameters"):
        return 0
    size = torch.empty((), dtype=dtype).element_size()
    n = sum(p.numel() for p in module.parameters())  # type: ignore[attr-defined]
    n += sum(b.numel() for b in module.buffers())  # type: ignore[attr-defined]
    return int(n * size)


def needs_sequential(comps: SDSComponents, free_bytes: int, dtype: torch.dtype,
                     resolution: int = 1024) -> bool:
    """Whether even model offload (one network at a time) cannot fit ``free_bytes``: the
    largest per-step network's weights in ``dtype`` plus :data:`WORKSPACE_BYTES_1024` scaled
    by the canvas area. Then layer-by-layer (sequential) offload is the last resort."""
    largest = max(param_bytes(n, dtype) for n in (comps.unet, *comps.controlnets.values()))
    workspace = WORKSPACE_BYTES_1024 * (resolution / 1024) ** 2
    return largest + workspace > free_bytes


def low_memory_settings(settings: SDSSettings, comps: SDSComponents,
                        device: torch.device) -> SDSSettings:
    """``--low-memory``: model offload and sliced attention; sequential offload when the free
    GPU memory cannot hold the largest network (:func:`needs_sequential`), with a warning.

    Text encoders and the depth estimator already visit the GPU only while they run
    (:func:`encode_prompt_pair`, :func:`control_inputs`). On the CPU it changes nothing.
    """
    from dataclasses import replace

    if device.type != "cuda":
        return settings
    out = replace(settings, offload=True, attention_slicing=True, compile=False)
    free, _ = torch.cuda.mem_get_info(device)
    dtype = torch.float16
    if needs_sequential(comps, int(free), dtype, settings.resolution or comps.native_resolution):
        _warn(f"only {free / 2**30:.1f} GiB of GPU memory is free: offloading the networks "
              "layer by layer (much slower)")
        out = replace(out, sequential_offload=True)
    return out
