"""Non-square patterns on the model side: the canvas, the padded render, the per-axis FFT term."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from craftpix.engines.sds.augment import AugmentDraw
from craftpix.engines.sds.conditioning import (
    Canvas,
    TextConditioning,
    canny_image,
    working_canvas,
)
from craftpix.engines.sds.objective import PAD_GRAY, LatentEncoder, SDSObjective
from craftpix.engines.sds.optimize import fft_loss
from craftpix.engines.sds.settings import AugmentConfig, SDSConfig

try:
    from tiny_models import tiny_paths, tiny_settings  # noqa: F401  (fixture)
except ImportError:  # tests/ imported as a package
    from tests.tiny_models import tiny_paths, tiny_settings  # noqa: F401

NO_DRAW = AugmentDraw(grayscale=False, corners=None, flip=False)


# --- the canvas -----------------------------------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(h=st.integers(1, 400), w=st.integers(1, 400), resolution=st.sampled_from([512, 1024]),
       multiple=st.sampled_from([32, 64]), max_aspect=st.sampled_from([2.0, 4.0]))
def test_canvas_invariants(h, w, resolution, multiple, max_aspect) -> None:
    c = working_canvas(h, w, resolution, multiple, max_aspect)
    assert c.height % multiple == 0 and c.width % multiple == 0
    assert max(c.height, c.width) / min(c.height, c.width) <= max_aspect + 1e-9
    # a whole number of pixels per cell, the same on both axes: cells are never stretched
    assert isinstance(c.cell_px, int) and c.cell_px >= 1
    assert c.content == (h * c.cell_px, w * c.cell_px)
    # inside the canvas, centred to the pixel
    assert 0 <= c.top and c.top + c.content[0] <= c.height
    assert 0 <= c.left and c.left + c.content[1] <= c.width
    assert abs(c.top - (c.height - c.top - c.content[0])) <= 1
    assert abs(c.left - (c.width - c.left - c.content[1])) <= 1
    # within the aspect cap the padding is only the rounding to the size multiple
    if max(h / w, w / h) <= max_aspect / 1.5:
        assert c.height - c.content[0] < multiple and c.width - c.content[1] < multiple
    # about the area the model was trained at (unless cells are already 1 pixel)
    area = c.height * c.width / resolution**2
    assert 0.5 <= area <= 2.0 or (c.cell_px == 1 and area > 1)


def test_canvas_examples_from_the_issue() -> None:
    # 120×20 on SDXL was 2496×416 (6:1, outside SDXL's buckets): now 4:1, letterboxed
    c = working_canvas(120, 20, 1024, 32, 4.0)
    assert c.size == (2048, 512) and c.cell_px == 17 and c.content == (2040, 340)
    # on SD 1.5 it was 1280×192, cells stretched 11 %: now square cells, at most 2:1
    c = working_canvas(120, 20, 512, 64, 2.0)
    assert c.content == (120 * c.cell_px, 20 * c.cell_px)
    assert c.height / c.width == 2.0
    # square patterns: the whole canvas, or the rounding to the multiple around it
    assert working_canvas(64, 64, 512, 64, 2.0) == Canvas(512, 512, (64, 64), 8)
    c = working_canvas(48, 48, 1024, 32, 4.0)
    assert c.size == (1024, 1024) and c.content == (1008, 1008) and (c.top, c.left) == (8, 8)


def test_canvas_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        working_canvas(0, 10, 1024)
    with pytest.raises(ValueError):
        working_canvas(10, 10, 1024, max_aspect=0.5)


def test_place_and_mask() -> None:
    c = Canvas(8, 12, (2, 3), 2, top=2, left=3)
    x = torch.arange(24.0).reshape(1, 1, 4, 6)
    placed = c.place(x, -1.0)
    assert placed.shape == (1, 1, 8, 12)
    assert torch.equal(placed[..., 2:6, 3:9], x)
    assert float(placed.sum()) == float(x.sum()) - (96 - 24)  # -1 everywhere else
    m = c.mask()
    assert float(m.sum()) == 24 and torch.equal(m[..., 2:6, 3:9], torch.ones(1, 1, 4, 6))
    with pytest.raises(ValueError):
        c.place(torch.zeros(1, 1, 8, 12), 0.0)


def test_control_images_fill_the_pattern_box_only() -> None:
    arr = np.zeros((40, 200, 3), dtype=np.uint8)
    arr[:, 100:] = 255  # one vertical edge in the middle
    c = working_canvas(4, 20, 64, 16, 2.0)
    edges = canny_image(Image.fromarray(arr), c)
    assert tuple(edges.shape) == (1, 3, *c.size)
    top, left = c.top, c.left
    h, w = c.content
    inside = edges[0, 0, top:top + h, left:left + w]
    assert inside.sum() > 0
    assert float(edges.sum()) == float(edges[..., top:top + h, left:left + w].sum())
    cols = torch.nonzero(inside.any(dim=0)).flatten()
    assert abs(float(cols.float().mean()) - w / 2) <= 2  # the edge stays in the middle


# --- the objective on a padded canvas ---------------------------------------------------------------
class RecordingVAE(torch.nn.Module):
    """Averages 4×4 blocks after a 5×5 box blur: latents next to the pattern's box see both
    the pattern and the padding, as a real encoder's receptive field does."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[torch.Tensor] = []

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append(x.detach().clone())
        k = torch.ones(3, 1, 5, 5) / 25
        blurred = F.conv2d(F.pad(x, (2, 2, 2, 2), mode="replicate"), k, groups=3)
        return F.avg_pool2d(blurred, 4).repeat(1, 2, 1, 1)[:, :4]


