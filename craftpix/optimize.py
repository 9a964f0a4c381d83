"""The optimization loop shared by every engine.

One step: draw τ, render a Gumbel-softmax sample, ask the objective for its loss, add the
SD-πXL FFT smoothness term, take an AdamW step (warm-up, grad-norm clip), re-center logits.
The loop knows nothing about models, files of the pattern or PDFs: an objective is any object
with ``loss(render, step, total, rng)``; hooks see the generator after each step.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from tqdm import tqdm

from craftpix.errors import CraftpixError, InputError, printable
from craftpix.fileio import atomic_path
from craftpix.generator import Generator

CHECKPOINT_NAME = "checkpoint.pt"


class Objective(Protocol):
    """What an engine must provide: a scalar loss for a training render.

    ``render`` is the Gumbel-softmax sample as an image (1, 3, H, W). An objective that sets
    ``uses_weights = True`` also receives the sample's per-color weights (H, W, n) as
    ``weights=``: objectives that score palette colors directly need them.
    """

    def loss(
        self, render: torch.Tensor, step: int, total: int, rng: torch.Generator
    ) -> torch.Tensor: ...


Hook = Callable[[int, Generator], None]


@dataclass
class OptimConfig:
    """Loop settings; defaults are SD-πXL's (AdamW, lr 0.025, 250 warm-up steps, clip 1)."""

    steps: int = 1000
    lr: float = 0.025
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.01
    warmup: int = 250
    grad_clip: float = 1.0
    tau_range: tuple[float, float] = (0.5, 1.5)
    fft_weight: float = 20.0
    fft_grayscale: bool = True
    seed: int = 0


@dataclass
class OptimResult:
    indices: np.ndarray  # (H, W) palette indices of the argmax render
    steps: int
    seconds: float
    history: list[dict[str, float]] = field(default_factory=list)
    entropy: float = 0.0  # mean normalized per-cell entropy at the end: 0 = every cell decided


class Interrupted(CraftpixError):
    """Ctrl-C during a run; the message says where the checkpoint is."""

    exit_code = 130


def fft_loss(image: torch.Tensor, grayscale: bool = True) -> torch.Tensor:
    """Mean magnitude of the high frequencies of ``image`` (1, 3, H, W).

    F = fftshift(fft2(x)); the mask is 1 outside a centred disc of radius min(H, W)/(4√2).
    Penalizing it favors flat regions: the SD-πXL smoothness term.
    """
    x = image
    if grayscale:
        x = (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]).unsqueeze(1)
    h, w = x.shape[-2:]
    spec = torch.fft.fftshift(torch.fft.fft2(x), dim=(-2, -1)).abs()
    yy = torch.arange(h, device=x.device, dtype=x.dtype) - h // 2
    xx = torch.arange(w, device=x.device, dtype=x.dtype) - w // 2
    radius = min(h, w) / (4 * math.sqrt(2))
    mask = ((yy[:, None] ** 2 + xx[None, :] ** 2) > radius**2).to(x.dtype)
    return (spec * mask).sum() / (mask.sum() * spec.shape[0] * spec.shape[1]).clamp_min(1)


def warmup_factor(step: int, warmup: int) -> float:
    """Constant learning rate after a linear warm-up of ``warmup`` steps."""
    return 1.0 if warmup <= 0 else min(1.0, (step + 1) / warmup)


class ColorBudget:
    """Prune the palette progressively to the ``n`` most used colors.

    Between ``start`` and ``end`` (fractions of the run) the number of active colors falls
    linearly from the catalog size to ``n``; at each step the least used colors (argmax
    counts, then probability mass) are switched off. Lets prompt-only runs keep a bead or
    thread budget while still exploring the whole catalog early on.
    """

    def __init__(self, n: int, total_steps: int, start: float = 0.1, end: float = 0.6) -> None:
        if n < 1:
            raise InputError("the color budget must be at least 1")
        self.n, self.total = n, total_steps
        self.start, self.end = start, end

    def target(self, step: int, n_all: int) -> int:
        s, e = self.start * self.total, self.end * self.total
        if step < s:
            return n_all
        frac = 1.0 if step >= e or e <= s else (step - s) / (e - s)
        return max(self.n, round(n_all - frac * (n_all - self.n)))

    @torch.no_grad()
    def __call__(self, step: int, gen: Generator) -> None:
        active = int(gen.active.sum())
        k = self.target(step + 1, gen.n_colors)
        if k >= active:
            return
        counts = torch.bincount(gen.indices().flatten(), minlength=gen.n_colors).float()
        mass = gen.probabilities().sum(dim=(0, 1))
        score = (counts + mass / (mass.sum() + 1e-9)).masked_fill(~gen.active, -1.0)
        gen.restrict_(torch.topk(score, k).indices.cpu())


