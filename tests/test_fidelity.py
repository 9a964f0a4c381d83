"""The model-free image engine: faithful, deterministic, and cleaner than nearest color."""

import numpy as np
import pytest
import torch

from craftpix.engines.sds.generator import Generator
from craftpix.guidance.fidelity import FidelityObjective, neighbour_disagreement, run_fidelity
from craftpix.metrics import isolated_cell_rate, mean_delta_e
from craftpix.palette import load_palette

PALETTE = np.array([
    [0.05, 0.05, 0.05], [0.95, 0.95, 0.95], [0.85, 0.1, 0.12], [0.1, 0.55, 0.2],
    [0.12, 0.25, 0.8], [0.95, 0.8, 0.1], [0.55, 0.3, 0.15], [0.6, 0.6, 0.62],
])


def _blocks(h=24, w=24, block=6, seed=0):
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, len(PALETTE), size=(h // block, w // block))
    idx = np.kron(coarse, np.ones((block, block), dtype=int))
    return idx, PALETTE[idx]


def test_flat_palette_blocks_are_reproduced_exactly():
    idx, image = _blocks()
    res = run_fidelity(image, PALETTE, steps=60, seed=0, quiet=True)
    assert np.array_equal(res.indices, idx)


def test_noisy_image_gets_fewer_isolated_cells_than_nearest_mapping():
    idx, image = _blocks(32, 32, 8, seed=1)
    noisy = np.clip(image + np.random.default_rng(2).normal(0, 0.12, image.shape), 0, 1)
    pal = load_palette("perler")
    nearest = pal.nearest(noisy)
    res = run_fidelity(noisy, pal.rgb, steps=150, seed=0, quiet=True)
    assert isolated_cell_rate(res.indices) < 0.5 * isolated_cell_rate(nearest)
    # and it stays faithful to the photo
    assert mean_delta_e(res.indices, pal.rgb, noisy) < 1.15 * mean_delta_e(nearest, pal.rgb, noisy)


def test_argmax_uses_only_palette_indices_and_same_seed_same_pattern():
    rng = np.random.default_rng(3)
    image = rng.random((16, 20, 3))
    a = run_fidelity(image, PALETTE, steps=30, seed=7, quiet=True)
    b = run_fidelity(image, PALETTE, steps=30, seed=7, quiet=True)
    assert a.indices.shape == (16, 20)
    assert a.indices.min() >= 0 and a.indices.max() < len(PALETTE)
    assert np.array_equal(a.indices, b.indices)


def test_smooth_zero_keeps_nearest_on_clean_input():
    idx, image = _blocks(12, 12, 3, seed=4)
    res = run_fidelity(image, PALETTE, steps=30, seed=0, smooth=0.0, quiet=True)
    assert np.array_equal(res.indices, idx)


def test_selected_colors_never_exceed_budget():
    rng = np.random.default_rng(5)
    image = rng.random((20, 20, 3))
    pal = load_palette("dmc")
    for n in (1, 3, 12):
        sub = pal.select(image, n)
        res = run_fidelity(image, sub.rgb, steps=10, seed=0, quiet=True)
        assert len(np.unique(res.indices)) <= n


def test_objective_scores_each_color_not_the_blend():
    # A cell halfway between black and white: a 50/50 blend renders the exact grey, but the
    # objective must charge the expected distance of the two colors, not zero.
    ref = np.full((1, 1, 3), 0.5)
    pal = np.array([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [0.5, 0.5, 0.5]])
    obj = FidelityObjective(ref, pal, agreement=0.0)
    blend = torch.tensor([[[0.5, 0.5, 0.0]]])
    exact = torch.tensor([[[0.0, 0.0, 1.0]]])
    render = torch.full((1, 3, 1, 1), 0.5)
    rng = torch.Generator()
    assert float(obj.loss(render, 0, 1, rng, weights=exact)) == pytest.approx(0.0, abs=1e-6)
    assert float(obj.loss(render, 0, 1, rng, weights=blend)) > 0.3


def test_neighbour_disagreement():
    one_hot = torch.nn.functional.one_hot(torch.tensor([[0, 0], [0, 0]]), 3).float()
    assert float(neighbour_disagreement(one_hot)) == pytest.approx(0.0)
    checker = torch.nn.functional.one_hot(torch.tensor([[0, 1], [1, 0]]), 3).float()
    assert float(neighbour_disagreement(checker)) == pytest.approx(1.0)


def test_objective_gradients_reach_logits():
    idx, image = _blocks(8, 8, 4)
    gen = Generator.from_image(image, PALETTE)
    obj = FidelityObjective(image, PALETTE, multiscale=0.5)
    w = gen.gumbel_weights(1.0, torch.Generator().manual_seed(0))
    obj.loss(gen.mix(w), 0, 1, torch.Generator(), weights=w).backward()
    assert gen.logits.grad is not None and gen.logits.grad.abs().sum() > 0
