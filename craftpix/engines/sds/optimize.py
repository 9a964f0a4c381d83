"""The optimization loop shared by every engine.

One step: draw τ, render a Gumbel-softmax sample, ask the objective for its loss, add the
SD-πXL FFT smoothness term, take an AdamW step (warm-up, grad-norm clip), re-center logits.
The loop knows nothing about models, files of the pattern or PDFs: an objective is any object
with ``loss(render, step, total, rng)``; hooks see the generator after each step.

Random numbers come from two generators, both seeded from ``OptimConfig.seed`` and both saved
in checkpoints: a CPU one for the few scalars of a step (τ, t, augmentation) and one on the
logits' device for the big tensors (Gumbel noise, latent noise), so nothing large crosses the
bus. On the CPU the first serves for both (``OptimConfig.device_noise``). The loop never waits for the device inside a step: per-step statistics stay tensors and
are read back every ``sync_every`` steps (and at checkpoints and the end).
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

from craftpix.engines.sds.generator import Generator
from craftpix.errors import CraftpixError, InputError, printable
from craftpix.fileio import atomic_path

CHECKPOINT_NAME = "checkpoint.pt"
NOISE_SEED_OFFSET = 0x6E015E  # the device generator's seed is config.seed + this


class Objective(Protocol):
    """What an engine must provide: a scalar loss for a training render.

    ``render`` is the Gumbel-softmax sample as an image (1, 3, H, W). An objective that sets
    ``uses_weights = True`` also receives the sample's per-color weights (H, W, n) as
    ``weights=``: objectives that score palette colors directly need them. One that sets
    ``uses_noise_rng = True`` receives the loop's device generator as ``noise_rng=`` for its
    large random tensors. An objective may expose ``stats``: a dict of scalar tensors (or
    floats) about its last step, added to the loop's history without a host sync.
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
    sync_every: int = 25  # read per-step statistics back from the device this often
    #: Draw the large random tensors from a second generator on the logits' device. None:
    #: only when that device is not the CPU (on the CPU one generator serves, as before).
    device_noise: bool | None = None


@dataclass
class OptimResult:
    indices: np.ndarray  # (H, W) palette indices of the argmax render
    steps: int
    seconds: float
    #: Per step: "loss" (the objective's), "smooth" (FFT term), "tau", "entropy" (mean
    #: normalized per-cell entropy after the step) and the objective's ``stats``.
    history: list[dict[str, float]] = field(default_factory=list)
    entropy: float = 0.0  # mean normalized per-cell entropy at the end: 0 = every cell decided
    #: Reference first: the chosen reference image (saved as ``reference.png`` beside the
    #: pattern) and what the run made of it (candidate seeds and scores, the scorer).
    reference: Any = None
    reference_meta: dict[str, Any] = field(default_factory=dict)


class Interrupted(CraftpixError):
    """Ctrl-C during a run; the message says where the checkpoint is."""

    exit_code = 130