def optimize(
    gen: Generator,
    objective: Objective,
    config: OptimConfig,
    *,
    hooks: Sequence[Hook] = (),
    progress: bool = True,
    desc: str = "optimizing",
    checkpoint_dir: str | os.PathLike[str] | None = None,
    checkpoint_every: int = 0,
    resume: bool = False,
) -> OptimResult:
    """Run ``config.steps`` steps of ``objective`` on ``gen`` and return the argmax pattern."""
    rng = torch.Generator().manual_seed(config.seed)
    opt = torch.optim.AdamW(
        [gen.logits], lr=config.lr, betas=config.betas, weight_decay=config.weight_decay
    )
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: warmup_factor(s, config.warmup))
    # What a checkpoint holds besides the RNG: everything with a state_dict.
    parts = {"generator": gen, "optimizer": opt, "scheduler": sched}
    start = 0
    if resume:
        if checkpoint_dir is None:
            raise InputError("resume needs the folder of an earlier run")
        start = load_checkpoint(Path(checkpoint_dir), parts, rng, config)
    uses_weights = getattr(objective, "uses_weights", False)
    tau_lo, tau_hi = config.tau_range

    history: list[dict[str, float]] = []
    t0 = time.perf_counter()
    bar = tqdm(total=config.steps, initial=start, desc=desc, unit="step", disable=not progress)
    step = start
    step_rng = rng.get_state()
    try:
        for step in range(start, config.steps):
            step_rng = rng.get_state()  # Ctrl-C mid-step rewinds to here
            tau = tau_lo + (tau_hi - tau_lo) * float(torch.rand((), generator=rng))
            weights = gen.gumbel_weights(tau, rng)
            render = gen.mix(weights)
            if uses_weights:
                loss = objective.loss(render, step, config.steps, rng, weights=weights)
            else:
                loss = objective.loss(render, step, config.steps, rng)
            smooth = fft_loss(render, config.fft_grayscale) if config.fft_weight else None
            total = loss + config.fft_weight * smooth if smooth is not None else loss
            opt.zero_grad(set_to_none=True)
            total.backward()
            if config.grad_clip:
                torch.nn.utils.clip_grad_norm_([gen.logits], config.grad_clip)
            opt.step()
            sched.step()
            gen.recenter_()
            for hook in hooks:
                hook(step, gen)
            history.append({"loss": loss.item(), "smooth": 0.0 if smooth is None else smooth.item(), "tau": tau})
            bar.update(1)
            bar.set_postfix(loss=f"{history[-1]['loss']:.4g}", refresh=False)
            if checkpoint_dir and checkpoint_every and (step + 1) % checkpoint_every == 0:
                save_checkpoint(Path(checkpoint_dir), parts, rng, config, step + 1)
        step = config.steps
    except KeyboardInterrupt:
        bar.close()
        if checkpoint_dir is None:
            raise Interrupted(f"interrupted at step {step}; nothing was saved") from None
        # The step in flight is dropped: resuming redoes it from the RNG state it began with.
        rng.set_state(step_rng)
        save_checkpoint(Path(checkpoint_dir), parts, rng, config, step)
        raise Interrupted(
            f"interrupted at step {step} of {config.steps}; "
            f"continue with --resume {checkpoint_dir}"
        ) from None
    bar.close()
    return OptimResult(
        indices=gen.indices().cpu().numpy(),
        steps=step,
        seconds=time.perf_counter() - t0,
        history=history,
        entropy=float(gen.entropy().mean()),
    )


# --- checkpoints ------------------------------------------------------------------------------
def save_checkpoint(
    folder: Path, parts: Mapping[str, Any], rng: torch.Generator, config: OptimConfig, step: int
) -> Path:
    """Everything needed to continue bit-for-bit: logits, Adam moments, RNG, step.

    ``parts`` names the objects with a ``state_dict`` (generator, optimizer, scheduler).
    """
    folder.mkdir(parents=True, exist_ok=True)
    state = {
        "step": step,
        **{name: part.state_dict() for name, part in parts.items()},
        "rng": rng.get_state(),
        "config": asdict(config),
    }
    path = folder / CHECKPOINT_NAME
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    return path


def load_checkpoint(
    folder: Path, parts: Mapping[str, Any], rng: torch.Generator, config: OptimConfig
) -> int:
    """Restore what :func:`save_checkpoint` wrote into ``parts`` and ``rng``; the step."""
    path = folder / CHECKPOINT_NAME
    if not path.is_file():
        raise InputError(f"no checkpoint to resume from in {folder}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated or foreign file
        raise InputError(f"cannot read checkpoint {path}: {printable(exc, 120)}") from None
    try:  # the structure is checked inside the error handling: a foreign file is one line
        saved = state.get("generator", {}).get("logits")
        if saved is None or tuple(saved.shape) != tuple(parts["generator"].logits.shape):
            raise InputError(
                f"checkpoint {path} is for a different pattern size or palette; "
                "start a new run or use the same --size and colors"
            )
        if state["config"].get("steps") != config.steps and state["step"] > config.steps:
            raise InputError(f"checkpoint is already past step {config.steps}")
        for name, part in parts.items():
            part.load_state_dict(state[name])
        rng.set_state(state["rng"])
        return int(state["step"])
    except InputError:
        raise
    except Exception as exc:  # missing keys, wrong types, tensors of the wrong shape
        raise InputError(f"checkpoint {path} is not a craftpix checkpoint "
                         f"({type(exc).__name__}: {printable(exc, 120)})") from None
