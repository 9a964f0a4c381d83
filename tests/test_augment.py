"""Augmentations: the same draw warps render and control images identically."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from craftpix.engines.sds.augment import (
    DRAWS_PER_STEP,
    AugmentConfig,
    AugmentDraw,
    apply_augment,
    normalized_to_pixels,
    perspective_matrix,
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


def test_perspective_matrix_maps_the_image_corners() -> None:
    """Pixel homography: the outer pixel edges' corners go to ``corners`` (kornia's pixels)."""
    h, w = 20, 50
    dst = ((-0.8, -0.9), (0.9, -0.7), (0.7, 0.8), (-0.9, 0.95))
    m = perspective_matrix(dst, h, w)[0]
    src = torch.tensor([(-0.5, -0.5), (w - 0.5, -0.5), (w - 0.5, h - 0.5), (-0.5, h - 0.5)],
                       dtype=torch.float64)
    pts = torch.cat([src, torch.ones(4, 1, dtype=torch.float64)], 1) @ m.T
    want = torch.tensor([((x + 1) * w / 2 - 0.5, (y + 1) * h / 2 - 0.5) for x, y in dst],
                        dtype=torch.float64)
    assert torch.allclose(pts[:, :2] / pts[:, 2:], want, atol=1e-9)
    assert torch.allclose(normalized_to_pixels(torch.tensor(dst, dtype=torch.float64), h, w),
                          want)


def test_identity_perspective_is_identity() -> None:
    for h, w in ((24, 32), (16, 64)):
        img = _image(h, w)
        draw = AugmentDraw(grayscale=False, corners=CORNERS, flip=False)
        assert torch.allclose(apply_augment(img, draw), img, atol=1e-5)
        assert torch.allclose(perspective_matrix(CORNERS, h, w)[0], torch.eye(3, dtype=torch.float64),
                              atol=1e-12)


def _centroid(img: torch.Tensor) -> tuple[float, float]:
    """(x, y) in pixels (centres at integers) of the intensity in a 2-D tensor."""
    ys, xs = torch.meshgrid(torch.arange(img.shape[0], dtype=torch.float64),
                            torch.arange(img.shape[1], dtype=torch.float64), indexing="ij")
    m = img.double()
    total = float(m.sum())
    assert total > 0.5, "the bright spot left the image"
    return float((m * xs).sum()) / total, float((m * ys).sum()) / total


def test_non_square_corner_mapping() -> None:
    """64×256: a bright pixel in each image corner lands at that corner of ``corners``.

    The moves differ in x and y and between corners, so a transposed (x, y), a warp by the
    inverse matrix or a wrong aspect in the pixel conversion puts the spot tens of pixels off.
    """
    h, w = 64, 256
    corners = ((-0.72, -0.9), (0.95, -0.75), (0.78, 0.82), (-0.9, 0.7))
    draw = AugmentDraw(grayscale=False, corners=corners, flip=False)
    for (cx, cy), (px, py) in zip(corners, ((0, 0), (w - 1, 0), (w - 1, h - 1), (0, h - 1)),
                                  strict=True):
        img = torch.zeros(1, 1, h, w)  # a 1-channel mask: geometry only
        img[0, 0, py, px] = 1.0
        out = apply_augment(img, draw)
        assert out.shape == img.shape
        x, y = _centroid(out[0, 0])
        # The corner point (cx, cy) is the outer corner of that pixel: half a pixel (at most
        # half a pixel diagonally, shrunk by the warp) from the pixel's centre.
        want_x, want_y = (cx + 1) * w / 2 - 0.5, (cy + 1) * h / 2 - 0.5
        assert abs(x - want_x) < 1.0 and abs(y - want_y) < 1.0, ((x, y), (want_x, want_y))


@pytest.mark.parametrize(("h", "w"), [(48, 48), (64, 256), (200, 40)])
def test_warp_against_opencv_homography(h: int, w: int) -> None:
    """Independent oracle: OpenCV's getPerspectiveTransform on the same four pixel points;
    a small bright spot at interior points lands where OpenCV's matrix sends it, and the
    whole warped image matches cv2.warpPerspective (bilinear, black outside) in the interior."""
    rng = torch.Generator().manual_seed(7)
    cfg = AugmentConfig(p_grayscale=0.0, p_perspective=1.0, p_flip=0.0)
    src = np.float32([(-0.5, -0.5), (w - 0.5, -0.5), (w - 0.5, h - 0.5), (-0.5, h - 0.5)])
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    for _ in range(3):
        draw = sample_augment(rng, cfg)
        dst = np.float32([((x + 1) * w / 2 - 0.5, (y + 1) * h / 2 - 0.5) for x, y in draw.corners])
        m_cv = cv2.getPerspectiveTransform(src, dst)
        for fx, fy in ((0.3, 0.4), (0.7, 0.25), (0.5, 0.8)):
            px, py = fx * (w - 1), fy * (h - 1)
            spot = np.exp(-((xs - px) ** 2 + (ys - py) ** 2) / (2 * 1.5 ** 2))
            out = apply_augment(torch.from_numpy(spot).float()[None, None], draw)
            x, y = _centroid(out[0, 0])
            want = cv2.perspectiveTransform(np.float64([[[px, py]]]), m_cv)[0, 0]
            assert abs(x - want[0]) < 0.3 and abs(y - want[1]) < 0.3, ((x, y), want)
        smooth = (0.5 + 0.25 * np.sin(xs / 5.0) + 0.25 * np.cos(ys / 7.0)).astype(np.float32)
        ref = cv2.warpPerspective(smooth, m_cv, (w, h), flags=cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        ones = cv2.warpPerspective(np.ones_like(smooth), m_cv, (w, h), flags=cv2.INTER_LINEAR,
                                   borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        inner = cv2.erode((ones > 0.999).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        out = apply_augment(torch.from_numpy(smooth)[None, None], draw)[0, 0].numpy()
        assert inner.mean() > 0.4
        assert np.abs(out - ref)[inner].max() < 0.01  # OpenCV: 1/32-pixel fixed-point weights


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


def test_one_draw_warps_render_controls_and_mask_alike() -> None:
    """Render (3 ch), a control at another size and a 1-channel mask: same geometry."""
    rng = torch.Generator().manual_seed(5)
    cfg = AugmentConfig(p_grayscale=1.0, p_perspective=1.0, p_flip=1.0)
    draw = sample_augment(rng, cfg)
    base = _image(32, 128, seed=4)[:, :1]
    render = base.expand(-1, 3, -1, -1).contiguous()
    mask = base.clone()
    big = torch.nn.functional.interpolate(base, scale_factor=2, mode="nearest")
    r, m, b = apply_augment(render, draw), apply_augment(mask, draw), apply_augment(big, draw)
    assert m.shape == mask.shape and r.shape == render.shape
    assert torch.allclose(r[:, 0], m[:, 0], atol=1e-5)  # gray of equal channels = the channel
    # The same warp at twice the size: pooling back gives (nearly) the small result.
    pooled = torch.nn.functional.avg_pool2d(b, 2)
    inner = (slice(None), slice(None), slice(4, -4), slice(8, -8))
    assert (pooled - m)[inner].abs().mean() < 0.05
    assert {k[:2] for k in draw._matrices} == {(32, 128), (64, 256)}  # one matrix per size


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_other_dtypes(dtype: torch.dtype) -> None:
    img = _image(40, 72)
    draw = AugmentDraw(grayscale=True, corners=((-0.8, -0.9), (0.9, -0.7), (0.7, 0.8),
                                                (-0.9, 0.95)), flip=True)
    want = apply_augment(img, draw)
    got = apply_augment(img.to(dtype), draw)
    assert got.dtype == dtype and got.shape == want.shape
    assert (got.float() - want).abs().max() < (1e-5 if dtype == torch.float64 else 2e-2)