class PaddingLiar(torch.nn.Module):
    """ε_c = 0.3 where ``box`` is true, ``outside`` elsewhere; ε_u = 0."""

    def __init__(self, box: torch.Tensor, outside: float) -> None:
        super().__init__()
        self.box, self.outside = box, outside

    def forward(self, sample, timestep, encoder_hidden_states=None, return_dict=False, **_):
        eps = torch.where(self.box, torch.full_like(sample, 0.3),
                          torch.full_like(sample, self.outside))
        eps_u = torch.zeros_like(sample[:1])
        return (torch.cat([eps_u, eps[1:]]),)


def _padded_objective(unet, canvas):
    return SDSObjective(
        unet=unet, encoder=LatentEncoder(RecordingVAE()),
        alphas_cumprod=torch.linspace(0.99, 0.01, 1000),
        text=TextConditioning(hidden=torch.zeros(2, 1, 4)), size=canvas,
        config=SDSConfig(guidance_scale=5.0, augment=AugmentConfig.off()))


def test_render_is_placed_with_whole_pixels_per_cell_and_gray_padding() -> None:
    canvas = Canvas(16, 48, (3, 12), 3, top=3, left=6)  # odd: a cell's centre is a pixel
    obj = _padded_objective(PaddingLiar(torch.ones(1, 4, 1, 1, dtype=torch.bool), 0.0), canvas)
    render = torch.rand(1, 3, 3, 12)
    obj.loss(render, 0, 1, torch.Generator().manual_seed(0))
    x = (obj.encoder.vae.seen[-1] + 1) / 2  # the encoder sees 2x − 1
    h, w = canvas.content
    box = x[..., canvas.top:canvas.top + h, canvas.left:canvas.left + w]
    # the centre pixel of each cell's 3×3 block is the cell's color: no stretch, no shift
    assert torch.allclose(box[..., 1::3, 1::3], render, atol=1e-6)
    outside = x.clone()
    outside[..., canvas.top:canvas.top + h, canvas.left:canvas.left + w] = PAD_GRAY
    assert torch.all(outside == PAD_GRAY)


