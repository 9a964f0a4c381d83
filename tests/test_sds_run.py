"""The production SDS path end to end, with tiny random-weight models loaded from disk."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from craftpix.engines.sds import objective as sds_module
from craftpix.engines.sds.optimize import CHECKPOINT_NAME, Interrupted
from craftpix.engines.sds.run import RUN_FILE, run_sds
from craftpix.engines.sds.settings import SDSSettings
from craftpix.errors import InputError, ModelNotAvailable
from craftpix.models.loading import load_components

try:
    from tiny_models import (  # noqa: F401  (fixture)
        PALETTE,
        tiny_paths,
        tiny_settings,
        write_palette_csv,
    )
except ImportError:  # tests/ imported as a package
    from tests.tiny_models import (  # noqa: F401
        PALETTE,
        tiny_paths,
        tiny_settings,
        write_palette_csv,
    )


def _image(seed: int = 0) -> tuple[Image.Image, np.ndarray]:
    rng = np.random.default_rng(seed)
    arr = np.zeros((48, 48, 3), dtype=np.uint8)
    arr[8:40, 12:36] = (200, 40, 40)
    arr += rng.integers(0, 20, arr.shape, dtype=np.uint8)
    img = Image.fromarray(arr)
    ref = np.asarray(img.resize((8, 8), Image.Resampling.BOX), dtype=np.float64) / 255
    return img, ref


def _run(settings: SDSSettings, out: Path, *, image: bool = False, steps: int = 3,
         colors: int | None = None, seed: int = 0, **kw):
    img, ref = _image() if image else (None, None)
    args = dict(prompt="a red rose", image=img, reference_rgb=ref, palette_rgb=PALETTE,
                height=8, width=8, colors=colors, medium="beads", steps=steps, seed=seed,
                smooth=20.0, out_dir=out, quiet=True)
    args.update(kw)
    return run_sds(settings, **args)


class Counter:
    """Counts forward calls (and batch sizes) of a diffusers/transformers model class, class-wide.

    The batch size is that of the first input, positional (``sample``) or keyword
    (``pixel_values``).
    """

    def __init__(self, monkeypatch, cls) -> None:
        self.batches: list[int] = []
        original = cls.forward

        def forward(module, *args, **kwargs):
            first = args[0] if args else next(iter(kwargs.values()))
            self.batches.append(int(first.shape[0]))
            return original(module, *args, **kwargs)

        monkeypatch.setattr(cls, "forward", forward)


@pytest.mark.parametrize("family", ["sdxl", "sd15"])
def test_prompt_only_one_unet_call_per_step_no_controlnet(tiny_paths, tmp_path, monkeypatch,
                                                          family) -> None:
    from diffusers import ControlNetModel, UNet2DConditionModel

    unet_calls = Counter(monkeypatch, UNet2DConditionModel)
    cn_calls = Counter(monkeypatch, ControlNetModel)
    loaded: list[dict] = []
    original = load_components

    def spy(settings, **kw):
        comps = original(settings, **kw)
        loaded.append(dict(controlnets=dict(comps.controlnets), depth=comps.depth_estimator))
        return comps

    monkeypatch.setattr("craftpix.engines.sds.run.load_components", spy)
    result = _run(tiny_settings(tiny_paths, family), tmp_path, steps=4)
    assert unet_calls.batches == [2, 2, 2, 2]  # one call per step, [negative, prompt]
    assert cn_calls.batches == []  # no reference image: no ControlNet at all
    assert loaded[0]["controlnets"] == {} and loaded[0]["depth"] is None
    assert result.indices.shape == (8, 8) and result.steps == 4
    assert result.indices.min() >= 0 and result.indices.max() < len(PALETTE)
    assert np.isfinite([h["loss"] for h in result.history]).all()


@pytest.mark.parametrize("family", ["sdxl", "sd15"])
def test_reference_image_drives_both_controlnets(tiny_paths, tmp_path, monkeypatch,
                                                 family) -> None:
    from diffusers import ControlNetModel, UNet2DConditionModel
    from transformers import DPTForDepthEstimation

    unet_calls = Counter(monkeypatch, UNet2DConditionModel)
    cn_calls = Counter(monkeypatch, ControlNetModel)
    depth_calls = Counter(monkeypatch, DPTForDepthEstimation)
    result = _run(tiny_settings(tiny_paths, family), tmp_path, image=True, steps=3)
    assert unet_calls.batches == [2, 2, 2]
    assert cn_calls.batches == [2] * 6  # canny + depth, every step
    assert len(depth_calls.batches) == 1  # control images are computed once
    assert result.indices.shape == (8, 8)


def test_reference_initializes_logits(tiny_paths, tmp_path) -> None:
    from craftpix.engines.sds.generator import Generator

    _, ref = _image()
    settings = tiny_settings(tiny_paths, "sd15", canny_weight=0.0, depth_weight=0.0)
    result = _run(settings, tmp_path, image=True, steps=1)
    init = Generator.from_image(ref, PALETTE).indices().numpy()
    assert (result.indices == init).mean() > 0.8  # one step barely moves an image init


def test_controls_can_be_turned_off_one_by_one(tiny_paths, tmp_path, monkeypatch) -> None:
    from diffusers import ControlNetModel

    cn_calls = Counter(monkeypatch, ControlNetModel)
    _run(tiny_settings(tiny_paths, "sdxl", depth_weight=0.0), tmp_path, image=True, steps=2)
    assert cn_calls.batches == [2, 2]  # canny only


def test_previews_checkpoint_and_run_file(tiny_paths, tmp_path) -> None:
    settings = tiny_settings(tiny_paths, "sd15", preview_every=2, checkpoint_every=2)
    _run(settings, tmp_path, steps=4)
    previews = sorted(p.name for p in (tmp_path / "progress").iterdir())
    assert previews == ["step-000002.png", "step-000004.png"]
    with Image.open(tmp_path / "progress" / "step-000004.png") as im:
        colors = {c for _, c in im.getcolors(1 << 16)}
    assert colors <= {tuple(int(round(v * 255)) for v in c) for c in PALETTE}
    assert (tmp_path / CHECKPOINT_NAME).is_file()
    run = json.loads((tmp_path / RUN_FILE).read_text())
    assert run["seed"] == 0 and run["steps"] == 4 and "fuse bead" in run["prompt"]
    assert not [p for p in tmp_path.rglob(".*") if p.is_file()]  # no temp leftovers


def test_color_budget_without_reference(tiny_paths, tmp_path) -> None:
    settings = tiny_settings(tiny_paths, "sd15")
    result = _run(settings, tmp_path, steps=10, colors=3)
    assert len(np.unique(result.indices)) <= 3


def test_full_vae_and_attention_slicing(tiny_paths, tmp_path) -> None:
    settings = tiny_settings(tiny_paths, "sdxl", vae="full", attention_slicing=True)
    result = _run(settings, tmp_path, image=True, steps=2)
    assert result.steps == 2


def test_same_seed_same_pattern(tiny_paths, tmp_path) -> None:
    settings = tiny_settings(tiny_paths, "sd15", optim={"warmup": 1, "lr": 0.5})
    comps = load_components(settings, controls=[])  # loaded once, reused (components=)
    a = _run(settings, tmp_path / "a", steps=4, components=comps)
    b = _run(settings, tmp_path / "b", steps=4, components=comps)
    c = _run(settings, tmp_path / "c", steps=4, seed=1, components=comps)
    assert np.array_equal(a.indices, b.indices)
    assert [h["loss"] for h in a.history] == [h["loss"] for h in b.history]
    assert [h["loss"] for h in a.history] != [h["loss"] for h in c.history]


@pytest.mark.parametrize("device_noise", [None, True])
def test_resume_equals_uninterrupted_run(tiny_paths, tmp_path, monkeypatch,
                                         device_noise) -> None:
    """Bit for bit, with one generator (CPU default) and with the separate noise generator
    that CUDA runs use (both states are checkpointed)."""
    settings = tiny_settings(tiny_paths, "sd15", checkpoint_every=6,
                             optim={"warmup": 1, "lr": 0.3, "device_noise": device_noise})
    full = _run(settings, tmp_path / "full", image=True, steps=6)

    original = sds_module.SDSObjective.loss
    state = {"fired": False}

    def interrupt_at_4(self, render, step, total, rng, **kw):
        if step == 4 and not state["fired"]:
            state["fired"] = True
            raise KeyboardInterrupt
        return original(self, render, step, total, rng, **kw)

    monkeypatch.setattr(sds_module.SDSObjective, "loss", interrupt_at_4)
    out = tmp_path / "resumed"
    with pytest.raises(Interrupted, match="--resume"):
        _run(settings, out, image=True, steps=6)
    saved = torch.load(out / CHECKPOINT_NAME, weights_only=True)
    assert saved["step"] == 4
    assert ("noise_rng" in saved) == bool(device_noise)
    settings.resume = out
    resumed = _run(settings, out, image=True, steps=6)
    assert np.array_equal(resumed.indices, full.indices)
    a = torch.load(tmp_path / "full" / CHECKPOINT_NAME, weights_only=True)
    b = torch.load(out / CHECKPOINT_NAME, weights_only=True)
    assert torch.equal(a["generator"]["logits"], b["generator"]["logits"])  # bit for bit
    assert [h["loss"] for h in resumed.history] == [h["loss"] for h in full.history[4:]]


def test_resume_refuses_a_different_run(tiny_paths, tmp_path) -> None:
    settings = tiny_settings(tiny_paths, "sd15", checkpoint_every=2)
    _run(settings, tmp_path, steps=2)
    settings.resume = tmp_path
    with pytest.raises(InputError, match="seed"):
        _run(settings, tmp_path, steps=2, seed=5)
    with pytest.raises(InputError, match="prompt"):
        _run(settings, tmp_path, steps=2, prompt="a blue whale")
    settings.resume = tmp_path / "nothing-here"
    with pytest.raises(InputError, match="sds-run.json"):
        _run(settings, tmp_path, steps=2)


def test_missing_model_offline_stops_before_work(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HUGGINGFACE_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    settings = SDSSettings(device="cpu", reference="none")
    with pytest.raises(ModelNotAvailable) as err:
        _run(settings, tmp_path / "out", steps=2)
    msg = str(err.value)
    assert "\n" not in msg
    assert "stabilityai/stable-diffusion-xl-base-1.0" in msg and "madebyollin/taesdxl" in msg
    assert "craftpix models pull --sdxl" in msg and "hf download" in msg
    assert "controlnet" not in msg.lower()  # random start: no ControlNet needed
    assert not (tmp_path / "out" / CHECKPOINT_NAME).exists()

    with pytest.raises(ModelNotAvailable) as err:
        _run(settings, tmp_path / "out", image=True, steps=2)
    msg = str(err.value)
    assert "diffusers/controlnet-canny-sdxl-1.0-mid" in msg
    assert "diffusers/controlnet-depth-sdxl-1.0-mid" in msg and "Intel/dpt-hybrid-midas" in msg
    assert "craftpix models pull --sdxl --depth" in msg


def test_missing_controlnet_next_to_local_model(tiny_paths, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    settings = tiny_settings(tiny_paths, "sd15", controlnet_canny=None)
    with pytest.raises(ModelNotAvailable, match="lllyasviel/control_v11p_sd15_canny"):
        _run(settings, tmp_path / "out", image=True, steps=1)


def test_bad_local_folder_is_one_line_error(tmp_path) -> None:
    (tmp_path / "empty").mkdir()
    settings = SDSSettings(model=str(tmp_path / "empty"), device="cpu")
    with pytest.raises(InputError, match="not a usable diffusion model"):
        _run(settings, tmp_path / "out")
    settings = SDSSettings(model=str(tmp_path / "nope"), device="cpu")
    with pytest.raises(InputError, match="does not exist"):
        _run(settings, tmp_path / "out")


def test_prompt_is_required(tmp_path) -> None:
    with pytest.raises(InputError, match="--prompt"):
        _run(SDSSettings(), tmp_path, prompt=None)


def test_cli_prompt_run(tiny_paths, tmp_path) -> None:
    cli = pytest.importorskip("craftpix.cli")
    from click.testing import CliRunner

    if "--vae" not in {o for p in cli.main.commands["beads"].params for o in p.opts}:
        pytest.skip("the CLI does not have the sds options yet")
    palette = write_palette_csv(tmp_path / "pal.csv")
    out = tmp_path / "out"
    args = ["beads", "--prompt", "rose", "--size", "8", "--engine", "sds", "--steps", "3",
            "--model", str(tiny_paths["sd15"]), "--vae", str(tiny_paths["taesd"]),
            "--device", "cpu", "--dtype", "fp32", "--palette", str(palette), "--out", str(out),
            "--quiet", "--preview-every", "3", "--reference", "none"]
    result = CliRunner().invoke(cli.main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert (out / "pattern.json").is_file()
    assert (out / "progress" / "step-000003.png").is_file()


def test_run_identity_does_not_depend_on_the_working_directory(tmp_path, monkeypatch) -> None:
    """Relative model/LoRA paths name the same files from anywhere, so --resume accepts them."""
    from craftpix.engines.sds.run import run_fingerprint

    (tmp_path / "models" / "base").mkdir(parents=True)
    (tmp_path / "models" / "style.safetensors").write_bytes(b"")
    (tmp_path / "elsewhere").mkdir()

    def fingerprint(cwd: Path, prefix: str) -> dict:
        monkeypatch.chdir(cwd)
        settings = SDSSettings(model=f"{prefix}models/base", lora=f"{prefix}models/style.safetensors")
        return run_fingerprint(settings, prompt="rose", negative="", controls=[], image=None,
                               reference_rgb=None, palette_rgb=np.eye(3), height=8, width=8,
                               colors=None, medium="beads", steps=3, seed=0, smooth=20.0)

    a = fingerprint(tmp_path, "./")
    b = fingerprint(tmp_path / "elsewhere", "../")
    assert a == b
    assert a["lora"] == str(tmp_path / "models" / "style.safetensors")


def test_cli_clean_up_absorbs_stray_cells_of_the_argmax(tiny_paths, tmp_path) -> None:
    """--clean-up runs the photo engine's last pass on the diffusion engine's argmax."""
    from click.testing import CliRunner

    from craftpix.cli import main
    from craftpix.metrics import isolated_cell_rate
    from craftpix.pattern import Pattern

    palette = write_palette_csv(tmp_path / "pal.csv")
    base = ["beads", "--prompt", "rose", "--size", "12", "--engine", "sds", "--steps", "2",
            "--model", str(tiny_paths["sd15"]), "--vae", str(tiny_paths["taesd"]),
            "--device", "cpu", "--dtype", "fp32", "--palette", str(palette), "--quiet",
            "--no-pdf", "--smooth", "50", "--reference", "none"]
    cells = {}
    for name, extra in (("raw", []), ("clean", ["--clean-up"])):
        res = CliRunner().invoke(main, [*base, *extra, "--out", str(tmp_path / name)],
                                 catch_exceptions=False)
        assert res.exit_code == 0, res.output
        cells[name] = Pattern.load(tmp_path / name / "pattern.json")
    assert cells["clean"].meta.get("clean_up") is True and "clean_up" not in cells["raw"].meta
    raw, clean = (isolated_cell_rate(cells[k].cells) for k in ("raw", "clean"))
    assert raw > 0.05 and clean < raw / 2, (raw, clean)


def test_nan_run_stops_with_one_line_naming_the_model(tiny_paths, tmp_path, monkeypatch) -> None:
    from diffusers import UNet2DConditionModel

    from craftpix.engines.sds.objective import NonFiniteOutput

    original = UNet2DConditionModel.forward

    def broken(module, *args, **kwargs):
        out = original(module, *args, **kwargs)
        return (torch.full_like(out[0], float("nan")),)

    monkeypatch.setattr(UNet2DConditionModel, "forward", broken)
    with pytest.raises(NonFiniteOutput) as err:
        _run(tiny_settings(tiny_paths, "sd15"), tmp_path, steps=3)
    msg = str(err.value)
    assert "\n" not in msg and "tiny-sd15" in msg and "3 of the last 3 steps" in msg
