"""Seconds per SDS step and peak memory for the real SDXL (+2 ControlNets) and SD 1.5 networks.

The networks are built from their published configs with random weights (the time of a step
does not depend on the weights), so this runs without any download. One step is exactly the
production step of :class:`craftpix.engines.sds.objective.SDSObjective` plus the loop's work: Gumbel
render → upsample → augment → encode (TAESD, with gradient) → one batched UNet call with the
ControlNets under no_grad → loss → backward to the logits → AdamW step.

Usage::

    python bench/sds_step.py --arch sdxl --controlnets 2 --steps 5          # CUDA if available
    python bench/sds_step.py --arch sd15 --controlnets 0 --steps 3 --device cpu

Prints one JSON line per configuration (and appends it to ``--json FILE`` when given):
seconds per step (mean over the timed steps, after ``--warmup`` untimed ones), a breakdown
(render+augment, encode, ControlNets, UNet, backward, optimizer), and peak memory (CUDA:
``max_memory_allocated``; CPU: peak resident set size of the process).
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from craftpix.engines.sds.conditioning import TextConditioning, sdxl_time_ids  # noqa: E402
from craftpix.engines.sds.generator import Generator  # noqa: E402
from craftpix.engines.sds.objective import ControlInput, LatentEncoder, SDSObjective  # noqa: E402
from craftpix.engines.sds.optimize import fft_loss  # noqa: E402
from craftpix.models.loading import encoder_dtype  # noqa: E402

# --- published configs (config.json of each repository, trimmed to non-default keys) ----------
SDXL_UNET: dict[str, Any] = {  # stabilityai/stable-diffusion-xl-base-1.0/unet
    "addition_embed_type": "text_time", "addition_embed_type_num_heads": 64,
    "addition_time_embed_dim": 256, "attention_head_dim": [5, 10, 20],
    "block_out_channels": [320, 640, 1280], "cross_attention_dim": 2048,
    "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
    "in_channels": 4, "layers_per_block": 2, "out_channels": 4,
    "projection_class_embeddings_input_dim": 2816, "sample_size": 128,
    "transformer_layers_per_block": [1, 2, 10],
    "up_block_types": ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"],
    "use_linear_projection": True,
}
# diffusers/controlnet-{canny,depth}-sdxl-1.0-mid: the full SDXL ControlNet with most
# transformer layers removed. Reconstructed from the published weight size (1.09 GB fp32 ≈
# 271 M parameters); the exact block layout of the "mid" variants is not verified offline.
SDXL_CONTROLNET_MID: dict[str, Any] = {
    **{k: v for k, v in SDXL_UNET.items() if k not in ("out_channels", "sample_size",
                                                       "up_block_types")},
    "conditioning_embedding_out_channels": [16, 32, 96, 256],
    "down_block_types": ["DownBlock2D", "DownBlock2D", "CrossAttnDownBlock2D"],
    "transformer_layers_per_block": [0, 0, 1],
}
SD15_UNET: dict[str, Any] = {  # stable-diffusion-v1-5/stable-diffusion-v1-5/unet
    "attention_head_dim": 8, "block_out_channels": [320, 640, 1280, 1280],
    "cross_attention_dim": 768,
    "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D",
                         "DownBlock2D"],
    "in_channels": 4, "layers_per_block": 2, "out_channels": 4, "sample_size": 64,
    "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D",
                       "CrossAttnUpBlock2D"],
}
SD15_CONTROLNET: dict[str, Any] = {  # lllyasviel/control_v11p_sd15_canny
    **{k: v for k, v in SD15_UNET.items() if k not in ("out_channels", "sample_size",
                                                       "up_block_types")},
    "conditioning_embedding_out_channels": [16, 32, 96, 256],
}
TAESD: dict[str, Any] = {  # madebyollin/taesd and madebyollin/taesdxl
    "act_fn": "relu", "decoder_block_out_channels": [64, 64, 64, 64],
    "encoder_block_out_channels": [64, 64, 64, 64], "in_channels": 3, "latent_channels": 4,
    "latent_magnitude": 3, "latent_shift": 0.5, "num_decoder_blocks": [3, 3, 3, 1],
    "num_encoder_blocks": [1, 3, 3, 3], "out_channels": 3, "scaling_factor": 1.0,
    "upsampling_scaling_factor": 2,
}
SDXL_VAE: dict[str, Any] = {  # stabilityai/stable-diffusion-xl-base-1.0/vae
    "block_out_channels": [128, 256, 512, 512],
    "down_block_types": ["DownEncoderBlock2D"] * 4, "up_block_types": ["UpDecoderBlock2D"] * 4,
    "in_channels": 3, "out_channels": 3, "latent_channels": 4, "layers_per_block": 2,
    "norm_num_groups": 32, "sample_size": 1024, "scaling_factor": 0.13025, "force_upcast": True,
}
SD15_VAE = {**SDXL_VAE, "sample_size": 512, "scaling_factor": 0.18215, "force_upcast": False}
# CLIP text encoders are run once per run, not per step: only their output shapes matter here.
TEXT = {"sdxl": {"tokens": 77, "hidden": 2048, "pooled": 1280}, "sd15": {"tokens": 77,
                                                                          "hidden": 768}}
PAPER = "SD-πXL paper: 6000 steps in 1.5 h on an RTX 4090 ≈ 0.9 s/step (SDXL + 2 ControlNets)"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Timed(torch.nn.Module):
    """Wraps a module; adds its wall time (synchronized) to ``times[name]``."""

    def __init__(self, inner: Any, name: str, times: dict[str, float], device: torch.device):
        super().__init__()
        self.inner, self.name, self.times, self.device = inner, name, times, device
        self.config = getattr(inner, "config", None)  # scaling_factor for the encoder

    def _timed(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        _sync(self.device)
        t0 = time.perf_counter()
        out = fn(*args, **kwargs)
        _sync(self.device)
        self.times[self.name] += time.perf_counter() - t0
        return out

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self._timed(self.inner, *args, **kwargs)

    def encode(self, x: torch.Tensor) -> Any:
        return self._timed(self.inner.encode, x)


def _build(cls: Any, config: dict[str, Any], device: torch.device, dtype: torch.dtype) -> Any:
    torch.manual_seed(0)
    with torch.device(device):
        model = cls(**config)
    return model.to(dtype=dtype).eval().requires_grad_(False)


def bench(arch: str, controlnets: int, steps: int, warmup: int, device: torch.device,
          dtype: torch.dtype, resolution: int | None, vae: str, pattern: int,
          attention_slicing: bool, compile: bool = False, channels_last: bool = False,
          fuse_qkv: bool = False, cuda_graphs: bool = False) -> dict[str, Any]:
    from diffusers import AutoencoderKL, AutoencoderTiny, ControlNetModel, UNet2DConditionModel
    from diffusers.utils import logging as diffusers_logging

    diffusers_logging.set_verbosity_error()
    sdxl = arch == "sdxl"
    res = resolution or (1024 if sdxl else 512)
    t_build = time.perf_counter()
    unet = _build(UNet2DConditionModel, SDXL_UNET if sdxl else SD15_UNET, device, dtype)
    nets = [_build(ControlNetModel, SDXL_CONTROLNET_MID if sdxl else SD15_CONTROLNET, device,
                   dtype) for _ in range(controlnets)]
    # The production rule: the encoder never runs in fp16 (bf16 where supported, else fp32).
    vae_dtype = encoder_dtype(None, dtype, bf16_ok=device.type == "cuda"
                              and torch.cuda.is_bf16_supported())
    if vae == "tiny":
        encoder_model = _build(AutoencoderTiny, TAESD, device, vae_dtype)
    else:
        encoder_model = _build(AutoencoderKL, SDXL_VAE if sdxl else SD15_VAE, device, vae_dtype)
    if attention_slicing:
        for m in (unet, *nets):
            m.set_attention_slice("auto")
    for m in (unet, *nets):
        if fuse_qkv:
            m.fuse_qkv_projections()
        if channels_last:
            m.to(memory_format=torch.channels_last)
    mode = "reduce-overhead" if cuda_graphs else "default"  # as networks.compile_mode
    if compile:
        unet = torch.compile(unet, dynamic=False, mode=mode)
        nets = [torch.compile(n, dynamic=False, mode=mode) for n in nets]
    build_s = time.perf_counter() - t_build
    params = {"unet": sum(p.numel() for p in unet.parameters()) / 1e6,
              "controlnet": sum(p.numel() for p in nets[0].parameters()) / 1e6 if nets else 0}

    times: dict[str, float] = defaultdict(float)
    g = torch.Generator().manual_seed(0)
    t = TEXT[arch]
    text = TextConditioning(hidden=torch.randn(2, t["tokens"], t["hidden"], generator=g) * 0.5)
    if sdxl:
        text.pooled = torch.randn(2, t["pooled"], generator=g) * 0.5
        text.time_ids = sdxl_time_ids(res, res)
    controls = [ControlInput(f"cn{i}", Timed(net, "controlnet", times, device),
                             (torch.rand(1, 3, res, res, generator=g) > 0.9).float(), 0.15)
                for i, net in enumerate(nets)]
    enc_dtype = next(encoder_model.parameters()).dtype
    objective = SDSObjective(
        unet=Timed(unet, "unet", times, device),
        encoder=LatentEncoder(Timed(encoder_model, "encode", times, device), dtype=enc_dtype),
        alphas_cumprod=torch.cumprod(1 - torch.linspace(0.00085**0.5, 0.012**0.5, 1000) ** 2, 0),
        text=text, size=(res, res), controls=controls, device=device, dtype=dtype)
    palette = np.random.default_rng(0).random((24, 3))
    gen = Generator.random(pattern, pattern, palette, torch.Generator().manual_seed(0)).to(device)
    opt = torch.optim.AdamW([gen.logits], lr=0.025, weight_decay=0.01)
    rng = torch.Generator().manual_seed(0)
    noise_rng = torch.Generator(device=device).manual_seed(1)  # as the loop: noise on device

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    per_step: list[float] = []
    first_step = float("nan")
    timed: dict[str, float] = defaultdict(float)
    total = warmup + steps
    for step in range(total):
        times.clear()
        _sync(device)
        t0 = time.perf_counter()
        render = gen.gumbel(1.0, noise_rng)
        loss = (objective.loss(render, step, max(total, 2), rng, noise_rng=noise_rng)
                + 20.0 * fft_loss(render))
        _sync(device)
        t_loss = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        _sync(device)
        t_back = time.perf_counter()
        torch.nn.utils.clip_grad_norm_([gen.logits], 1.0)
        opt.step()
        gen.recenter_()
        _sync(device)
        t_end = time.perf_counter()
        if step == 0:
            first_step = t_end - t0  # includes compilation when compile is on
        if step >= warmup:
            per_step.append(t_end - t0)
            inner = sum(times.values())
            for k, v in times.items():
                timed[k] += v
            timed["render+augment+other"] += (t_loss - t0) - inner
            timed["backward"] += t_back - t_loss
            timed["optimizer"] += t_end - t_back
    n = max(1, len(per_step))
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated(device) / 2**30
        peak_kind = "cuda max_memory_allocated"
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB → GiB
        peak_kind = "process peak RSS"
    return {
        "arch": arch, "controlnets": controlnets, "vae": vae, "resolution": res,
        "pattern": f"{pattern}x{pattern}", "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda"
        else platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(), "dtype": str(dtype).replace("torch.", ""),
        "attention_slicing": attention_slicing, "compile": compile,
        "cuda_graphs": bool(compile and cuda_graphs),
        "channels_last": channels_last, "fuse_qkv": fuse_qkv, "steps_timed": len(per_step),
        "first_step_s": round(first_step, 2),
        "s_per_step": round(float(np.mean(per_step)) if per_step else float("nan"), 3),
        "s_per_step_min": round(min(per_step), 3) if per_step else None,
        "breakdown_s": {k: round(v / n, 3) for k, v in sorted(timed.items())},
        "peak_memory_gib": round(peak, 2), "peak_memory_kind": peak_kind,
        "params_m": {k: round(v, 1) for k, v in params.items()}, "build_s": round(build_s, 1),
        "hours_for_6000_steps": round(float(np.mean(per_step)) * 6000 / 3600, 2)
        if per_step else None,
        "torch": torch.__version__,
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--arch", choices=["sdxl", "sd15"], action="append",
                   help="architecture(s) to time (default: both)")
    p.add_argument("--controlnets", type=int, choices=[0, 1, 2], default=2)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--device", default="auto")
    p.add_argument("--dtype", choices=["auto", "fp16", "bf16", "fp32"], default="auto")
    p.add_argument("--resolution", type=int, help="pixels (default: 1024 SDXL, 512 SD 1.5)")
    p.add_argument("--vae", choices=["tiny", "full"], default="tiny")
    p.add_argument("--pattern", type=int, default=48, help="pattern size in cells")
    p.add_argument("--attention-slicing", action="store_true")
    p.add_argument("--compile", action="store_true", help="torch.compile UNet and ControlNets")
    p.add_argument("--cuda-graphs", action="store_true",
                   help="with --compile: mode='reduce-overhead' (CUDA graphs)")
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--fuse-qkv", action="store_true")
    p.add_argument("--threads", type=int, help="torch CPU threads")
    p.add_argument("--json", type=Path, help="append results to this JSON-lines file")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available()
                          else ("cpu" if args.device == "auto" else args.device))
    dtype = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}.get(
        args.dtype, torch.float16 if device.type == "cuda" else torch.float32)
    print(f"# {PAPER}", file=sys.stderr)
    for arch in args.arch or ["sd15", "sdxl"]:
        result = bench(arch, args.controlnets, args.steps, args.warmup, device, dtype,
                       args.resolution, args.vae, args.pattern, args.attention_slicing,
                       args.compile, args.channels_last, args.fuse_qkv, args.cuda_graphs)
        line = json.dumps(result)
        print(line, flush=True)
        if args.json:
            with open(args.json, "a", encoding="utf-8") as fh:
                fh.write(line + "\n")
        if device.type == "cuda":
            torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
