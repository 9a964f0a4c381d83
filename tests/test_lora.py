"""``--lora``: a LoRA style merged into the frozen networks, with tiny LoRAs made with peft."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from craftpix.engines.sds.run import run_sds
from craftpix.engines.sds.settings import SDSSettings
from craftpix.errors import InputError, ModelNotAvailable
from craftpix.models.loading import load_components
from craftpix.models.lora import LORA_WEIGHT_NAME, locate_lora

pytest.importorskip("peft")

try:
    from tiny_models import (  # noqa: F401  (fixture)
        PALETTE,
        save_tiny_lora,
        tiny_paths,
        tiny_settings,
        write_palette_csv,
    )
except ImportError:  # tests/ imported as a package
    from tests.tiny_models import (  # noqa: F401
        PALETTE,
        save_tiny_lora,
        tiny_paths,
        tiny_settings,
        write_palette_csv,
    )

ATTENTION = (".to_q.weight", ".to_k.weight", ".to_v.weight", ".to_out.0.weight")
TEXT_ATTENTION = (".q_proj.weight", ".k_proj.weight", ".v_proj.weight", ".out_proj.weight")


@pytest.fixture(scope="module")
def loras(tmp_path_factory) -> dict[str, Path]:
    """sdxl: a folder (UNet + both text encoders); sd15: a file with its own name (UNet only)."""
    root = tmp_path_factory.mktemp("tiny-loras")
    sdxl = save_tiny_lora(root / "lora-sdxl", sdxl=True, text_encoders=True)
    sd15 = save_tiny_lora(root / "lora-sd15", sdxl=False, weight_name="style.safetensors")
    return {"sdxl": sdxl.parent, "sd15": sd15}


def _load(tiny_paths, family: str, **kw):
    return load_components(tiny_settings(tiny_paths, family, **kw), controls=[])


def _deltas(base, other) -> dict[str, torch.Tensor]:
    a, b = base.state_dict(), other.state_dict()
    assert a.keys() == b.keys()  # merged: no adapter layers left behind
    return {k: b[k] - a[k] for k in a if not torch.equal(a[k], b[k])}


def _unet_out(comps) -> torch.Tensor:
    torch.manual_seed(0)
    latents = torch.randn(1, 4, 8, 8)
    text = torch.randn(1, 77, comps.unet.config.cross_attention_dim)
    extra = {}
    if comps.sdxl:
        extra["added_cond_kwargs"] = {"text_embeds": torch.randn(1, 32),
                                      "time_ids": torch.tensor([[64.0, 64, 0, 0, 64, 64]])}
    with torch.no_grad():
        return comps.unet(latents, 500, encoder_hidden_states=text, **extra).sample


@pytest.mark.parametrize("family", ["sdxl", "sd15"])
def test_lora_is_merged_and_scaled(tiny_paths, loras, family) -> None:
    base = _load(tiny_paths, family)
    zero = _load(tiny_paths, family, lora=str(loras[family]), lora_scale=0.0)
    half = _load(tiny_paths, family, lora=str(loras[family]), lora_scale=0.5)
    full = _load(tiny_paths, family, lora=str(loras[family]), lora_scale=1.0)

    assert _deltas(base.unet, zero.unet) == {}  # scale 0: the model as it was
    d_full, d_half = _deltas(base.unet, full.unet), _deltas(base.unet, half.unet)
    assert d_full and all(k.endswith(ATTENTION) for k in d_full)  # only what the LoRA targets
    assert d_half.keys() == d_full.keys()
    for k, d in d_full.items():
        torch.testing.assert_close(d_half[k], 0.5 * d, rtol=1e-4, atol=1e-6)
    out_base, out_half, out_full = _unet_out(base), _unet_out(half), _unet_out(full)
    assert torch.equal(_unet_out(zero), out_base)
    assert (out_full - out_base).abs().mean() > (out_half - out_base).abs().mean() > 1e-4

    for te_base, te_full in zip(base.text_encoders, full.text_encoders, strict=True):
        d_te = _deltas(te_base, te_full)
        if family == "sdxl":  # the sdxl LoRA has layers for both text encoders
            assert d_te and all(k.endswith(TEXT_ATTENTION) for k in d_te)
        else:
            assert d_te == {}
    assert not any("lora" in n for n, _ in full.unet.named_modules())
    assert not any(p.requires_grad for p in full.unet.parameters())
    assert dict(full.scheduler.config) == dict(base.scheduler.config)
    assert full.names["lora"] == str(loras[family])


def _run(settings: SDSSettings, out: Path, steps: int = 2):
    return run_sds(settings, prompt="a red rose", image=None, reference_rgb=None,
                   palette_rgb=PALETTE, height=8, width=8, colors=None, medium="beads",
                   steps=steps, seed=0, smooth=20.0, out_dir=out, quiet=True)


@pytest.mark.parametrize("family", ["sdxl", "sd15"])
def test_run_sds_with_lora(tiny_paths, loras, tmp_path, family) -> None:
    def losses(out: str, **kw) -> list[float]:
        settings = tiny_settings(tiny_paths, family, optim={"warmup": 1, "lr": 0.5}, **kw)
        return [h["loss"] for h in _run(settings, tmp_path / out).history]

    plain = losses("plain")
    assert losses("zero", lora=str(loras[family]), lora_scale=0.0) == plain
    styled = losses("styled", lora=str(loras[family]), lora_scale=1.0)
    assert styled != plain and np.isfinite(styled).all()


def test_not_a_lora_is_one_line_error(tiny_paths, loras, tmp_path) -> None:
    unet_file = tiny_paths["sd15"] / "unet" / "diffusion_pytorch_model.safetensors"
    with pytest.raises(InputError, match="is not a LoRA") as err:
        _run(tiny_settings(tiny_paths, "sd15", lora=str(unet_file)), tmp_path / "out")
    assert "\n" not in str(err.value)
    assert not (tmp_path / "out" / "pattern.json").exists()

    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"definitely not a safetensors file")
    with pytest.raises(InputError, match="not a readable safetensors file"):
        _load(tiny_paths, "sd15", lora=str(junk))
    alien = tmp_path / "alien.safetensors"
    save_file({"transformer.blocks.0.attn.lora_A.weight": torch.zeros(2, 8),
               "transformer.blocks.0.attn.lora_B.weight": torch.zeros(8, 2)}, alien)
    with pytest.raises(InputError, match="has no layers of"):
        _load(tiny_paths, "sd15", lora=str(alien))


@pytest.mark.parametrize("family, other", [("sd15", "sdxl"), ("sdxl", "sd15")])
def test_lora_of_another_family(tiny_paths, loras, family, other) -> None:
    with pytest.raises(InputError, match="does not fit .*another model family") as err:
        _load(tiny_paths, family, lora=str(loras[other]))
    assert "\n" not in str(err.value)


def test_lora_paths(tiny_paths, loras, tmp_path) -> None:
    pickle = tmp_path / "style.bin"
    pickle.write_bytes(b"\x80\x04")
    with pytest.raises(InputError, match="never pickles"):
        locate_lora(str(pickle))
    with pytest.raises(InputError, match="does not exist"):
        locate_lora("missing-style.safetensors")
    with pytest.raises(InputError, match="does not exist"):
        locate_lora(str(tmp_path / "nothing" / "here"))
    assert locate_lora(str(loras["sdxl"])) == loras["sdxl"] / LORA_WEIGHT_NAME
    two = tmp_path / "two"
    two.mkdir()
    for name in ("a.safetensors", "b.safetensors"):
        shutil.copy(loras["sd15"], two / name)
    with pytest.raises(InputError, match="several .safetensors files"):
        locate_lora(str(two))
    (tmp_path / "none").mkdir()
    with pytest.raises(InputError, match="no .safetensors"):
        locate_lora(str(tmp_path / "none"))


def test_hub_lora_from_cache_offline(tiny_paths, loras, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HUGGINGFACE_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotAvailable) as err:
        _load(tiny_paths, "sd15", lora="someone/tiny-style")
    msg = str(err.value)
    assert "\n" not in msg and "someone/tiny-style" in msg and "hf download someone/tiny-style" in msg

    # The cache layout `hf download someone/tiny-style` leaves behind.
    repo = tmp_path / "hf" / "hub" / "models--someone--tiny-style"
    snapshot = repo / "snapshots" / "0123abcd"
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abcd")
    shutil.copy(loras["sd15"], snapshot / "tiny-style.safetensors")
    (snapshot / "README.md").write_text("a style")
    assert locate_lora("someone/tiny-style") == snapshot / "tiny-style.safetensors"
    base = _load(tiny_paths, "sd15")
    styled = _load(tiny_paths, "sd15", lora="someone/tiny-style")
    assert _deltas(base.unet, styled.unet)
    assert styled.names["lora"] == "someone/tiny-style"


def test_hub_lora_download(loras, tmp_path, monkeypatch) -> None:
    import huggingface_hub

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HUGGINGFACE_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr("craftpix.models.hub.hub_unreachable", lambda: None)
    fetched: list[tuple[str, str]] = []

    def download(repo, filename, **kw):
        fetched.append((repo, filename))
        return str(loras["sd15"])

    monkeypatch.setattr(huggingface_hub.HfApi, "list_repo_files", lambda self, repo, **kw: [
        "README.md", "style.safetensors", "old/style.safetensors", "style.bin"])
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", download)
    assert locate_lora("someone/tiny-style") == loras["sd15"]
    assert fetched == [("someone/tiny-style", "style.safetensors")]  # that one file only

    def unreachable(self, repo, **kw):
        raise OSError("Repository Not Found for url: https://huggingface.co/...\nmore text")

    monkeypatch.setattr(huggingface_hub.HfApi, "list_repo_files", unreachable)
    with pytest.raises(ModelNotAvailable, match="cannot download LoRA someone/other") as err:
        locate_lora("someone/other")
    assert "\n" not in str(err.value) and "hf download someone/other" in str(err.value)


def test_missing_peft_keeps_the_friendly_message(tiny_paths, monkeypatch) -> None:
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "peft" else find_spec(name, *a))
    with pytest.raises(InputError, match="pip install peft"):
        _load(tiny_paths, "sd15", lora="someone/tiny-style")


def test_cli_lora(tiny_paths, loras, tmp_path) -> None:
    from click.testing import CliRunner

    from craftpix.cli import main

    palette = write_palette_csv(tmp_path / "pal.csv")

    def invoke(lora: Path, out: Path):
        args = ["beads", "--prompt", "rose", "--size", "8", "--engine", "sds", "--steps", "2",
                "--model", str(tiny_paths["sd15"]), "--vae", str(tiny_paths["taesd"]),
                "--lora", str(lora), "--lora-scale", "0.8", "--device", "cpu",
                "--dtype", "fp32", "--palette", str(palette), "--out", str(out), "--quiet",
                "--reference", "none"]  # random start: no ControlNet to give
        return CliRunner().invoke(main, args, catch_exceptions=False)

    result = invoke(loras["sd15"], tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "pattern.json").is_file()

    bad = invoke(tiny_paths["sd15"] / "unet" / "diffusion_pytorch_model.safetensors",
                 tmp_path / "bad")
    assert bad.exit_code == 2
    assert "is not a LoRA" in bad.output and "Traceback" not in bad.output
    assert len(bad.output.strip().splitlines()) == 1
