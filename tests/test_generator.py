"""The palette-constrained generator: renders, init, invariances."""

import math

import numpy as np
import pytest
import torch

from craftpix.engines.sds.generator import Generator

PALETTE = np.array([[0, 0, 0], [1, 1, 1], [0.8, 0.1, 0.1], [0.1, 0.6, 0.2], [0.1, 0.2, 0.8]])


def test_argmax_uses_only_palette_colors():
    gen = Generator.random(9, 7, PALETTE, torch.Generator().manual_seed(0))
    img = gen.argmax()[0].permute(1, 2, 0).reshape(-1, 3).numpy()
    dist = np.abs(img[:, None, :] - PALETTE[None].astype(np.float32)).sum(-1).min(1)
    assert img.shape == (63, 3)
    assert dist.max() == 0.0


def test_render_shapes_and_ranges():
    gen = Generator.random(5, 6, PALETTE, torch.Generator().manual_seed(1))
    for render in (gen.gumbel(1.0, torch.Generator().manual_seed(2)), gen.softmax(), gen.argmax()):
        assert render.shape == (1, 3, 5, 6)
        assert render.detach().min() >= 0.0 and render.detach().max() <= 1.0


def test_random_init_is_centered_with_norm_sqrt_n():
    gen = Generator.random(4, 4, PALETTE, torch.Generator().manual_seed(0))
    logits = gen.logits.detach()
    assert torch.allclose(logits.mean(-1), torch.zeros(4, 4), atol=1e-6)
    assert torch.allclose(logits.norm(dim=-1), torch.full((4, 4), math.sqrt(5)), atol=1e-5)


def test_image_init_argmax_is_nearest_color():
    rng = np.random.default_rng(0)
    idx = rng.integers(0, len(PALETTE), size=(6, 8))
    image = PALETTE[idx] + rng.normal(0, 0.02, size=(6, 8, 3))
    gen = Generator.from_image(np.clip(image, 0, 1), PALETTE)
    assert (gen.indices().numpy() == idx).all()
    norms = gen.logits.detach().norm(dim=-1)
    assert torch.allclose(norms, norms.mean().expand_as(norms), atol=1e-4)


def test_image_init_rgb_l1_metric_and_unknown_metric():
    image = PALETTE[[[0, 1], [2, 3]]]
    gen = Generator.from_image(image, PALETTE, metric="rgb-l1")
    assert gen.indices().tolist() == [[0, 1], [2, 3]]
    with pytest.raises(ValueError):
        Generator.from_image(image, PALETTE, metric="nope")


def test_gradients_reach_logits():
    gen = Generator.random(3, 3, PALETTE, torch.Generator().manual_seed(0))
    render = gen.gumbel(0.7, torch.Generator().manual_seed(1))
    render.mean().backward()
    assert gen.logits.grad is not None
    assert torch.isfinite(gen.logits.grad).all() and gen.logits.grad.abs().sum() > 0


def test_gumbel_is_deterministic_for_a_seeded_rng():
    gen = Generator.random(4, 4, PALETTE, torch.Generator().manual_seed(0))
    a = gen.gumbel(1.0, torch.Generator().manual_seed(5))
    b = gen.gumbel(1.0, torch.Generator().manual_seed(5))
    c = gen.gumbel(1.0, torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_low_temperature_samples_are_nearly_one_hot():
    gen = Generator.random(8, 8, PALETTE, torch.Generator().manual_seed(0))
    w = gen.gumbel_weights(0.01, torch.Generator().manual_seed(1))
    assert (w.detach().max(-1).values > 0.99).float().mean() > 0.9
    assert torch.allclose(w.sum(-1), torch.ones(8, 8), atol=1e-5)


def test_recenter_keeps_renders_and_zeroes_means():
    gen = Generator.random(4, 5, PALETTE, torch.Generator().manual_seed(0))
    with torch.no_grad():
        gen.logits.add_(3.0)
    before = gen.softmax()
    gen.recenter_()
    assert torch.allclose(gen.logits.mean(-1), torch.zeros(4, 5), atol=1e-5)
    assert torch.allclose(before, gen.softmax(), atol=1e-6)


def test_restrict_switches_colors_off():
    gen = Generator.random(10, 10, PALETTE, torch.Generator().manual_seed(0))
    gen.restrict_([1, 3])
    assert set(np.unique(gen.indices().numpy())) <= {1, 3}
    w = gen.gumbel_weights(1.0, torch.Generator().manual_seed(0))
    assert w.detach()[..., [0, 2, 4]].max() == 0.0


def test_entropy_is_normalized():
    logits = torch.zeros(2, 2, 5)
    logits[0, 0, 0] = 50.0
    gen = Generator(PALETTE, logits)
    ent = gen.entropy()
    assert ent[0, 1] == pytest.approx(1.0, abs=1e-6)
    assert ent[0, 0] == pytest.approx(0.0, abs=1e-6)


def test_bad_shapes_are_rejected():
    with pytest.raises(ValueError):
        Generator(PALETTE[:, :2], torch.zeros(2, 2, 5))
    with pytest.raises(ValueError):
        Generator(PALETTE, torch.zeros(2, 2, 4))