def fft_loss(image: torch.Tensor, grayscale: bool = True) -> torch.Tensor:
    """Mean magnitude of the high frequencies of ``image`` (1, 3, H, W), one pixel per cell.

    F = fftshift(fft2(x)); the mask is 1 outside a centred disc of radius 1/(4√2) cycles per
    cell, measured per axis (bin k of an axis of n cells is k/n cycles per cell), and the loss
    is Σ|F|·mask / Σmask. For a square image this is SD-πXL's disc of radius min(H, W)/(4√2)
    bins; for a non-square one the same spatial frequencies count on both axes, whatever the
    aspect ratio. Penalizing it favors flat regions: the SD-πXL smoothness term.
    """
    x = image
    if grayscale:
        x = (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]).unsqueeze(1)
    h, w = x.shape[-2:]
    spec = torch.fft.fftshift(torch.fft.fft2(x), dim=(-2, -1)).abs()
    fy = (torch.arange(h, device=x.device, dtype=x.dtype) - h // 2) / h
    fx = (torch.arange(w, device=x.device, dtype=x.dtype) - w // 2) / w
    cutoff = 1 / (4 * math.sqrt(2))
    mask = ((fy[:, None] ** 2 + fx[None, :] ** 2) > cutoff**2).to(x.dtype)
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
        self._active: int | None = None  # known on the host: no per-step device read


    def target(self, step: int, n_all: int) -> int:
        s, e = self.start * self.total, self.end * self.total
        if step < s:
            return n_all
        frac = 1.0 if step >= e or e <= s else (step - s) / (e - s)
        return max(self.n, round(n_all - frac * (n_all - self.n)))

    @torch.no_grad()
    def __call__(self, step: int, gen: Generator) -> None:
        if self._active is None:  # once per run (a resumed run starts pruned)
            self._active = int(gen.active.sum())
        k = self.target(step + 1, gen.n_colors)
        if k >= self._active:
            return
        counts = torch.bincount(gen.indices().flatten(), minlength=gen.n_colors).float()
        mass = gen.probabilities().sum(dim=(0, 1))
        score = (counts + mass / (mass.sum() + 1e-9)).masked_fill(~gen.active, -1.0)
        gen.restrict_(torch.topk(score, k).indices)
        self._active = k


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
    """Run ``config.steps`` steps of ``objective`` on ``gen`` and return the argmax pattern.

    Raises :class:`Interrupted` on Ctrl-C (after saving a checkpoint when ``checkpoint_dir``
    is given) and :class:`InputError` for a checkpoint that does not fit.
    """
    rng = torch.Generator().manual_seed(config.seed)
    device = gen.logits.device
    separate = config.device_noise if config.device_noise is not None else device.type != "cpu"
    noise_rng = (torch.Generator(device=device).manual_seed(config.seed + NOISE_SEED_OFFSET)
                 if separate else rng)
    opt = torch.optim.AdamW(
        [gen.logits], lr=config.lr, betas=config.betas, weight_decay=config.weight_decay
    )
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: warmup_factor(s, config.warmup))
    # What a checkpoint holds besides the RNGs: everything with a state_dict.
    parts = {"generator": gen, "optimizer": opt, "scheduler": sched}
    rngs = {"rng": rng, "noise_rng": noise_rng} if separate else {"rng": rng}
    start = 0
    if resume:
        if checkpoint_dir is None:
            raise InputError("resume needs the folder of an earlier run")
        start = load_checkpoint(Path(checkpoint_dir), parts, rngs, config)
    uses_weights = getattr(objective, "uses_weights", False)
    uses_noise_rng = getattr(objective, "uses_noise_rng", False)
    tau_lo, tau_hi = config.tau_range

    history: list[dict[str, float]] = []
    pending: list[dict[str, Any]] = []  # this window's statistics, still on the device
    t0 = time.perf_counter()
    bar = tqdm(total=config.steps, initial=start, desc=desc, unit="step", disable=not progress)

    def flush() -> None:
        """Read the pending statistics back in one transfer (the only host sync)."""
        if not pending:
            return
        cells = [(i, k, v) for i, row in enumerate(pending) for k, v in row.items()
                 if isinstance(v, torch.Tensor)]
        read = torch.stack([v.detach().reshape(()).float() for _, _, v in cells]).cpu().tolist() \
            if cells else []
        rows = [{k: float(v) for k, v in row.items() if not isinstance(v, torch.Tensor)}
                for row in pending]
        for (i, k, _), value in zip(cells, read, strict=True):
            rows[i][k] = value
        history.extend(rows)
        pending.clear()
        last = history[-1]
        shown = {"H": f"{last['entropy']:.3f}"}
        if "grad_norm" in last:
            shown["grad"] = f"{last['grad_norm']:.3g}"
        else:
            shown["loss"] = f"{last['loss']:.4g}"
        bar.set_postfix(shown, refresh=False)

    step = start
    saved = {name: g.get_state() for name, g in rngs.items()}
    try:
        for step in range(start, config.steps):
            saved = {name: g.get_state() for name, g in rngs.items()}  # Ctrl-C rewinds here
            tau = tau_lo + (tau_hi - tau_lo) * float(torch.rand((), generator=rng))
            weights = gen.gumbel_weights(tau, noise_rng)
            render = gen.mix(weights)
            extra: dict[str, Any] = {}
            if uses_weights:
                extra["weights"] = weights
            if uses_noise_rng:
                extra["noise_rng"] = noise_rng
            loss = objective.loss(render, step, config.steps, rng, **extra)
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
            row: dict[str, Any] = {"loss": loss.detach(), "tau": tau,
                                   "smooth": 0.0 if smooth is None else smooth.detach(),
                                   "entropy": gen.entropy().mean()}
            row.update(getattr(objective, "stats", None) or {})
            pending.append(row)
            bar.update(1)
            if config.sync_every <= 1 or (step + 1) % config.sync_every == 0:
                flush()
            if checkpoint_dir and checkpoint_every and (step + 1) % checkpoint_every == 0:
                flush()
                save_checkpoint(Path(checkpoint_dir), parts, rngs, config, step + 1)
        step = config.steps
    except KeyboardInterrupt:
        bar.close()
        if checkpoint_dir is None:
            raise Interrupted(f"interrupted at step {step}; nothing was saved") from None
        # The step in flight is dropped: resuming redoes it from the RNG states it began with.
        for name, g in rngs.items():
            g.set_state(saved[name])
        save_checkpoint(Path(checkpoint_dir), parts, rngs, config, step)
        raise Interrupted(
            f"interrupted at step {step} of {config.steps}; "
            f"continue with --resume {checkpoint_dir}"
        ) from None
    flush()
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
    folder: Path, parts: Mapping[str, Any], rngs: Mapping[str, torch.Generator],
    config: OptimConfig, step: int,
) -> Path:
    """Everything needed to continue bit-for-bit: logits, Adam moments, RNGs, step.

    ``parts`` names the objects with a ``state_dict`` (generator, optimizer, scheduler);
    ``rngs`` the random generators (the CPU one and the device one), saved as CPU tensors.
    """
    folder.mkdir(parents=True, exist_ok=True)
    state = {
        "step": step,
        **{name: part.state_dict() for name, part in parts.items()},
        **{name: g.get_state().cpu() for name, g in rngs.items()},
        "config": asdict(config),
    }
    path = folder / CHECKPOINT_NAME
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    return path


def load_checkpoint(
    folder: Path, parts: Mapping[str, Any], rngs: Mapping[str, torch.Generator],
    config: OptimConfig,
) -> int:
    """Restore what :func:`save_checkpoint` wrote into ``parts`` and ``rngs``; the step.

    Raises :class:`InputError` for a missing, unreadable or foreign checkpoint.
    """
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
        if any(name not in state for name in rngs):
            raise InputError(f"checkpoint {path} was written by an older craftpix; "
                             "start a new run")
        for name, part in parts.items():
            part.load_state_dict(state[name])
        for name, g in rngs.items():
            g.set_state(state[name])
        return int(state["step"])
    except InputError:
        raise
    except Exception as exc:  # missing keys, wrong types, tensors of the wrong shape
        raise InputError(f"checkpoint {path} is not a craftpix checkpoint "
                         f"({type(exc).__name__}: {printable(exc, 120)})") from None
