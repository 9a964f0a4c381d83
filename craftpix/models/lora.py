"""LoRA styles: finding the safetensors file and fusing it into the frozen networks."""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from craftpix.errors import CraftpixError, InputError, ModelNotAvailable
from craftpix.models.hub import _downloading, _first_line, hub_cache, hub_offline
from craftpix.models.ids import is_local_path

if TYPE_CHECKING:
    from craftpix.models.loading import SDSComponents


# --- LoRA -----------------------------------------------------------------------------------------
LORA_WEIGHT_NAME = "pytorch_lora_weights.safetensors"  # what diffusers' save_lora_weights writes
_PICKLE_SUFFIXES = (".bin", ".ckpt", ".pt", ".pth")


def _require_peft() -> None:
    """LoRAs load through diffusers' PEFT backend: without peft, say how to get it."""
    if importlib.util.find_spec("peft") is None:
        raise InputError("--lora needs the peft package: pip install peft")


def _pick_lora_file(names: Iterable[str], where: str) -> str:
    """The LoRA weight file among the top-level ``names`` of a folder or repository."""
    files = sorted(n for n in names if "/" not in n and n.endswith(".safetensors"))
    if LORA_WEIGHT_NAME in files:
        return LORA_WEIGHT_NAME
    if len(files) == 1:
        return files[0]
    if not files:
        raise InputError(f"{where} holds no .safetensors LoRA weights "
                         "(craftpix loads safetensors only)")
    raise InputError(f"{where} holds several .safetensors files ({', '.join(files[:4])}); "
                     "pass the path of the one to use")


def _cached_lora(repo: str) -> Path | None:
    """The LoRA file of Hub repo ``repo`` in the cache (its ``main`` snapshot), or None."""
    folder = hub_cache() / ("models--" + repo.replace("/", "--"))
    try:
        snapshot = folder / "snapshots" / (folder / "refs" / "main").read_text().strip()
        names = [p.name for p in snapshot.iterdir() if p.is_file()]
    except OSError:
        return None
    if not any(n.endswith(".safetensors") for n in names):
        return None
    return snapshot / _pick_lora_file(names, f"LoRA {repo} (cached in {snapshot})")


def _download_lora(repo: str) -> Path:
    """Fetch the one safetensors LoRA file of Hub repo ``repo`` into the cache."""
    from huggingface_hub import HfApi, hf_hub_download

    with _downloading(f"LoRA {repo}", f"or fetch it with `hf download {repo}`"):
        name = _pick_lora_file(HfApi().list_repo_files(repo), f"the LoRA repository {repo}")
        return Path(hf_hub_download(repo, name, cache_dir=hub_cache()))


def locate_lora(lora: str, *, allow_download: bool | None = None) -> Path:
    """The safetensors weight file of ``--lora``: a file, a folder, or a Hub id (no weights read).

    A folder or repository gives its ``pytorch_lora_weights.safetensors`` or its only
    ``.safetensors`` file. A Hub id is looked up in the cache first and downloaded (that one file)
    only when downloads are allowed; otherwise one :class:`ModelNotAvailable` line says how to
    fetch it. Pickled weights (``.bin``, ``.ckpt``, ...) are refused.
    """
    path = Path(lora).expanduser()
    if is_local_path(lora) or path.suffix.lower() in (".safetensors", *_PICKLE_SUFFIXES):
        if path.is_dir():
            return path / _pick_lora_file(os.listdir(path), f"LoRA folder {lora}")
        if not path.is_file():
            raise InputError(f"LoRA file or folder {lora} does not exist")
        if path.suffix.lower() != ".safetensors":
            raise InputError(f"LoRA {lora} is not a .safetensors file "
                             "(craftpix loads safetensors only, never pickles)")
        return path
    cached = _cached_lora(lora)
    if cached is not None:
        return cached
    allow = (not hub_offline()) if allow_download is None else allow_download
    if not allow:
        raise ModelNotAvailable(
            f"LoRA {lora} is not in the Hugging Face cache ({hub_cache()}) and downloads are off"
            f"{' (HF_HUB_OFFLINE)' if hub_offline() else ''}; fetch it with `hf download {lora}`")
    return _download_lora(lora)


def _lora_pipeline(comps: SDSComponents) -> Any:
    """A diffusers pipeline around the UNet and text encoders, for its LoRA loader methods.

    No VAE and no scheduler: the pipelines' constructors rewrite an old scheduler config in
    place (``clip_sample``, ``steps_offset``), which must not touch the run's own scheduler.
    """
    from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline

    if comps.sdxl:
        return StableDiffusionXLPipeline(
            vae=None, text_encoder=comps.text_encoders[0], text_encoder_2=comps.text_encoders[-1],
            tokenizer=None, tokenizer_2=None, unet=comps.unet, scheduler=None,
            add_watermarker=False)
    return StableDiffusionPipeline(
        vae=None, text_encoder=comps.text_encoders[0], tokenizer=None, unet=comps.unet,
        scheduler=None, safety_checker=None, feature_extractor=None,
        requires_safety_checker=False)


def _lora_layers(comps: SDSComponents) -> int:
    from peft.tuners.tuners_utils import BaseTunerLayer

    return sum(isinstance(m, BaseTunerLayer)
               for net in (comps.unet, *comps.text_encoders) for m in net.modules())


