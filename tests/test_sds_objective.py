"""The SDS objective's pieces: t schedule, CFG gradient, loss trick, batching, conditioning."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image

from craftpix.engines.sds.conditioning import (
    TextConditioning,
    canny,
    canny_image,
    sdxl_time_ids,
)
from craftpix.engines.sds.objective import (
    ControlInput,
    LatentEncoder,
    SDSConfig,
    SDSObjective,
    sample_timestep,
    sds_gradient,
    sds_loss,
    t_max_at,
    timestep_bounds,
)
from craftpix.engines.sds.settings import AugmentConfig


# --- t schedule ------------------------------------------------------------------------------
def test_t_max_anneals_linearly_over_first_half() -> None:
    assert t_max_at(0, 1000) == pytest.approx(0.98)
    assert t_max_at(250, 1000) == pytest.approx(0.89)
    assert t_max_at(500, 1000) == pytest.approx(0.8)
    assert t_max_at(999, 1000) == pytest.approx(0.8)
    values = [t_max_at(s, 1000) for s in range(0, 1000, 10)]
    assert all(a >= b for a, b in zip(values, values[1:], strict=False))


def test_timestep_bounds() -> None:
    assert timestep_bounds(0, 100) == (20, 980)
    assert timestep_bounds(50, 100) == (20, 800)
    assert timestep_bounds(99, 100) == (20, 800)
    cfg = SDSConfig(t_min=0.5, t_max_start=0.6, t_max_end=0.6)
    assert timestep_bounds(0, 10, 1000, cfg) == (500, 600)


def test_sampled_timesteps_respect_bounds_and_cover_range() -> None:
    rng = torch.Generator().manual_seed(0)
    early = [sample_timestep(rng, 0, 100) for _ in range(3000)]
    late = [sample_timestep(rng, 80, 100) for _ in range(3000)]
    assert min(early) == 20 and max(early) >= 970 and max(early) <= 980
    assert min(late) == 20 and 790 <= max(late) <= 800


# --- gradient and loss --------------------------------------------------------------------------
def test_sds_gradient_formula() -> None:
    g = torch.Generator().manual_seed(0)
    eu, ec, eps = (torch.randn(1, 4, 2, 2, generator=g) for _ in range(3))
    a = 0.3
    grad = sds_gradient(eu, ec, eps, a, guidance_scale=40.0)
    expected = (1 - a) * ((ec - eps) + 40.0 * (ec - eu))
    assert torch.allclose(grad, expected)
    assert torch.allclose(sds_gradient(eu, ec, eps, a, 0.0, weighting="1"), ec - eps)


def test_loss_trick_gradient_is_grad() -> None:
    z = torch.randn(1, 4, 3, 3, requires_grad=True)
    grad = torch.randn(1, 4, 3, 3)
    loss = sds_loss(z, grad)
    loss.backward()
    assert torch.allclose(z.grad, grad, atol=1e-6)
    assert float(loss.detach()) == pytest.approx(0.5 * float((grad**2).sum()), rel=1e-5)


class OverflowingUNet(torch.nn.Module):
    """Returns NaN when run in fp16 (as an fp16 overflow would), a finite ε otherwise."""

    def __init__(self, always: bool = False) -> None:
        super().__init__()
        self.always = always
        self.dtypes: list[torch.dtype] = []

    def forward(self, sample, timestep, encoder_hidden_states=None, added_cond_kwargs=None,
                down_block_additional_residuals=None, mid_block_additional_residual=None,
                return_dict=False):
        self.dtypes.append(sample.dtype)
        bad = self.always or sample.dtype == torch.float16
        return (torch.full_like(sample, float("nan")) if bad else 0.1 * sample,)


def _nan_objective(unet, dtype, warnings=None):
    hidden = torch.zeros(2, 3, 8)
    return SDSObjective(
        unet=unet, encoder=LatentEncoder(PoolVAE()), alphas_cumprod=torch.linspace(0.99, 0.01, 1000),
        text=TextConditioning(hidden=hidden), size=(16, 16), dtype=dtype,
        config=SDSConfig(augment=NO_AUGMENT), check_every=4, max_nonfinite=2,
        on_warning=None if warnings is None else warnings.append, model_name="some/model")


def test_non_finite_prediction_gives_no_gradient_and_is_counted() -> None:
    obj = _nan_objective(OverflowingUNet(always=True), torch.float32)
    render = torch.rand(1, 3, 4, 4, requires_grad=True)
    obj.loss(render, 0, 10, torch.Generator().manual_seed(0)).backward()
    assert torch.equal(render.grad, torch.zeros_like(render.grad))  # the step is skipped
    assert int(obj._nonfinite) == 1


def test_repeated_nan_in_fp32_stops_with_one_line() -> None:
    from craftpix.engines.sds.objective import NonFiniteOutput

    obj = _nan_objective(OverflowingUNet(always=True), torch.float32)
    rng = torch.Generator().manual_seed(0)
    render = torch.rand(1, 3, 4, 4)
    for step in range(3):
        obj.loss(render, step, 10, rng)  # not read yet: no sync before check_every steps
    with pytest.raises(NonFiniteOutput) as err:
        obj.loss(render, 3, 10, rng)
    msg = str(err.value)
    assert "\n" not in msg and "some/model" in msg and "4 of the last 4" in msg


def test_nan_in_the_last_steps_of_a_short_run_is_caught() -> None:
    """A run shorter than ``check_every`` (or its tail) is checked after its last step, even
    in fp16: there is no step left to continue in after an upcast."""
    from craftpix.engines.sds.objective import NonFiniteOutput

    for dtype in (torch.float32, torch.float16):
        obj = _nan_objective(OverflowingUNet(always=True), dtype)
        rng = torch.Generator().manual_seed(0)
        render = torch.rand(1, 3, 4, 4)
        obj.loss(render, 0, 3, rng)
        obj.loss(render, 1, 3, rng)
        with pytest.raises(NonFiniteOutput, match="3 of the last 3 steps"):
            obj.loss(render, 2, 3, rng)
    # a run whose last step ends a full window: no upcast there either
    obj = _nan_objective(OverflowingUNet(always=True), torch.float16)
    rng = torch.Generator().manual_seed(0)
    for step in range(3):
        obj.loss(torch.rand(1, 3, 4, 4), step, 4, rng)
    with pytest.raises(NonFiniteOutput, match="4 of the last 4 steps"):
        obj.loss(torch.rand(1, 3, 4, 4), 3, 4, rng)
    # a tail of 2 steps after a clean window of 4: read at step 6 of 6
    obj = _nan_objective(OverflowingUNet(always=False), torch.float32)
    for step in range(6):
        obj.loss(torch.rand(1, 3, 4, 4), step, 6, torch.Generator().manual_seed(step))
    assert int(obj._nonfinite) == 0


def test_fp16_overflow_upcasts_once_and_continues() -> None:
    """fp16 NaNs (emulated: the stand-in UNet overflows in fp16 only) → warn, upcast, go on."""
    unet, warnings = OverflowingUNet(), []
    obj = _nan_objective(unet, torch.float16, warnings)
    rng = torch.Generator().manual_seed(0)
    render = torch.rand(1, 3, 4, 4, requires_grad=True)
    for step in range(8):
        render.grad = None
        obj.loss(render, step, 10, rng).backward()
    assert unet.dtypes[:4] == [torch.float16] * 4 and unet.dtypes[4:] == [torch.float32] * 4
    assert obj.dtype == torch.float32 and obj.upcasts == 1 and obj.text.hidden.dtype == torch.float32
    assert len(warnings) == 1 and "some/model" in warnings[0] and "float32" in warnings[0]
    assert render.grad.abs().sum() > 0  # after the upcast the gradient flows again


def test_the_cfg_difference_is_taken_in_fp32() -> None:
    """fp16 network outputs (large, close) and fp16 noise: the gradient is formed in fp32.
    In fp16, (ε_c − ε) + s·(ε_c − ε_u) near 1000 rounds to steps of 0.5."""
    g = torch.Generator().manual_seed(0)
    eu = (1000 + torch.randn(1, 4, 8, 8, generator=g)).half()
    ec = (eu.float() + 0.01 * torch.randn(1, 4, 8, 8, generator=g)).half()
    noise = torch.randn(1, 4, 8, 8, generator=g).half()
    grad = sds_gradient(eu, ec, noise, 0.0, 40.0, weighting="1")
    e_u, e_c, n = eu.double(), ec.double(), noise.double()
    exact = (e_c - n) + 40.0 * (e_c - e_u)
    assert grad.dtype == torch.float32
    assert torch.allclose(grad.double(), exact, atol=1e-3)
    in_fp16 = ((ec - noise) + 40.0 * (ec - eu)).double()
    assert not torch.allclose(in_fp16, exact, atol=1e-3)  # the test can tell the difference


# --- one batched call -----------------------------------------------------------------------------
class RecordingUNet(torch.nn.Module):
    """Returns a different constant per batch row and records every call."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[dict] = []

    def forward(self, sample, timestep, encoder_hidden_states=None, added_cond_kwargs=None,
                down_block_additional_residuals=None, mid_block_additional_residual=None,
                return_dict=False):
        self.calls.append(dict(batch=sample.shape[0], t=timestep.tolist(),
                               hidden=encoder_hidden_states.clone(),
                               down=down_block_additional_residuals,
                               mid=mid_block_additional_residual))
        out = torch.zeros_like(sample)
        out[0] = 1.0  # "unconditional" (negative) row
        out[1] = 3.0  # prompt row
        return (out,)


