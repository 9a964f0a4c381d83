"""The speed settings of the SDS engine: exact rewrites stay exact; compile modes are chosen
per model size (CUDA graphs for 512² models). What they gain is a GPU measurement
(bench/gpu_check.sh), never asserted here."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from craftpix.engines.sds.networks import compile_mode, speed_up
from craftpix.models.loading import SDSComponents, load_components

try:
    from tiny_models import tiny_paths, tiny_settings  # noqa: F401  (fixture)
except ImportError:  # tests/ imported as a package
    from tests.tiny_models import tiny_paths, tiny_settings  # noqa: F401


class _Config:
    def __init__(self, sample_size: int, blocks: int = 4) -> None:
        self.sample_size = sample_size
        self.block_out_channels = (8,) * blocks


class _Net:
    def __init__(self, sample_size: int) -> None:
        self.config = _Config(sample_size)


def _comps(sample_size: int, family: str) -> SDSComponents:
    return SDSComponents(family=family, unet=_Net(sample_size), vae=None, scheduler=None,
                         text_encoders=[], tokenizers=[])


@pytest.mark.parametrize(("sample_size", "family", "graphs", "expected"), [
    (64, "sd15", None, "reduce-overhead"),   # SD 1.5: 512² → CUDA graphs
    (128, "sdxl", None, "default"),          # SDXL: 1024² → plain inductor
    (128, "sdxl", True, "reduce-overhead"),  # asked for
    (64, "sd15", False, "default"),          # refused
])
def test_compile_mode_per_model_size(tiny_paths, sample_size, family, graphs, expected) -> None:
    settings = replace(tiny_settings(tiny_paths), compile=True, cuda_graphs=graphs)
    assert compile_mode(_comps(sample_size, family), settings) == expected
    assert compile_mode(_comps(sample_size, family), replace(settings, compile=False)) is None
    assert compile_mode(_comps(sample_size, family), replace(settings, offload=True)) is None


def test_speed_up_is_exact_and_compiles_in_the_chosen_mode(tiny_paths, monkeypatch) -> None:
    settings = replace(tiny_settings(tiny_paths, "sd15", canny_weight=0.15, depth_weight=0.0),
                       speed_on_cpu=True, compile=True)
    comps = load_components(settings, controls=("canny",))
    unet = comps.unet
    g = torch.Generator().manual_seed(0)
    sample = torch.randn(2, 4, 8, 8, generator=g)
    hidden = torch.randn(2, 77, unet.config.cross_attention_dim, generator=g)
    t = torch.tensor([500, 500])
    with torch.no_grad():
        before = unet(sample, t, encoder_hidden_states=hidden).sample
    compiled: list[dict] = []

    def fake_compile(model, **kwargs):
        compiled.append(kwargs)
        return model  # the mode is what is checked; inductor itself is not run here

    monkeypatch.setattr(torch, "compile", fake_compile)
    applied = speed_up(comps, torch.device("cpu"), settings)
    assert "fuse_qkv:unet" in applied and "channels_last:unet" in applied
    assert "compile:reduce-overhead" in applied  # the tiny SD 1.5 is 64² ≤ 512²
    assert compiled == [{"dynamic": False, "mode": "reduce-overhead"}] * 2  # UNet + canny
    with torch.no_grad():
        after = comps.unet(sample, t, encoder_hidden_states=hidden).sample
    # fused QKV and channels_last are rewrites: the same function, to float rounding
    assert torch.allclose(before, after, atol=1e-5)
    # CUDA-only settings stay off on the CPU unless asked for
    comps2 = load_components(replace(settings, speed_on_cpu=False), controls=())
    assert speed_up(comps2, torch.device("cpu"), replace(settings, speed_on_cpu=False)) == []


def test_compile_on_the_cpu_is_ignored_with_a_warning(tiny_paths, tmp_path, capsys) -> None:
    import numpy as np

    from craftpix.engines.sds.run import run_sds

    settings = replace(tiny_settings(tiny_paths, "sd15"), compile=True)
    result = run_sds(settings, prompt="rose", image=None, reference_rgb=None,
                     palette_rgb=np.array([[1.0, 0, 0], [0, 0, 1.0]]), height=4, width=4,
                     colors=None, medium="beads", steps=1, seed=0, smooth=20.0,
                     out_dir=tmp_path, quiet=True)
    assert result.indices.shape == (4, 4)
    assert "--compile only matters on a GPU; ignored" in capsys.readouterr().err


def test_attention_slicing_survives_the_speed_settings(tiny_paths) -> None:
    """Fused QKV swaps attention processors: with --attention-slicing it must not run."""
    from craftpix.engines.sds.networks import place_networks

    settings = replace(tiny_settings(tiny_paths, "sd15"), attention_slicing=True,
                       speed_on_cpu=True)
    comps = load_components(settings, controls=("canny",))
    place_networks(comps, torch.device("cpu"), torch.float32, settings)
    for net in (comps.unet, comps.controlnets["canny"]):
        kinds = {type(p).__name__ for p in net.attn_processors.values()}
        assert kinds == {"SlicedAttnProcessor"}, kinds
    plain = replace(settings, attention_slicing=False)
    comps = load_components(plain, controls=())
    place_networks(comps, torch.device("cpu"), torch.float32, plain)
    assert {type(p).__name__ for p in comps.unet.attn_processors.values()} == \
        {"FusedAttnProcessor2_0"}


def test_compile_reaches_the_networks_the_run_calls(tiny_paths, tmp_path, monkeypatch) -> None:
    """--compile must compile what each step calls: the UNet and every ControlNet (the
    control images are made before the networks are placed)."""
    import numpy as np
    from PIL import Image

    from craftpix.engines.sds.run import run_sds

    calls: list[str] = []

    class Compiled(torch.nn.Module):
        def __init__(self, model) -> None:
            super().__init__()
            self.inner = model

        def forward(self, *args, **kwargs):
            calls.append(type(self.inner).__name__)
            return self.inner(*args, **kwargs)

        def __getattr__(self, name):
            try:
                return super().__getattr__(name)
            except AttributeError:
                return getattr(self.inner, name)

    monkeypatch.setattr(torch, "compile", lambda model, **kw: Compiled(model))
    settings = replace(tiny_settings(tiny_paths, "sd15"), compile=True, speed_on_cpu=True)
    arr = np.zeros((32, 32, 3), dtype=np.uint8)
    arr[8:24, 8:24] = 200
    img = Image.fromarray(arr)
    run_sds(settings, prompt="rose", image=img, reference_rgb=np.asarray(img.resize((4, 4))) / 255,
            palette_rgb=np.array([[1.0, 1, 1], [0, 0, 0]]), height=4, width=4, colors=None,
            medium="beads", steps=2, seed=0, smooth=20.0, out_dir=tmp_path, quiet=True)
    assert calls.count("UNet2DConditionModel") == 2
    assert calls.count("ControlNetModel") == 4  # canny + depth, both steps, compiled