def _lora_error(name: str, model: str, exc: Exception) -> InputError:
    """One line for a LoRA file diffusers/peft could not load."""
    text = str(exc)
    mismatch = re.search(r"size mismatch for ([\w.]+)", text)
    if mismatch:
        layer = re.sub(r"\.lora_[AB]\.\w+\.weight$", "", mismatch.group(1))
        return InputError(f"LoRA {name} does not fit {model}: its layer {layer} has another "
                          "shape (a LoRA for another model family?)")
    if "Invalid LoRA checkpoint" in text:
        return InputError(f"{name} is not a LoRA (its weights are not LoRA layers)")
    if "safetensors" in type(exc).__module__.lower() or "header" in text.lower():
        return InputError(f"LoRA {name} is not a readable safetensors file")
    return InputError(f"cannot load LoRA {name}: {_first_line(exc)[:300]}")


def apply_lora(comps: SDSComponents, lora: str | Path, scale: float = 1.0, *,
               name: str | None = None) -> None:
    """Load a LoRA into the UNet and text encoders with diffusers, and fuse it at ``scale``.

    ``lora`` is anything :func:`locate_lora` takes; ``name`` is how messages call it (default:
    ``lora``). The LoRA is merged into the frozen weights (``fuse_lora`` then
    ``unload_lora_weights``): no adapter layers stay behind, so the networks run at full speed.
    ``scale`` 0 leaves them unchanged. A file that is not a LoRA, or one made for another model
    family, raises one :class:`InputError` line.
    """
    _require_peft()
    name = name or str(lora)
    file = locate_lora(str(lora))
    from diffusers.utils import USE_PEFT_BACKEND
    from diffusers.utils import logging as dlog

    if not USE_PEFT_BACKEND:
        raise InputError("--lora needs a newer peft for this diffusers: pip install -U peft")
    model = comps.names.get("model", "the diffusion model")
    pipe = _lora_pipeline(comps)
    verbosity = dlog.get_verbosity()
    dlog.set_verbosity(logging.CRITICAL)  # diffusers logs a failed load at length, then raises
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                pipe.load_lora_weights(str(file), weight_name=file.name, adapter_name="style",
                                       use_safetensors=True, local_files_only=True)
                if not _lora_layers(comps):
                    raise InputError(f"LoRA {name} has no layers of {model}'s UNet or text "
                                     "encoders (a LoRA for another kind of model?)")
                pipe.fuse_lora(lora_scale=scale, adapter_names=["style"])
                pipe.unload_lora_weights()
            except Exception as exc:
                try:
                    pipe.unload_lora_weights()  # leave no half-loaded adapter behind
                except Exception:  # pragma: no cover
                    pass
                if isinstance(exc, CraftpixError):
                    raise
                raise _lora_error(name, model, exc) from None
    finally:
        dlog.set_verbosity(verbosity)




@contextmanager
def lora_adapter(comps: SDSComponents, lora: str | Path, *, name: str | None = None,
                 adapter: str = "reference") -> Iterator[int]:
    """Load a LoRA into the UNet for the ``with`` block only, through diffusers' own loader.

    For the few-step LoRA of the reference candidates: ``load_lora_weights`` of the family's
    pipeline class (which also converts kohya/SGM-style files such as LCM-LoRA's), as a PEFT
    adapter, not fused; on leaving, ``unload_lora_weights`` removes its layers, so the networks
    after the block are the base model's, weight for weight (a ``--lora`` style was fused
    before and stays). Yields the number of LoRA layers added. Only the UNet takes it: the
    candidates use the run's text conditioning. A file that is not a LoRA, or one for another
    model family, raises one :class:`InputError` line.
    """
    _require_peft()
    name = name or str(lora)
    file = locate_lora(str(lora))
    from diffusers.utils import USE_PEFT_BACKEND
    from diffusers.utils import logging as dlog

    if not USE_PEFT_BACKEND:
        raise InputError("--reference-lora needs a newer peft for this diffusers: "
                         "pip install -U peft")
    model = comps.names.get("model", "the diffusion model")
    pipe = _unet_pipeline(comps)
    before = _lora_layers(comps)
    verbosity = dlog.get_verbosity()
    dlog.set_verbosity(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                pipe.load_lora_weights(str(file), weight_name=file.name, adapter_name=adapter,
                                       use_safetensors=True, local_files_only=True)
                layers = _lora_layers(comps) - before
                if not layers:
                    raise InputError(f"LoRA {name} has no layers of {model}'s UNet "
                                     "(a LoRA for another kind of model?)")
            except Exception as exc:
                _unload(pipe)
                if isinstance(exc, CraftpixError):
                    raise
                raise _lora_error(name, model, exc) from None
    finally:
        dlog.set_verbosity(verbosity)
    try:
        yield layers
    finally:
        _unload(pipe)


def _unet_pipeline(comps: SDSComponents) -> Any:
    """The family's pipeline around the UNet alone, for its LoRA loader (no text encoders:
    text-encoder layers of a LoRA file are not loaded)."""
    from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline

    if comps.sdxl:
        return StableDiffusionXLPipeline(
            vae=None, text_encoder=None, text_encoder_2=None, tokenizer=None, tokenizer_2=None,
            unet=comps.unet, scheduler=None, add_watermarker=False)
    return StableDiffusionPipeline(
        vae=None, text_encoder=None, tokenizer=None, unet=comps.unet, scheduler=None,
        safety_checker=None, feature_extractor=None, requires_safety_checker=False)


def _unload(pipe: Any) -> None:
    try:
        pipe.unload_lora_weights()
    except Exception:  # pragma: no cover - nothing was loaded
        pass