class FakeControlNet(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[torch.Tensor] = []

    def forward(self, sample, timestep, encoder_hidden_states=None, controlnet_cond=None,
                conditioning_scale=1.0, added_cond_kwargs=None, return_dict=False):
        self.images.append(controlnet_cond.clone())
        r = torch.full_like(sample, conditioning_scale)
        return (r,), r


class PoolVAE(torch.nn.Module):
    def encode(self, x):
        return torch.nn.functional.avg_pool2d(x, 4).repeat(1, 2, 1, 1)[:, :4]


NO_AUGMENT = AugmentConfig.off()


def _objective(unet, controls=(), augment=NO_AUGMENT, scale=40.0):
    hidden = torch.stack([torch.zeros(3, 8), torch.ones(3, 8)])  # [negative, prompt]
    return SDSObjective(
        unet=unet, encoder=LatentEncoder(PoolVAE()), alphas_cumprod=torch.linspace(0.99, 0.01, 1000),
        text=TextConditioning(hidden=hidden), size=(16, 16),
        config=SDSConfig(guidance_scale=scale, augment=augment), controls=list(controls))


def test_one_unet_call_per_step_batch_two_negative_first() -> None:
    unet = RecordingUNet()
    obj = _objective(unet)
    rng = torch.Generator().manual_seed(0)
    render = torch.rand(1, 3, 4, 4, requires_grad=True)
    for step in range(3):
        obj.loss(render, step, 3, rng)
    assert len(unet.calls) == 3
    for call in unet.calls:
        assert call["batch"] == 2 and call["t"][0] == call["t"][1]
        assert float(call["hidden"][0].abs().sum()) == 0.0  # row 0: negative prompt
        assert float(call["hidden"][1].sum()) > 0  # row 1: the prompt
        assert call["down"] is None and call["mid"] is None  # no ControlNet


def test_cfg_direction_uses_prompt_minus_negative() -> None:
    """ε_u = 1, ε_c = 3 from the fake UNet: grad = w·[(3 − ε) + s·2]."""
    unet = RecordingUNet()
    obj = _objective(unet, scale=5.0)
    render = torch.rand(1, 3, 4, 4)
    rng = torch.Generator().manual_seed(0)
    z = obj.encoder(torch.nn.functional.interpolate(render, size=(16, 16), mode="bilinear"), rng)
    z = z.detach().requires_grad_(True)
    rng = torch.Generator().manual_seed(7)
    eu, ec = obj.predict_noise(z.detach(), 500, sample_augment_none())
    a = float(obj.alphas_cumprod[500])
    eps = torch.zeros_like(z)
    grad = sds_gradient(eu, ec, eps, a, 5.0)
    assert torch.allclose(grad, torch.full_like(z, (1 - a) * (3.0 + 5.0 * 2.0)))


def sample_augment_none():
    from craftpix.engines.sds.augment import AugmentDraw

    return AugmentDraw(grayscale=False, corners=None, flip=False)


def test_controlnets_summed_and_see_augmented_control_image() -> None:
    unet = RecordingUNet()
    nets = [FakeControlNet(), FakeControlNet()]
    control = torch.zeros(1, 3, 16, 16)
    control[..., :, 12:] = 1.0  # right-side stripe
    controls = [ControlInput("canny", nets[0], control, 0.25),
                ControlInput("depth", nets[1], control, 0.5)]
    obj = _objective(unet, controls, augment=AugmentConfig(p_grayscale=0, p_perspective=0,
                                                           p_flip=1.0))
    obj.loss(torch.rand(1, 3, 4, 4), 0, 10, torch.Generator().manual_seed(0))
    (call,) = unet.calls
    assert float(call["mid"].mean()) == pytest.approx(0.75)  # 0.25 + 0.5
    assert float(call["down"][0].mean()) == pytest.approx(0.75)
    for net in nets:
        (img,) = net.images
        assert img.shape == (2, 3, 16, 16)
        assert float(img[..., :, :4].mean()) == 1.0  # flipped with the render
        assert float(img[..., :, 4:].max()) == 0.0


def test_control_weight_zero_drops_the_controlnet() -> None:
    net = FakeControlNet()
    obj = _objective(RecordingUNet(), [ControlInput("canny", net, torch.zeros(1, 3, 16, 16), 0.0)])
    obj.loss(torch.rand(1, 3, 4, 4), 0, 10, torch.Generator().manual_seed(0))
    assert net.images == []


def test_loss_backpropagates_to_the_render() -> None:
    obj = _objective(RecordingUNet(), augment=AugmentConfig())
    render = torch.rand(1, 3, 4, 4, requires_grad=True)
    obj.loss(render, 0, 10, torch.Generator().manual_seed(0)).backward()
    assert render.grad is not None and float(render.grad.abs().sum()) > 0


def test_v_prediction_converted_to_epsilon() -> None:
    class VUNet(torch.nn.Module):
        def forward(self, sample, timestep, **kw):
            return (self.v,)

    a = 0.64
    z0 = torch.randn(1, 4, 2, 2)
    eps = torch.randn(1, 4, 2, 2)
    z_t = math.sqrt(a) * z0 + math.sqrt(1 - a) * eps
    v = math.sqrt(a) * eps - math.sqrt(1 - a) * z0
    unet = VUNet()
    unet.v = torch.cat([v, v])
    obj = SDSObjective(unet=unet, encoder=LatentEncoder(PoolVAE()),
                       alphas_cumprod=torch.full((1000,), a), text=TextConditioning(
                           hidden=torch.zeros(2, 1, 4)), size=(8, 8),
                       prediction_type="v_prediction")
    eu, ec = obj.predict_noise(z_t, 10, sample_augment_none())
    assert torch.allclose(ec, eps, atol=1e-5)


# --- conditioning ---------------------------------------------------------------------------------
def test_sdxl_time_ids() -> None:
    ids = sdxl_time_ids(1024, 768)
    assert ids.shape == (2, 6)
    assert ids[0].tolist() == [1024, 768, 0, 0, 1024, 768]


def test_canny_finds_thin_closed_square_outline() -> None:
    img = np.zeros((40, 40), dtype=np.float32)
    img[10:30, 10:30] = 255
    edges = canny(img, 100, 200)
    assert not edges[:5].any() and not edges[15:25, 15:25].any()  # flat areas: no edges
    rows = edges[20]  # one horizontal line through the square: two thin crossings
    assert 2 <= rows.sum() <= 4
    assert edges[9:11, 10:30].any(axis=0).mean() > 0.8 and edges[10:30, 29:31].any(axis=1).mean() > 0.8


def test_canny_thresholds_and_hysteresis() -> None:
    img = np.zeros((30, 60), dtype=np.float32)
    img[:, 20:] = 30.0  # weak step: L1 Sobel magnitude 4·30 = 120, between 100 and 200
    img[:, 40:] = 130.0  # strong step: 4·100 = 400
    low_only = canny(img[:, :35], 100, 200)
    assert not low_only.any()  # weak edge alone: dropped
    img2 = np.zeros((30, 30), dtype=np.float32)
    img2[:, 15:] = 30.0
    img2[:15, 15:] = 130.0  # the weak edge continues a strong one: kept by hysteresis
    edges = canny(img2, 100, 200)
    assert edges[:15].any() and edges[20:].any()
    assert not canny(img2, 1000, 1100).any()


def test_canny_image_is_binary_three_channel() -> None:
    im = Image.new("RGB", (50, 40), (255, 255, 255))
    im.paste((0, 0, 0), (10, 10, 30, 30))
    t = canny_image(im, (32, 48))
    assert t.shape == (1, 3, 32, 48)
    assert set(torch.unique(t).tolist()) <= {0.0, 1.0} and float(t.sum()) > 0


def test_canny_image_is_what_the_controlnet_annotators_compute() -> None:
    """cv2.Canny(rgb, 100, 200) on the resized RGB image, no blur: an edge between two
    colors of nearly the same luma (red 200 | green 100) is found, as in training."""
    import cv2

    arr = np.zeros((48, 64, 3), dtype=np.uint8)
    arr[:, :32] = (200, 0, 0)
    arr[:, 32:] = (0, 100, 0)
    rng = np.random.default_rng(0)
    arr[8:40:4, 8:56:4] = rng.integers(0, 255, (8, 12, 3))  # fine detail a blur would erase
    im = Image.fromarray(arr)
    got = canny_image(im, (48, 64))[0, 0].numpy() > 0
    oracle = cv2.Canny(np.asarray(im), 100, 200) > 0
    assert np.array_equal(got, oracle)
    assert got[:, 30:34].any(axis=1).mean() > 0.9  # the isoluminant edge
    gray_only = cv2.Canny(np.asarray(im.convert("L")), 100, 200) > 0
    assert not gray_only[:, 30:34].any(axis=1).mean() > 0.5  # which luma alone misses
    blurred = canny_image(im, (48, 64), blur_radius=1.0)[0, 0].numpy() > 0
    assert blurred.sum() < got.sum()  # SD-πXL's blur, on request only
