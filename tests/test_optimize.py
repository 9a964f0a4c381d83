"""The shared optimization loop: FFT term, warm-up, color budget, checkpoints."""

import numpy as np
import pytest
import torch

from craftpix.engines.sds.generator import Generator
from craftpix.engines.sds.optimize import (
    ColorBudget,
    Interrupted,
    OptimConfig,
    fft_loss,
    optimize,
    warmup_factor,
)
from craftpix.errors import InputError

PALETTE = np.array([[0, 0, 0], [1, 1, 1], [0.9, 0.1, 0.1], [0.1, 0.7, 0.2], [0.1, 0.2, 0.9]])


class TargetObjective:
    """Pull the render toward a fixed image (a stand-in for any engine)."""

    def __init__(self, target: torch.Tensor) -> None:
        self.target = target
        self.calls = 0

    def loss(self, render, step, total, rng):
        self.calls += 1
        return ((render - self.target) ** 2).mean()


def _target(h=6, w=6, seed=0):
    idx = np.random.default_rng(seed).integers(0, len(PALETTE), size=(h, w))
    img = torch.as_tensor(PALETTE[idx], dtype=torch.float32).permute(2, 0, 1).unsqueeze(0)
    return idx, img


def test_fft_loss_is_zero_for_flat_and_large_for_checkerboard():
    flat = torch.full((1, 3, 16, 16), 0.4)
    yy, xx = torch.meshgrid(torch.arange(16), torch.arange(16), indexing="ij")
    checker = ((yy + xx) % 2).float().expand(1, 3, 16, 16)
    assert float(fft_loss(flat)) == pytest.approx(0.0, abs=1e-5)
    assert float(fft_loss(checker)) > 0.1
    smooth = (0.5 + 0.5 * torch.cos(2 * torch.pi * xx.float() / 16)).expand(1, 3, 16, 16)
    assert float(fft_loss(checker)) > 10 * float(fft_loss(smooth))


def test_fft_loss_has_gradients():
    x = torch.rand(1, 3, 8, 8, requires_grad=True)
    fft_loss(x, grayscale=False).backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_warmup_is_linear_then_constant():
    assert warmup_factor(0, 250) == pytest.approx(1 / 250)
    assert warmup_factor(124, 250) == pytest.approx(0.5)
    assert warmup_factor(249, 250) == 1.0 and warmup_factor(5000, 250) == 1.0
    assert warmup_factor(0, 0) == 1.0


def test_loop_reaches_a_palette_target():
    idx, target = _target()
    gen = Generator.random(6, 6, PALETTE, torch.Generator().manual_seed(0))
    obj = TargetObjective(target)
    res = optimize(gen, obj, OptimConfig(steps=200, lr=0.1, warmup=10, fft_weight=0.0),
                   progress=False)
    assert obj.calls == 200 and res.steps == 200
    assert (res.indices == idx).mean() > 0.95
    assert res.history[-1]["loss"] < res.history[0]["loss"]


def test_same_seed_same_result_and_other_seed_differs():
    _, target = _target()

    def run(seed):
        gen = Generator.random(6, 6, PALETTE, torch.Generator().manual_seed(0))
        return optimize(gen, TargetObjective(target),
                        OptimConfig(steps=20, seed=seed, warmup=5), progress=False)

    a, b, c = run(1), run(1), run(2)
    assert np.array_equal(a.indices, b.indices)
    assert [h["tau"] for h in a.history] == [h["tau"] for h in b.history]
    assert [h["tau"] for h in a.history] != [h["tau"] for h in c.history]


def test_resume_matches_an_uninterrupted_run(tmp_path):
    _, target = _target()
    config = OptimConfig(steps=30, seed=3, warmup=5)

    full_gen = Generator.random(6, 6, PALETTE, torch.Generator().manual_seed(0))
    optimize(full_gen, TargetObjective(target), config, progress=False)

    gen = Generator.random(6, 6, PALETTE, torch.Generator().manual_seed(0))
    optimize(gen, TargetObjective(target), OptimConfig(steps=12, seed=3, warmup=5),
             progress=False, checkpoint_dir=tmp_path, checkpoint_every=12)
    fresh = Generator.random(6, 6, PALETTE, torch.Generator().manual_seed(99))
    optimize(fresh, TargetObjective(target), config, progress=False,
             checkpoint_dir=tmp_path, resume=True)
    assert torch.equal(fresh.logits, full_gen.logits)


def test_resume_without_checkpoint_or_with_other_size_is_a_clear_error(tmp_path):
    _, target = _target()
    gen = Generator.random(6, 6, PALETTE, torch.Generator().manual_seed(0))
    with pytest.raises(InputError, match="no checkpoint"):
        optimize(gen, TargetObjective(target), OptimConfig(steps=3), progress=False,
                 checkpoint_dir=tmp_path, resume=True)
    optimize(gen, TargetObjective(target), OptimConfig(steps=2), progress=False,
             checkpoint_dir=tmp_path, checkpoint_every=1)
    other = Generator.random(5, 5, PALETTE, torch.Generator().manual_seed(0))
    with pytest.raises(InputError, match="different pattern size"):
        optimize(other, TargetObjective(target[..., :5, :5]), OptimConfig(steps=3),
                 progress=False, checkpoint_dir=tmp_path, resume=True)


def test_ctrl_c_saves_a_checkpoint_that_resumes(tmp_path):
    _, target = _target()

    class Interrupting(TargetObjective):
        def loss(self, render, step, total, rng):
            if step == 7:
                raise KeyboardInterrupt
            return super().loss(render, step, total, rng)

    config = OptimConfig(steps=15, seed=1, warmup=3)
    gen = Generator.random(6, 6, PALETTE, torch.Generator().manual_seed(0))
    with pytest.raises(Interrupted, match="--resume"):
        optimize(gen, Interrupting(target), config, progress=False, checkpoint_dir=tmp_path)
    assert (tmp_path / "checkpoint.pt").is_file()
    resumed = Generator.random(6, 6, PALETTE, torch.Generator().manual_seed(0))
    optimize(resumed, TargetObjective(target), config, progress=False,
             checkpoint_dir=tmp_path, resume=True)
    straight = Generator.random(6, 6, PALETTE, torch.Generator().manual_seed(0))
    optimize(straight, TargetObjective(target), config, progress=False)
    assert torch.equal(resumed.logits, straight.logits)


def test_color_budget_prunes_to_n_colors():
    gen = Generator.random(12, 12, PALETTE, torch.Generator().manual_seed(0))
    _, target = _target(12, 12)
    budget = ColorBudget(2, total_steps=40)
    assert budget.target(0, 5) == 5 and budget.target(40, 5) == 2
    res = optimize(gen, TargetObjective(target), OptimConfig(steps=40, warmup=5),
                   hooks=[budget], progress=False)
    assert int(gen.active.sum()) == 2
    assert len(np.unique(res.indices)) <= 2
    with pytest.raises(InputError):
        ColorBudget(0, 10)