def test_padding_gets_no_gradient() -> None:
    """What the model says about the padding must not reach the cells (the mask), even
    through latents that straddle the box's border."""
    # the box's top and bottom edges fall on latent borders: the latents just outside are all
    # padding, yet the encoder's blur lets them see the cells' first and last pixel rows
    canvas = Canvas(32, 48, (2, 8), 6, top=8, left=0)
    lat = (canvas.height // 4, canvas.width // 4)
    touched = F.adaptive_avg_pool2d(canvas.mask(), lat) > 0
    box = touched.expand(2, 4, *lat)
    grads = []
    for outside in (0.3, 50.0):
        obj = _padded_objective(PaddingLiar(box, outside), canvas)
        render = torch.rand(1, 3, 2, 8, generator=torch.Generator().manual_seed(1),
                            requires_grad=True)
        obj.loss(render, 0, 1, torch.Generator().manual_seed(0)).backward()
        grads.append(render.grad)
    assert grads[0].abs().sum() > 0
    assert torch.allclose(grads[0], grads[1], atol=1e-6)


def test_latent_mask_is_warped_with_the_render() -> None:
    """Under a perspective draw the mask moves with the render: the latents it keeps are those
    that show the pattern after this step's warp (one draw for both)."""
    canvas = Canvas(32, 64, (4, 8), 6, top=4, left=8)
    obj = _padded_objective(PaddingLiar(torch.ones(1, 4, 1, 1, dtype=torch.bool), 0.0), canvas)
    draw = AugmentDraw(grayscale=False, flip=False,
                       corners=((-0.7, -0.6), (0.8, -0.9), (0.9, 0.7), (-0.8, 0.95)))
    white = canvas.place(torch.ones(1, 3, 24, 48), 0.0)
    from craftpix.engines.sds.augment import apply_augment

    shown = F.adaptive_avg_pool2d(apply_augment(white, draw)[:, :1], (8, 16))
    mask = obj.latent_mask(draw, (8, 16))
    assert torch.allclose(mask, shown, atol=1e-6)
    assert not torch.allclose(mask, obj.latent_mask(NO_DRAW, (8, 16)), atol=0.05)


def test_latent_mask_follows_the_augmentation() -> None:
    canvas = Canvas(16, 32, (2, 4), 4, top=4, left=4)  # box at columns 4..20 of 32
    obj = _padded_objective(PaddingLiar(torch.ones(1, 4, 1, 1, dtype=torch.bool), 0.0), canvas)
    plain = obj.latent_mask(NO_DRAW, (4, 8))
    assert torch.equal(plain[0, 0, 1:3, 1:5], torch.ones(2, 4)) and plain[0, 0, 0].sum() == 0
    assert plain[0, 0, :, 5:].sum() == 0
    flipped = obj.latent_mask(AugmentDraw(grayscale=False, corners=None, flip=True), (4, 8))
    assert torch.equal(flipped, torch.flip(plain, dims=(-1,)))


# --- the FFT smoothness term, per axis -----------------------------------------------------------
def _stripes(h: int, w: int, period: float) -> torch.Tensor:
    xx = torch.arange(w, dtype=torch.float32)
    row = 0.5 + 0.5 * torch.cos(2 * torch.pi * xx / period)
    return row.expand(1, 3, h, w).contiguous()


def test_fft_term_measures_spatial_frequency_per_axis() -> None:
    """Stripes every 10 cells (0.1 cycles per cell, inside the 1/(4√2) ≈ 0.18 disc) are smooth
    on a square pattern and must stay smooth on a 20×120 one; stripes every 3 cells (0.33) are
    rough on both."""
    square, wide = (120, 120), (20, 120)
    assert float(fft_loss(_stripes(*square, 10))) == pytest.approx(0.0, abs=1e-5)
    assert float(fft_loss(_stripes(*wide, 10))) == pytest.approx(0.0, abs=1e-5)
    rough_square = float(fft_loss(_stripes(*square, 3)))
    rough_wide = float(fft_loss(_stripes(*wide, 3)))
    assert rough_square > 1e-3 and rough_wide > 1e-3
    # and the same along the short axis: the transposed pattern scores as the original
    tall = _stripes(*wide, 10).transpose(-1, -2).contiguous()
    assert float(fft_loss(tall)) == pytest.approx(0.0, abs=1e-5)


def test_fft_term_is_unchanged_for_square_images() -> None:
    """For H = W the per-axis disc is SD-πXL's min(H, W)/(4√2) bins."""
    x = torch.rand(1, 3, 24, 24, generator=torch.Generator().manual_seed(3))
    g = (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]).unsqueeze(1)
    spec = torch.fft.fftshift(torch.fft.fft2(g), dim=(-2, -1)).abs()
    yy = torch.arange(24.0) - 12
    mask = ((yy[:, None] ** 2 + yy[None, :] ** 2) > (24 / (4 * math.sqrt(2))) ** 2).float()
    expected = (spec * mask).sum() / mask.sum()
    assert float(fft_loss(x)) == pytest.approx(float(expected), rel=1e-5)


