"""Locating, checking and loading models; the `craftpix models` commands."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from craftpix.engines.sds.settings import SDSSettings
from craftpix.errors import InputError, ModelNotAvailable
from craftpix.models.cli import default_refs, models_group
from craftpix.models.hub import choose_weights, download, hub_cache, locate, required_patterns
from craftpix.models.ids import (
    KNOWN_REVISIONS,
    SD15,
    SDXL_BASE,
    ModelRef,
    canonical_model,
    family_from_unet_config,
    is_local_path,
)
from craftpix.models.loading import load_components, resolve_dtype

try:
    from tiny_models import tiny_paths  # noqa: F401  (fixture)
except ImportError:  # tests/ imported as a package
    from tests.tiny_models import tiny_paths  # noqa: F401

SHA = "0123456789abcdef0123456789abcdef01234567"


def _fake_cache(root: Path, repo_id: str, source: Path, revision: str = "main") -> Path:
    """Lay ``source`` out as the Hugging Face cache does: refs/<rev> → snapshots/<sha>/."""
    repo = root / f"models--{repo_id.replace('/', '--')}"
    snap = repo / "snapshots" / SHA
    shutil.copytree(source, snap)
    (repo / "refs" / revision).parent.mkdir(parents=True, exist_ok=True)
    (repo / "refs" / revision).write_text(SHA)
    return snap


@pytest.fixture
def offline_cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HUGGINGFACE_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cache = tmp_path / "hf" / "hub"
    cache.mkdir(parents=True)
    assert hub_cache() == cache
    return cache


# --- weights and patterns ----------------------------------------------------------------------
def test_choose_weights_prefers_requested_variant_and_skips_pickles() -> None:
    names = ["config.json", "diffusion_pytorch_model.bin", "diffusion_pytorch_model.fp16.bin",
             "diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.fp16.safetensors",
             "diffusion_pytorch_model.non_ema.safetensors"]
    assert choose_weights(names, prefer_fp16=True) == (
        "fp16", ["diffusion_pytorch_model.fp16.safetensors"])
    assert choose_weights(names, prefer_fp16=False) == (
        None, ["diffusion_pytorch_model.safetensors"])
    only_fp16 = ["diffusion_pytorch_model.fp16.safetensors", "diffusion_pytorch_model.bin"]
    assert choose_weights(only_fp16, prefer_fp16=False)[0] == "fp16"
    assert choose_weights(["pytorch_model.bin"], prefer_fp16=True) == (None, [])
    sharded = ["diffusion_pytorch_model.safetensors.index.json",
               "diffusion_pytorch_model-00001-of-00002.safetensors",
               "diffusion_pytorch_model-00002-of-00002.safetensors"]
    assert choose_weights(sharded, prefer_fp16=True) == (None, sorted(sharded))


def test_pull_patterns_are_configs_plus_one_weight_set() -> None:
    files = {
        "model_index.json", "README.md", "sd_xl_base_1.0.safetensors",
        "scheduler/scheduler_config.json",
        "unet/config.json", "unet/diffusion_pytorch_model.safetensors",
        "unet/diffusion_pytorch_model.fp16.safetensors",
        "text_encoder/config.json", "text_encoder/model.safetensors",
        "text_encoder/model.fp16.safetensors", "text_encoder_2/config.json",
        "text_encoder_2/model.fp16.safetensors", "tokenizer/vocab.json", "tokenizer/merges.txt",
        "tokenizer_2/vocab.json", "vae/config.json", "vae/diffusion_pytorch_model.safetensors",
    }
    ref = ModelRef(SDXL_BASE, "diffusion model", "pipeline")
    patterns, problems = required_patterns(ref, files, prefer_fp16=True)
    assert problems == []
    assert "unet/diffusion_pytorch_model.fp16.safetensors" in patterns
    assert "unet/diffusion_pytorch_model.safetensors" not in patterns
    assert "text_encoder_2/model.fp16.safetensors" in patterns
    assert "tokenizer/*" in patterns and "tokenizer_2/*" in patterns
    assert not any(p.startswith("vae/") or p.endswith(".md") or p == "sd_xl_base_1.0.safetensors"
                   for p in patterns)
    ref.full_vae = True
    patterns, _ = required_patterns(ref, files, prefer_fp16=True)
    assert "vae/diffusion_pytorch_model.safetensors" in patterns
    _, problems = required_patterns(ref, files - {"unet/diffusion_pytorch_model.safetensors",
                                                  "unet/diffusion_pytorch_model.fp16.safetensors"},
                                    prefer_fp16=True)
    assert problems == ["unet/*.safetensors"]


def test_default_pull_sets() -> None:
    names = [r.name for r in default_refs("sdxl")]
    assert names == [SDXL_BASE, "madebyollin/taesdxl", "diffusers/controlnet-canny-sdxl-1.0-mid",
                     "diffusers/controlnet-depth-sdxl-1.0-mid"]
    assert [r.name for r in default_refs("sd15", controlnet=False)] == [SD15, "madebyollin/taesd"]
    depth = default_refs("sdxl", depth=True)[-1]  # what the SDXL depth ControlNets saw
    assert depth.name == "Intel/dpt-hybrid-midas" and depth.revision == "refs/pr/5"
    depth = default_refs("sd15", depth=True)[-1]
    assert depth.name == "depth-anything/Depth-Anything-V2-Small-hf" and depth.revision is None
    assert default_refs("sdxl", controlnet=False, depth=True)[-1].name == "Intel/dpt-hybrid-midas"
    assert KNOWN_REVISIONS["Intel/dpt-hybrid-midas"] == "refs/pr/5"  # its safetensors branch
    assert default_refs("sdxl", full_vae=True)[0].full_vae


def test_names_and_families() -> None:
    assert canonical_model(None) == SDXL_BASE and canonical_model("sd15") == SD15
    assert not is_local_path(SDXL_BASE) and is_local_path("./models/x") and is_local_path("/a/b")
    assert family_from_unet_config({"addition_embed_type": "text_time"}) == "sdxl"
    assert family_from_unet_config({"cross_attention_dim": 768}) == "sd15"
    assert family_from_unet_config({"cross_attention_dim": 1024}) == "sd2"


def test_dtype_rules() -> None:
    assert resolve_dtype("auto", torch.device("cpu")) == torch.float32
    assert resolve_dtype("auto", torch.device("cuda")) == torch.float16
    assert resolve_dtype("bf16", torch.device("cpu")) == torch.bfloat16
    with pytest.raises(InputError, match="GPU"):
        resolve_dtype("fp16", torch.device("cpu"))


# --- locating -------------------------------------------------------------------------------------
def test_offline_cache_hit_loads_with_from_pretrained(tiny_paths, offline_cache) -> None:
    _fake_cache(offline_cache, "tiny/sdxl", tiny_paths["sdxl"])
    _fake_cache(offline_cache, "tiny/taesd", tiny_paths["taesd"])
    _fake_cache(offline_cache, "tiny/canny", tiny_paths["controlnet_canny_sdxl"])
    settings = SDSSettings(model="tiny/sdxl", vae="tiny/taesd", controlnet_canny="tiny/canny",
                           device="cpu")
    comps = load_components(settings, controls=["canny"])
    assert comps.family == "sdxl" and comps.sdxl
    assert len(comps.text_encoders) == 2 and len(comps.tokenizers) == 2
    assert type(comps.vae).__name__ == "AutoencoderTiny"
    assert set(comps.controlnets) == {"canny"} and comps.depth_estimator is None
    assert comps.zero_empty_negative  # from model_index.json, as SDXL base
    assert comps.native_resolution == 64 and comps.size_multiple == 16
    assert len(comps.alphas_cumprod) == 1000
    assert not any(p.requires_grad for p in comps.unet.parameters())
    assert comps.names["model"] == "tiny/sdxl"


def test_partial_pull_is_enough(tiny_paths, offline_cache) -> None:
    """Only what craftpix needs is in the cache (no vae/): the model still counts as there."""
    snap = _fake_cache(offline_cache, "tiny/sd15", tiny_paths["sd15"])
    shutil.rmtree(snap / "vae")
    _fake_cache(offline_cache, "tiny/taesd", tiny_paths["taesd"])
    comps = load_components(SDSSettings(model="tiny/sd15", vae="tiny/taesd"), controls=[])
    assert comps.family == "sd15" and len(comps.text_encoders) == 1
    with pytest.raises(ModelNotAvailable, match="tiny/sd15"):
        load_components(SDSSettings(model="tiny/sd15", vae="full"), controls=[])


def test_every_missing_model_in_one_message(tiny_paths, offline_cache) -> None:
    _fake_cache(offline_cache, "tiny/sd15", tiny_paths["sd15"])
    settings = SDSSettings(model="tiny/sd15", vae="tiny/none", controlnet_canny="tiny/nocanny",
                           depth_weight=0)
    with pytest.raises(ModelNotAvailable) as err:
        load_components(settings)
    msg = str(err.value)
    assert "tiny/none (VAE)" in msg and "tiny/nocanny (canny ControlNet)" in msg
    assert "tiny/sd15 (" not in msg  # the model itself is there
    assert "HF_HUB_OFFLINE" in msg and "hf download tiny/none" in msg


def test_incompatible_controlnet_is_refused(tiny_paths) -> None:
    settings = SDSSettings(model=str(tiny_paths["sd15"]), vae=str(tiny_paths["taesd"]),
                           controlnet_canny=str(tiny_paths["controlnet_canny_sdxl"]))
    with pytest.raises(InputError, match="another model family"):
        load_components(settings, controls=["canny"])


def test_local_folder_without_safetensors_is_refused(tiny_paths, tmp_path) -> None:
    folder = tmp_path / "cn"
    shutil.copytree(tiny_paths["controlnet_canny_sd15"], folder)
    (folder / "diffusion_pytorch_model.safetensors").rename(folder / "diffusion_pytorch_model.bin")
    ref = ModelRef(str(folder), "canny ControlNet", "diffusers")
    with pytest.raises(InputError, match=r"\*\.safetensors"):
        locate([ref])


def test_download_refused_offline(offline_cache) -> None:
    with pytest.raises(ModelNotAvailable, match="HF_HUB_OFFLINE"):
        download(ModelRef("someone/model", "VAE", "diffusers"))


# --- the commands ---------------------------------------------------------------------------------
def test_models_list_shows_cached_models_with_sizes(tiny_paths, offline_cache) -> None:
    runner = CliRunner()
    result = runner.invoke(models_group, ["list"])
    assert result.exit_code == 0 and "no models cached" in result.output
    _fake_cache(offline_cache, "madebyollin/taesdxl", tiny_paths["taesd"])
    result = runner.invoke(models_group, ["list"])
    assert result.exit_code == 0, result.output
    line = next(ln for ln in result.output.splitlines() if ln.startswith("madebyollin/taesdxl"))
    assert "KB" in line or "MB" in line
    assert "sdxl tiny vae" in line
    assert "1 model(s)" in result.output
    assert "not cached: stabilityai/stable-diffusion-xl-base-1.0" in result.output


def test_models_pull_offline_is_one_clear_error(offline_cache) -> None:
    result = CliRunner().invoke(models_group, ["pull", "--sd15"])
    assert result.exit_code != 0
    assert isinstance(result.exception, ModelNotAvailable)
    assert "HF_HUB_OFFLINE" in str(result.exception)


def test_unknown_uncached_model_named_alone(offline_cache) -> None:
    with pytest.raises(ModelNotAvailable) as err:
        load_components(SDSSettings(model="someone/finetune"), controls=["canny"])
    msg = str(err.value)
    assert "someone/finetune (diffusion model)" in msg and "taesd" not in msg
    assert "hf download someone/finetune" in msg and "models pull" not in msg


def test_inpainting_and_refiner_models_refused(tiny_paths, tmp_path) -> None:
    import json

    inpaint = tmp_path / "inpaint"
    shutil.copytree(tiny_paths["sd15"], inpaint)
    cfg = json.loads((inpaint / "unet" / "config.json").read_text())
    cfg["in_channels"] = 9
    (inpaint / "unet" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(InputError, match="inpainting"):
        load_components(SDSSettings(model=str(inpaint), vae=str(tiny_paths["taesd"])),
                        controls=[])
    refiner = tmp_path / "refiner"
    shutil.copytree(tiny_paths["sdxl"], refiner)
    shutil.rmtree(refiner / "text_encoder")
    shutil.rmtree(refiner / "tokenizer")
    index = json.loads((refiner / "model_index.json").read_text())
    index["text_encoder"] = index["tokenizer"] = [None, None]
    (refiner / "model_index.json").write_text(json.dumps(index))
    with pytest.raises(InputError, match="refiner"):
        load_components(SDSSettings(model=str(refiner), vae=str(tiny_paths["taesd"])),
                        controls=[])


def test_unreachable_hub_is_one_message_without_retry_noise(tmp_path, monkeypatch, caplog) -> None:
    """Online but no connection: the hub client's retry warnings stay quiet, one error."""
    import logging

    from huggingface_hub import HfApi
    from huggingface_hub.utils import logging as hub_logging

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr("craftpix.models.hub.hub_offline", lambda: False)
    monkeypatch.setattr("craftpix.models.hub.hub_unreachable", lambda: None)  # probe passes
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))

    def unreachable(self, repo_id, **kwargs):
        hub_logging.get_logger("huggingface_hub.utils._http").warning("Retrying in 1s [Retry 1/5].")
        raise OSError("[Errno -2] Name or service not known")

    monkeypatch.setattr(HfApi, "list_repo_files", unreachable)
    before = hub_logging.get_verbosity()
    with caplog.at_level(logging.WARNING), pytest.raises(ModelNotAvailable) as err:
        download(ModelRef(SDXL_BASE, "diffusion model", "pipeline"))
    assert "cannot download stabilityai/stable-diffusion-xl-base-1.0" in str(err.value)
    assert "hf download" in str(err.value)
    assert not [r for r in caplog.records if r.name.startswith("huggingface_hub")]
    assert hub_logging.get_verbosity() == before  # restored afterwards


