"""Augmentations: the same draw warps render and control images identically."""

from __future__ import annotations

import torch

from craftpix.engines.sds.augment import (
    DRAWS_PER_STEP,
    AugmentConfig,
    AugmentDraw,
    apply_augment,
    homography,
    perspective_grid,
    sample_augment,
)

CORNERS = ((-1.0, -1.0), (1.0, -1.0), (1.0, 1.0), (-1.0, 1.0))


def _image(h: int = 24, w: int = 32, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(1, 3, h, w, generator=g)


def test_same_draw_same_transform_for_render_and_controls() -> None:
    rng = torch.Generator().manual_seed(3)
    render, control = _image(seed=1), _image(seed=2)
    seen = set()
    for _ in range(40):
        draw = sample_augment(rng)
        seen.add((draw.grayscale, draw.corners is not None, draw.flip))
        both = apply_augment(torch.cat([render, control]), draw)
        assert torch.allclose(apply_augment(render, draw), both[:1], atol=1e-6)
        assert torch.allclose(apply_augment(control, draw), both[1:], atol=1e-6)
    assert len(seen) >= 6  # the draws really vary


def test_identical_geometry_on_a_marker() -> None:
    """A marker at the same place in render and control lands at the same place after."""
    render = torch.zeros(1, 3, 32, 32)
    control = torch.zeros(1, 3, 32, 32)
    render[..., 10:13, 20:23] = 1.0
    control[..., 10:13, 20:23] = 1.0
    draw = AugmentDraw(grayscale=False, corners=((-0.8, -0.9), (0.9, -0.7), (0.7, 0.8),
                                                 (-0.9, 0.95)), flip=True)
    a, b = apply_augment(render, draw), apply_augment(control, draw)
    assert torch.equal(a, b)
    ya, xa = divmod(int(a[0, 0].argmax()), 32)
    assert xa < 16  # flipped: the marker moved from the right half to the left half


def test_fixed_number_of_draws_per_step() -> None:
    a = torch.Generator().manual_seed(0)
    b = torch.Generator().manual_seed(0)
    sample_augment(a, AugmentConfig())
    sample_augment(b, AugmentConfig.off())
    torch.rand(DRAWS_PER_STEP, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a.get_state(), b.get_state())


def test_probabilities_match_config() -> None:
    rng = torch.Generator().manual_seed(0)
    draws = [sample_augment(rng) for _ in range(4000)]
    gray = sum(d.grayscale for d in draws) / len(draws)
    persp = sum(d.corners is not None for d in draws) / len(draws)
    flip = sum(d.flip for d in draws) / len(draws)
    assert abs(gray - 0.2) < 0.03 and abs(persp - 0.5) < 0.03 and abs(flip - 0.5) < 0.03
    assert all(d.identity for d in (sample_augment(rng, AugmentConfig.off()) for _ in range(50)))


def test_perspective_corners_stay_within_distortion() -> None:
    rng = torch.Generator().manual_seed(1)
    for _ in range(200):
        d = sample_augment(rng, AugmentConfig(p_perspective=1.0, distortion=0.3))
        assert d.corners is not None
        for (x, y), (cx, cy) in zip(d.corners, CORNERS, strict=True):
            assert abs(x - cx) <= 0.3 + 1e-9 and abs(y - cy) <= 0.3 + 1e-9
            assert abs(x) <= 1 and abs(y) <= 1  # inward only


def test_homography_maps_the_four_points() -> None:
    src = torch.tensor(CORNERS)
    dst = torch.tensor([(-0.8, -0.9), (0.9, -0.7), (0.7, 0.8), (-0.9, 0.95)])
    h = homography(src, dst)
    pts = torch.cat([src.double(), torch.ones(4, 1, dtype=torch.float64)], 1) @ h.T
    assert torch.allclose(pts[:, :2] / pts[:, 2:], dst.double(), atol=1e-9)


def test_identity_perspective_is_identity() -> None:
    img = _image()
    draw = AugmentDraw(grayscale=False, corners=CORNERS, flip=False)
    assert torch.allclose(apply_augment(img, draw), img, atol=1e-5)
    grid = perspective_grid(CORNERS, 4, 6)
    assert grid.shape == (1, 4, 6, 2)


def test_perspective_moves_corners_inward_with_black_fill() -> None:
    img = torch.ones(1, 3, 40, 40)
    corners = ((-0.6, -0.6), (1.0, -1.0), (1.0, 1.0), (-1.0, 1.0))
    out = apply_augment(img, AugmentDraw(grayscale=False, corners=corners, flip=False))
    assert float(out[0, 0, 0, 0]) == 0.0  # top-left corner pulled in: outside is black
    assert float(out[0, 0, 36, 36]) > 0.9  # bottom-right corner stays
    assert float(out[0, 0, 20, 20]) > 0.9


def test_flip_and_grayscale() -> None:
    img = _image()
    flipped = apply_augment(img, AugmentDraw(grayscale=False, corners=None, flip=True))
    assert torch.equal(flipped, img.flip(-1))
    gray = apply_augment(img, AugmentDraw(grayscale=True, corners=None, flip=False))
    luma = 0.299 * img[:, 0] + 0.587 * img[:, 1] + 0.114 * img[:, 2]
    for c in range(3):
        assert torch.allclose(gray[:, c], luma, atol=1e-6)


def test_augment_is_differentiable() -> None:
    img = _image().requires_grad_(True)
    draw = AugmentDraw(grayscale=True, corners=((-0.8, -0.9), (0.9, -0.7), (0.7, 0.8),
                                                (-0.9, 0.95)), flip=True)
    apply_augment(img, draw).sum().backward()
    assert img.grad is not None and float(img.grad.abs().sum()) > 0