# --- end to end, tiny models -------------------------------------------------------------------------
@pytest.mark.parametrize("family", ["sdxl", "sd15"])
def test_wide_pattern_runs_on_a_capped_canvas(tiny_paths, tmp_path, monkeypatch, capsys,
                                              family) -> None:
    from diffusers import ControlNetModel, UNet2DConditionModel

    from craftpix.engines.sds.run import run_sds

    seen: dict[str, list] = {"unet": [], "cond": [], "time_ids": []}
    unet_forward, cn_forward = UNet2DConditionModel.forward, ControlNetModel.forward

    def unet_spy(module, sample, *args, **kwargs):
        seen["unet"].append(tuple(sample.shape))
        added = kwargs.get("added_cond_kwargs")
        if added:
            seen["time_ids"].append(added["time_ids"][0].tolist())
        return unet_forward(module, sample, *args, **kwargs)

    def cn_spy(module, sample, *args, **kwargs):
        seen["cond"].append(tuple(kwargs["controlnet_cond"].shape))
        return cn_forward(module, sample, *args, **kwargs)

    monkeypatch.setattr(UNet2DConditionModel, "forward", unet_spy)
    monkeypatch.setattr(ControlNetModel, "forward", cn_spy)
    arr = np.zeros((40, 200, 3), dtype=np.uint8)
    arr[:, 100:] = (200, 40, 40)
    img = Image.fromarray(arr)
    ref = np.asarray(img.resize((20, 4), Image.Resampling.BOX), dtype=np.float64) / 255
    settings = tiny_settings(tiny_paths, family)
    result = run_sds(settings, prompt="a red stripe", image=img, reference_rgb=ref,
                     palette_rgb=np.array([[0.8, 0.15, 0.15], [0.0, 0.0, 0.0], [1, 1, 1]]),
                     height=4, width=20, colors=None, medium="beads", steps=2, seed=0,
                     smooth=20.0, out_dir=tmp_path, quiet=True)
    assert result.indices.shape == (4, 20)
    cap = 4.0 if family == "sdxl" else 2.0
    canvas = working_canvas(4, 20, 32, 16, cap)
    h, w = canvas.size
    assert w / h <= cap and canvas.padded  # a 5:1 pattern, letterboxed
    assert seen["unet"] == [(2, 4, h // 8, w // 8)] * 2
    assert seen["cond"] and all(s == (2, 3, h, w) for s in seen["cond"])
    if family == "sdxl":
        assert seen["time_ids"][0] == [h, w, 0, 0, h, w]
    err = capsys.readouterr().err
    assert f"wider than the {cap:g}:1 the model was trained on" in err and "letterboxed" in err


def test_control_images_must_match_the_canvas() -> None:
    from craftpix.engines.sds.objective import ControlInput

    with pytest.raises(ValueError, match="canny control image"):
        SDSObjective(unet=None, encoder=LatentEncoder(RecordingVAE()),
                     alphas_cumprod=torch.linspace(0.99, 0.01, 1000),
                     text=TextConditioning(hidden=torch.zeros(2, 1, 4)),
                     size=Canvas(16, 32, (2, 4), 4, top=4, left=4),
                     controls=[ControlInput("canny", None, torch.zeros(1, 3, 8, 16), 0.5)])