def test_no_connection_fails_at_once_without_asking_the_hub(tmp_path, monkeypatch) -> None:
    """Without a network the hub client would retry for ~24 s: a connection probe answers
    first, and nothing is requested from the Hub."""
    import socket

    from huggingface_hub import HfApi

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr("craftpix.models.hub.hub_offline", lambda: False)
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY",
                 "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    probed: list[tuple] = []

    def refuse(address, timeout=None):
        probed.append((address, timeout))
        raise OSError("[Errno -2] Name or service not known")

    def never(self, *a, **kw):
        raise AssertionError("the Hub was asked although it cannot be reached")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(HfApi, "list_repo_files", never)
    with pytest.raises(ModelNotAvailable) as err:  # no Hub request at all: no back-off
        download(ModelRef(SDXL_BASE, "diffusion model", "pipeline"))
    msg = str(err.value)
    assert "\n" not in msg and "no connection to the Hub (" in msg and "hf download" in msg
    assert probed and probed[0][0][1] == 443 and probed[0][1] <= 5
    # behind a proxy a direct connection proves nothing: no probe
    from craftpix.models.hub import hub_unreachable

    probed.clear()
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    assert hub_unreachable() is None and not probed


def _online(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr("craftpix.models.hub.hub_offline", lambda: False)
    monkeypatch.setattr("craftpix.models.cli.hub_offline", lambda: False)
    monkeypatch.setattr("craftpix.models.hub.hub_unreachable", lambda: None)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))


@pytest.mark.parametrize("failure, why", [
    ("missing", "no such repository"),
    ("disk", "the disk is full"),
    ("connection", "no connection to the Hub"),
])
def test_a_failing_pull_says_why_and_never_to_pull_again(tmp_path, monkeypatch, failure,
                                                         why) -> None:
    import errno

    import httpx
    from huggingface_hub import HfApi
    from huggingface_hub.errors import RepositoryNotFoundError

    _online(tmp_path, monkeypatch)

    def fail(self, repo_id, **kwargs):
        if failure == "missing":
            response = httpx.Response(404, request=httpx.Request("GET", "https://hf.co/x"))
            raise RepositoryNotFoundError("404 Client Error: Repository Not Found",
                                          response=response)
        if failure == "disk":
            raise OSError(errno.ENOSPC, "No space left on device")
        raise ConnectionError("Name or service not known")

    monkeypatch.setattr(HfApi, "list_repo_files", fail)
    result = CliRunner().invoke(models_group, ["pull", "--sd15"])
    assert isinstance(result.exception, ModelNotAvailable), result.output
    msg = str(result.exception)
    assert "\n" not in msg and why in msg, msg
    assert "models pull" not in msg  # the command that just failed is not the advice
    assert f"hf download {SD15}" in msg
