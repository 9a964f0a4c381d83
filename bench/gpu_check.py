"""One-shot GPU check of the SDS engine, writing one JSON file.

Random-weight networks of the real architectures (no download): SDXL UNet + two "mid"
ControlNets + TAESD (and SD 1.5 for the speed table). Sections, each recorded even if a later
one fails (the JSON is rewritten after every section):

* ``environment``  — torch/CUDA versions, the device, bf16 support;
* ``end_to_end``   — :func:`craftpix.engines.sds.run.run_sds` on CUDA with a reference image
  on a 48×32-cell pattern
  (canny + depth ControlNets, depth estimator, text encoders of the real sizes): finishes,
  finite statistics, seconds per step, peak memory;
* ``presets``      — each ``--quality`` preset end to end on a prompt alone (reference first:
  4 candidates at 1024², ranked by the diffusion score, photo engine, then SDS with both
  ControlNets on the reference), 48×48 cells: seconds per stage (from the progress reports),
  total seconds, peak memory; ``draft_4_steps`` is draft with the few-step LoRA's 4 steps
  (LoRA not loaded: the same cost per step); ``paper`` runs its first steps and is
  extrapolated to 6000 (``paper_estimate``);
* ``precision``    — the logits' gradient of one SDS step in fp16 and bf16 against fp32, same
  random draws: cosine similarity (mean and min over a few timesteps);
* ``compiled_run`` — the production ``--compile`` path (CUDA graphs) on a letterboxed
  non-square pattern with the tiny networks, against the same run uncompiled;
* ``speed``        — :func:`bench.sds_step.bench` (s/step with breakdown, peak memory) for
  SDXL + 2 ControlNets at 1024² fp16 and SD 1.5 + 2 at 512², eager;
* ``speed_graphs`` — SD 1.5 + 2 ControlNets at 512² compiled with CUDA graphs
  (``mode="reduce-overhead"``, what ``--compile`` picks for 512² models);
* ``speed_compiled`` — SDXL + 2 ControlNets at 1024² compiled (inductor), last: the longest
  and least predictable compile.

``--tiny`` swaps in the test-suite's tiny models (CPU, seconds): the suite runs that.

Usage::

    python bench/gpu_check.py --out gpu_check.json            # on a CUDA machine
    python bench/gpu_check.py --tiny --device cpu --out /tmp/check.json
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
import traceback
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from craftpix.engines.sds.conditioning import encode_text, sdxl_time_ids  # noqa: E402
from craftpix.engines.sds.generator import Generator  # noqa: E402
from craftpix.engines.sds.objective import LatentEncoder, SDSObjective  # noqa: E402
from craftpix.engines.sds.settings import AugmentConfig, SDSConfig, SDSSettings  # noqa: E402
from craftpix.models.loading import SDSComponents, encoder_dtype  # noqa: E402

# CLIP ViT-L/14 (SDXL text_encoder) and OpenCLIP bigG/14 (text_encoder_2), from their
# config.json in stabilityai/stable-diffusion-xl-base-1.0.
CLIP_L = dict(hidden_size=768, intermediate_size=3072, num_attention_heads=12,
              num_hidden_layers=12, projection_dim=768, hidden_act="quick_gelu")
CLIP_G = dict(hidden_size=1280, intermediate_size=5120, num_attention_heads=20,
              num_hidden_layers=32, projection_dim=1280, hidden_act="gelu")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("craftpix", "diffusers", "transformers", "kornia", "opencv-python-headless",
                 "accelerate", "numpy"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "missing"
    return out


def _peak(device: torch.device) -> float | None:
    return round(torch.cuda.max_memory_allocated(device) / 2**30, 2) if device.type == "cuda" \
        else None


def components(tiny: bool, device: torch.device, controlnets: bool = True) -> SDSComponents:
    """SDXL-family components with random weights: real architectures, or the tiny ones."""
    import tiny_models as tm
    from diffusers import AutoencoderTiny, ControlNetModel, DDPMScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    tok = tm.tiny_tokenizer()
    if tiny:
        unet = tm.tiny_unet(sdxl=True)
        cns = ({"canny": tm.tiny_controlnet(unet), "depth": tm.tiny_controlnet(unet)}
               if controlnets else {})
        encoders = [tm.tiny_text_encoder(False), tm.tiny_text_encoder(True)]
        vae = tm.tiny_taesd()
        scheduler = tm.tiny_scheduler()
    else:
        from sds_step import SDXL_CONTROLNET_MID, SDXL_UNET, TAESD

        torch.manual_seed(0)
        with torch.device(device):
            unet = UNet2DConditionModel(**SDXL_UNET)
            cns = ({k: ControlNetModel(**SDXL_CONTROLNET_MID) for k in ("canny", "depth")}
                   if controlnets else {})
            vae = AutoencoderTiny(**TAESD)
            common = dict(bos_token_id=0, eos_token_id=1, pad_token_id=1,
                          vocab_size=len(tok), max_position_embeddings=77)
            encoders = [CLIPTextModel(CLIPTextConfig(**common, **CLIP_L)),
                        CLIPTextModelWithProjection(CLIPTextConfig(**common, **CLIP_G))]
        scheduler = DDPMScheduler(beta_schedule="scaled_linear", beta_start=0.00085,
                                  beta_end=0.012)
    depth, processor = tm.tiny_depth()
    for m in (unet, vae, *encoders, *cns.values(), depth):
        m.requires_grad_(False).eval()
    return SDSComponents(family="sdxl", unet=unet, vae=vae, scheduler=scheduler,
                         text_encoders=encoders, tokenizers=[tok, tm.tiny_tokenizer()],
                         controlnets=cns, depth_estimator=depth, depth_processor=processor,
                         names={"model": "random SDXL" if not tiny else "tiny SDXL"})


def end_to_end(tiny: bool, device: torch.device, dtype: str, steps: int) -> dict[str, Any]:
    from PIL import Image

    from craftpix.engines.sds.run import run_sds

    comps = components(tiny, device)
    rng = np.random.default_rng(0)
    arr = np.zeros((96, 96, 3), dtype=np.uint8)
    arr[16:80, 24:72] = (200, 40, 40)
    arr += rng.integers(0, 20, arr.shape, dtype=np.uint8)
    image = Image.fromarray(arr)
    # non-square (canvas padded to the size multiple, latent mask on): 32×48 cells
    rows, cols = (16, 24) if tiny else (32, 48)
    reference = np.asarray(image.resize((cols, rows), Image.Resampling.BOX)) / 255.0
    palette = rng.random((24, 3))
    settings = SDSSettings(device=device.type, dtype=dtype,
                           resolution=64 if tiny else None, optim={"warmup": 2})
    cuda = device.type == "cuda"
    if cuda:
        # As a loaded run starts: weights already in the run's dtype (the fp32 build above is
        # not the run's memory), text encoders on the CPU until they encode the prompt.
        half = torch.float16 if dtype == "fp16" else torch.bfloat16
        for m in (comps.unet, *comps.controlnets.values()):
            m.to(dtype=half)
        for m in comps.text_encoders:
            m.to(device="cpu", dtype=half)
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
        torch.cuda.set_sync_debug_mode("warn")  # every host sync becomes a warning
    try:
        with tempfile.TemporaryDirectory() as out, warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            t0 = time.perf_counter()
            result = run_sds(settings, prompt="a red rose", image=image,
                             reference_rgb=reference, palette_rgb=palette, height=rows,
                             width=cols, colors=None, medium="beads", steps=steps, seed=0,
                             smooth=20.0, out_dir=Path(out), quiet=True, components=comps)
            seconds = time.perf_counter() - t0
    finally:
        if cuda:
            torch.cuda.set_sync_debug_mode(0)
    # Host syncs by the line that caused them: a line with about one per step is a per-step
    # sync; the loop's own reads are every 10 (NaN check) and 25 steps (statistics).
    syncs = Counter(f"{Path(w.filename).name}:{w.lineno}" for w in seen
                    if "synchroniz" in str(w.message).lower())
    grads = [h.get("grad_norm", float("nan")) for h in result.history]
    return {"ok": bool(np.isfinite(grads).all()) and result.steps == steps,
            "steps": result.steps, "seconds_total": round(seconds, 2),
            "s_per_step_incl_setup": round(seconds / steps, 3),
            "entropy_end": round(result.entropy, 4), "grad_norm_last": grads[-1],
            "dtype": dtype, "peak_memory_gib": _peak(device), "cells": f"{cols}x{rows}",
            "host_syncs_by_line": dict(syncs.most_common(20))}


def presets(tiny: bool, device: torch.device, paper_steps: int = 20) -> dict[str, Any]:
    """Time each ``--quality`` preset end to end on a prompt alone (see the module doc)."""
    from craftpix.engines.sds.run import run_sds
    from craftpix.engines.sds.settings import QUALITY
    from craftpix.engines.sds.stages import TITLES

    comps = components(tiny, device)
    cuda = device.type == "cuda"
    if cuda:  # as a loaded run starts: fp16 weights, text encoders on the CPU
        for m in (comps.unet, *comps.controlnets.values()):
            m.to(dtype=torch.float16)
        for m in comps.text_encoders:
            m.to(device="cpu", dtype=torch.float16)
        torch.cuda.empty_cache()
    palette = np.random.default_rng(0).random((96, 3))  # a bead catalog has ~50-200 colors
    small = dict(candidates=2, reference_steps=2) if tiny else {}
    runs = [("draft", "draft", None, {}), ("draft_4_steps", "draft", None, {"reference_steps": 4}),
            ("fine", "fine", 3 if tiny else None, {}), ("paper", "paper", 2 if tiny else paper_steps, {})]
    out: dict[str, Any] = {"cells": "48x48", "colors": 16, "palette": len(palette)}
    for name, quality, steps, extra in runs:
        settings = SDSSettings(device=device.type, dtype="fp16" if cuda else "fp32",
                               quality=quality, fuse_qkv=False,
                               resolution=32 if tiny else None, **{**small, **extra})
        reports: list[tuple[float, str]] = []
        if cuda:
            torch.cuda.synchronize(device)
            torch.cuda.reset_peak_memory_stats(device)
        t0 = time.perf_counter()

        def report(label: str, fraction: float, reports=reports, t0=t0) -> None:
            reports.append((time.perf_counter() - t0, label))

        with tempfile.TemporaryDirectory() as tmp:
            result = run_sds(settings, prompt="a red rose", image=None, reference_rgb=None,
                             palette_rgb=palette, height=48, width=48, colors=16,
                             medium="beads", steps=steps, seed=0, smooth=20.0,
                             out_dir=Path(tmp), quiet=True, components=comps,
                             on_progress=report)
        _sync(device)
        seconds = time.perf_counter() - t0
        starts = {}
        for at, label in reports:
            for stage, title in TITLES.items():
                if label.startswith(title):
                    starts.setdefault(stage, at)
        order = sorted(starts.items(), key=lambda kv: kv[1])
        stage_s = {stage: round((order[i + 1][1] if i + 1 < len(order) else seconds) - at, 2)
                   for i, (stage, at) in enumerate(order)}
        out[name] = {"seconds": round(seconds, 2), "steps": result.steps,
                     "stage_seconds": stage_s, "peak_memory_gib": _peak(device),
                     "candidates": result.reference_meta.get("candidates"),
                     "reference_steps": result.reference_meta.get("steps")}
    paper, full = out["paper"], QUALITY["paper"].steps
    per_step = paper["stage_seconds"].get("sds", 0.0) / max(1, paper["steps"])
    out["paper_estimate"] = {
        "steps": full, "s_per_step": round(per_step, 4),
        "seconds": round(paper["seconds"] - paper["stage_seconds"].get("sds", 0.0)
                         + per_step * full, 1), "extrapolated_from_steps": paper["steps"]}
    return out


def _step_gradient(comps: SDSComponents, device: torch.device, dtype: torch.dtype,
                   step: int, res: int) -> torch.Tensor:
    text = encode_text(comps.tokenizers, comps.text_encoders, "a red rose", "", sdxl=True)
    text.time_ids = sdxl_time_ids(res, res)
    bf16_ok = device.type == "cuda" and torch.cuda.is_bf16_supported()
    vae_dtype = encoder_dtype(comps.vae, dtype, bf16_ok=bf16_ok)
    comps.vae.to(device=device, dtype=vae_dtype)
    comps.unet.to(device=device, dtype=dtype)
    obj = SDSObjective(unet=comps.unet, encoder=LatentEncoder(comps.vae, dtype=vae_dtype),
                       alphas_cumprod=comps.alphas_cumprod, text=text, size=(res, res),
                       config=SDSConfig(augment=AugmentConfig.off()), device=device,
                       dtype=dtype)
    palette = np.random.default_rng(0).random((24, 3))
    gen = Generator.random(32, 32, palette, torch.Generator().manual_seed(0)).to(device)
    noise = torch.Generator(device=device).manual_seed(step)
    render = gen.gumbel(1.0, noise)
    obj.loss(render, step, 10, torch.Generator().manual_seed(step), noise_rng=noise).backward()
    return gen.logits.grad.detach().float().flatten().cpu()


def precision(tiny: bool, device: torch.device, kinds: list[str]) -> dict[str, Any]:
    """Cosine of the logits' gradient in reduced precision vs fp32, over a few steps.

    The fp32 reference is true fp32: TF32 (which an earlier ``run_sds`` switches on for the
    process, and cuDNN allows by default) is off during this section, then restored.
    """
    flags = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        return _precision(tiny, device, kinds)
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = flags


def _precision(tiny: bool, device: torch.device, kinds: list[str]) -> dict[str, Any]:
    comps = components(tiny, device, controlnets=False)
    fp32 = {k: v.detach().to("cpu", copy=True) for k, v in comps.unet.state_dict().items()}
    for m in comps.text_encoders:
        m.to(device)
    res = 64 if tiny else 1024
    steps = [0, 3, 6, 9]  # t from high to low noise (anneal over 10 steps)
    ref = [_step_gradient(comps, device, torch.float32, s, res) for s in steps]
    out: dict[str, Any] = {"steps": steps, "resolution": res, "tf32": False}
    for kind in kinds:
        dt = {"fp16": torch.float16, "bf16": torch.bfloat16}[kind]
        comps.unet.to(dtype=torch.float32).load_state_dict(fp32)  # not fp16-rounded weights
        cos = []
        for s, g32 in zip(steps, ref, strict=True):
            g = _step_gradient(comps, device, dt, s, res)
            cos.append(float(torch.nn.functional.cosine_similarity(g, g32, dim=0)))
        out[kind] = {"cosine_mean": round(float(np.mean(cos)), 4),
                     "cosine_min": round(float(np.min(cos)), 4),
                     "cosine": [round(c, 4) for c in cos]}
    return out


def speed(tiny: bool, device: torch.device, compile_modes: list[bool]) -> list[dict[str, Any]]:
    from sds_step import bench

    dtype = torch.float16 if device.type == "cuda" else torch.float32
    runs: list[dict[str, Any]] = []
    if tiny:
        runs.append(bench("sd15", 0, 1, 1, device, dtype, 64, "tiny", 8, False))
        return runs
    for comp in compile_modes:
        runs.append(bench("sdxl", 2, 5, 2 if comp else 1, device, dtype, None, "tiny", 48,
                          False, compile=comp, channels_last=True, fuse_qkv=True))
        torch.cuda.empty_cache()
    if False in compile_modes:
        runs.append(bench("sd15", 2, 5, 1, device, dtype, None, "tiny", 48, False,
                          channels_last=True, fuse_qkv=True))
    return runs


def compiled_run(tiny: bool, device: torch.device, steps: int = 12) -> dict[str, Any]:
    """The production ``--compile`` path on CUDA: ``run_sds`` with the tiny SDXL-family
    networks (native 64², so compiled as CUDA graphs) on a non-square 24×12 pattern
    (letterboxed canvas, latent mask, warped controls), against the same run uncompiled.

    Skipped off CUDA (inductor on the CPU would take minutes inside the test suite)."""
    from PIL import Image

    from craftpix.engines.sds.run import run_sds

    if device.type != "cuda":
        return {"skipped": "CUDA only"}
    rng = np.random.default_rng(1)
    arr = rng.integers(0, 255, (48, 96, 3), dtype=np.uint8)
    image = Image.fromarray(arr)
    reference = np.asarray(image.resize((24, 12), Image.Resampling.BOX)) / 255.0
    palette = rng.random((12, 3))
    out: dict[str, Any] = {"cells": "24x12"}
    for compiled in (False, True):
        settings = SDSSettings(device="cuda", dtype="fp16", resolution=64, compile=compiled,
                               optim={"warmup": 2})
        with tempfile.TemporaryDirectory() as folder:
            t0 = time.perf_counter()
            result = run_sds(settings, prompt="a red rose", image=image,
                             reference_rgb=reference, palette_rgb=palette, height=12,
                             width=24, colors=None, medium="beads", steps=steps, seed=0,
                             smooth=20.0, out_dir=Path(folder), quiet=True,
                             components=components(True, device))
            seconds = time.perf_counter() - t0
        grads = [h.get("grad_norm", float("nan")) for h in result.history]
        out["compiled" if compiled else "eager"] = {
            "ok": bool(np.isfinite(grads).all()) and result.steps == steps,
            "seconds_total": round(seconds, 2), "grad_norm": [round(g, 5) for g in grads],
            "indices": result.indices.tolist()}
    eager, comp = out["eager"], out["compiled"]
    out["same_pattern_fraction"] = float(np.mean(
        np.asarray(eager.pop("indices")) == np.asarray(comp.pop("indices"))))
    return out


def speed_graphs(tiny: bool, device: torch.device) -> list[dict[str, Any]]:
    """SD 1.5 + 2 ControlNets at 512², compiled with CUDA graphs (what ``--compile`` picks for
    512² models) — last, as its compile time is the least predictable."""
    from sds_step import bench

    if tiny:  # the script's CPU test: the code path, without inductor
        return []
    dtype = torch.float16
    return [bench("sd15", 2, 10, 3, device, dtype, None, "tiny", 48, False, compile=True,
                  channels_last=True, fuse_qkv=True, cuda_graphs=True)]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=Path("gpu_check.json"))
    p.add_argument("--device", default="cuda")
    p.add_argument("--tiny", action="store_true", help="tiny models (CPU test of the script)")
    p.add_argument("--steps", type=int, default=20, help="end-to-end steps")
    p.add_argument("--no-compile", action="store_true", help="skip the compile-on timing")
    p.add_argument("--sections",
                   default="end_to_end,presets,precision,compiled_run,speed,speed_graphs,"
                           "speed_compiled",
                   help="comma-separated subset of the sections to run")
    args = p.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("no CUDA device: run with --tiny --device cpu to test the script", file=sys.stderr)
        return 2
    cuda = device.type == "cuda"
    report: dict[str, Any] = {"environment": {
        "torch": torch.__version__, "cuda": torch.version.cuda, "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if cuda else platform.machine(),
        "bf16_supported": bool(cuda and torch.cuda.is_bf16_supported()), "tiny": args.tiny,
        "versions": _versions()}}
    kinds = ["fp16", "bf16"] if cuda else ["bf16"]
    sections = [
        ("end_to_end", lambda: end_to_end(args.tiny, device, "fp16" if cuda else "fp32",
                                          args.steps)),
        ("presets", lambda: presets(args.tiny, device)),
        ("precision", lambda: precision(args.tiny, device, kinds)),
        ("compiled_run", lambda: compiled_run(args.tiny, device)),
        ("speed", lambda: speed(args.tiny, device, [False])),
        ("speed_graphs", lambda: [] if args.no_compile else speed_graphs(args.tiny, device)),
        # last: compiling the SDXL UNet takes the longest and is the least predictable
        ("speed_compiled", lambda: [] if args.no_compile or args.tiny
         else speed(False, device, [True])),
    ]
    wanted = set(args.sections.split(","))
    sections = [(name, run) for name, run in sections if name in wanted]
    failed = 0
    t_all = time.perf_counter()
    for name, run in sections:
        t0 = time.perf_counter()
        try:
            report[name] = run()
        except Exception as exc:  # recorded, and the next section still runs
            failed += 1
            report[name] = {"error": f"{type(exc).__name__}: {exc}"[:2000],
                            "traceback": traceback.format_exc()[-4000:]}
        report.setdefault("section_seconds", {})[name] = round(time.perf_counter() - t0, 1)
        if cuda:
            torch.cuda.empty_cache()
        args.out.write_text(json.dumps(report, indent=2, default=str) + "\n")
        print(f"{name}: {'failed' if 'error' in report[name] else 'ok'}", file=sys.stderr)
    report["total_seconds"] = round(time.perf_counter() - t_all, 1)
    args.out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
