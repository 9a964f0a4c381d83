"""Pretrained models: which ones, where they are, loading them, and ``craftpix models``.

craftpix uses diffusers-format models from the Hugging Face Hub or local folders:

* a Stable Diffusion model — SDXL base by default, SD 1.5/2.x as lighter options — of which
  only the UNet, the text encoder(s), tokenizer(s) and the noise schedule are needed;
* an image encoder: TAESDXL/TAESD (``AutoencoderTiny``) by default, or the full VAE;
* with a reference image: a canny and a depth ControlNet and a depth estimator (transformers).

Everything a run needs is located *before* any weight is loaded: in the local folder, in the
Hugging Face cache, or — when downloads are allowed — fetched with ``snapshot_download``
(safetensors and configs only). A model that cannot be had ends the run with one
:class:`~craftpix.errors.ModelNotAvailable` line naming it and how to fetch it. Loading uses the
libraries' own ``from_pretrained`` from the located folder, ``use_safetensors=True``, never
``trust_remote_code``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import os
import re
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from craftpix.errors import CraftpixError, InputError, ModelNotAvailable

if TYPE_CHECKING:
    import torch

    from craftpix.guidance.options import SDSSettings

# --- the models ----------------------------------------------------------------------------------
SDXL_BASE = "stabilityai/stable-diffusion-xl-base-1.0"
SD15 = "stable-diffusion-v1-5/stable-diffusion-v1-5"
TAESDXL = "madebyollin/taesdxl"
TAESD = "madebyollin/taesd"
DPT_HYBRID = "Intel/dpt-hybrid-midas"  # the estimator of the SD-πXL code; choose it with --depth-model
DEPTH_ANYTHING_SMALL = "depth-anything/Depth-Anything-V2-Small-hf"
# Depth Anything V2 Small: Apache-2.0, ~25 M parameters, safetensors on its main branch.
DEPTH_DEFAULT = DEPTH_ANYTHING_SMALL

ALIASES = {"sdxl": SDXL_BASE, "sd15": SD15, "sd1.5": SD15, "sd-1.5": SD15}

#: Per family: the tiny encoder and the default ControlNets (None: no default exists).
FAMILY_DEFAULTS: dict[str, dict[str, str | None]] = {
    "sdxl": {"tiny_vae": TAESDXL, "canny": "diffusers/controlnet-canny-sdxl-1.0-mid",
             "depth": "diffusers/controlnet-depth-sdxl-1.0-mid"},
    "sd15": {"tiny_vae": TAESD, "canny": "lllyasviel/control_v11p_sd15_canny",
             "depth": "lllyasviel/control_v11f1p_sd15_depth"},
    "sd2": {"tiny_vae": TAESD, "canny": None, "depth": None},
}

#: Repos whose main branch holds pickles only; the safetensors conversion lives elsewhere.
KNOWN_REVISIONS = {DPT_HYBRID: "refs/pr/5"}

_TEXT_ENCODER_CLASSES = ("CLIPTextModel", "CLIPTextModelWithProjection")
_PIPELINE_TOKENIZERS = ("tokenizer", "tokenizer_2")

_WEIGHT_RE = re.compile(
    r"^(?P<base>[A-Za-z0-9_]+?)(?:\.(?P<variant>[A-Za-z0-9_]+))?(?:-\d{5}-of-\d{5})?\.safetensors$")
_INDEX_RE = re.compile(
    r"^(?P<base>[A-Za-z0-9_]+?)\.safetensors\.index(?:\.(?P<variant>[A-Za-z0-9_]+))?\.json$")


# --- hub environment (read at call time, so tests and users can set it late) ---------------------
def _truthy(value: str | None) -> bool:
    return (value or "").strip().upper() in {"1", "ON", "YES", "TRUE"}


def hub_offline() -> bool:
    """True when ``HF_HUB_OFFLINE`` (or ``TRANSFORMERS_OFFLINE``) forbids downloads."""
    from huggingface_hub import constants

    env = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE")
    return _truthy(env) if env is not None else bool(constants.HF_HUB_OFFLINE)


def hub_cache() -> Path:
    """The Hugging Face hub cache folder, honoring ``HF_HUB_CACHE`` and ``HF_HOME``."""
    for var, sub in (("HF_HUB_CACHE", ""), ("HUGGINGFACE_HUB_CACHE", ""), ("HF_HOME", "hub")):
        if os.environ.get(var):
            return Path(os.path.expandvars(os.environ[var])).expanduser() / sub
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


# --- references -----------------------------------------------------------------------------------
@dataclass
class ModelRef:
    """One model a run needs: an id or a folder, its role, and what must be in it."""

    name: str
    role: str  # for messages: "diffusion model", "canny ControlNet", ...
    kind: str  # "pipeline" | "diffusers" | "transformers"
    revision: str | None = None
    full_vae: bool = False  # pipeline only: the vae/ subfolder is needed too
    pull_flags: str = ""  # `craftpix models pull` flags that fetch it ("" = not a default)
    folder: Path | None = None  # set once located

    @property
    def local(self) -> bool:
        return is_local_path(self.name)


def is_local_path(name: str) -> bool:
    """A folder on disk (existing, or clearly written as a path) rather than a Hub id."""
    p = Path(name).expanduser()
    if p.exists():
        return True
    return name.startswith((".", "/", "~")) or name.count("/") > 1 or "\\" in name or (
        len(name) > 1 and name[1] == ":")


def canonical_model(name: str | None) -> str:
    """``None`` → SDXL base; short aliases (``sdxl``, ``sd15``) → their Hub ids."""
    if not name:
        return SDXL_BASE
    return ALIASES.get(name.lower(), name)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None
    if not isinstance(data, dict):
        raise InputError(f"{path} is not a JSON object")
    return data


def family_from_unet_config(config: dict[str, Any]) -> str:
    """``sdxl`` (text-time added conditioning), ``sd2`` (1024-d cross attention) or ``sd15``."""
    if config.get("addition_embed_type") == "text_time":
        return "sdxl"
    cross = config.get("cross_attention_dim")
    if isinstance(cross, list):
        cross = cross[0]
    return "sd2" if cross == 1024 else "sd15"


def guess_family(name: str) -> str:
    """Family of a model that is not on disk yet, from its name only (for messages)."""
    if name == SD15 or "v1-5" in name or "1.5" in name or "sd15" in name.lower():
        return "sd15"
    if "2-1" in name or "2-base" in name or "sd2" in name.lower():
        return "sd2"
    return "sdxl"


# --- which weight files ------------------------------------------------------------------------
def choose_weights(names: Iterable[str], prefer_fp16: bool) -> tuple[str | None, list[str]]:
    """Pick the safetensors weights of one model folder: the fp16 variant or the plain files.

    ``names`` are file names in that folder. Returns ``(variant, files)`` (variant ``"fp16"`` or
    ``None``); ``files`` is empty when the folder has no safetensors weights at all (pickles
    only: craftpix never loads those).
    """
    groups: dict[str | None, list[str]] = {}
    for name in names:
        m = _WEIGHT_RE.match(name) or _INDEX_RE.match(name)
        if m is None:
            continue
        variant = m.group("variant")
        if variant not in (None, "fp16"):
            continue  # non_ema, ema, ...
        groups.setdefault(variant, []).append(name)
    order = ["fp16", None] if prefer_fp16 else [None, "fp16"]
    for variant in order:
        files = [n for n in groups.get(variant, []) if n.endswith(".safetensors")]
        if files:
            return variant, sorted(groups[variant])
    return None, []


def _listing(folder: Path) -> set[str]:
    """Relative paths of all files under ``folder`` (posix separators)."""
    out = set()
    for root, _dirs, files in os.walk(folder):
        for f in files:
            out.add(Path(root, f).relative_to(folder).as_posix())
    return out


def _in_sub(files: set[str], sub: str) -> list[str]:
    prefix = f"{sub}/" if sub else ""
    return [f[len(prefix):] for f in files if f.startswith(prefix) and "/" not in f[len(prefix):]]


def _pipeline_parts(files: set[str], model_index: dict[str, Any] | None,
                    full_vae: bool) -> tuple[list[str], list[str]]:
    """(model subfolders, tokenizer subfolders) a pipeline folder must provide."""
    def listed(sub: str) -> bool:
        if model_index is not None and sub in model_index:
            entry = model_index[sub]
            return isinstance(entry, list) and entry[0] is not None
        return any(f.startswith(f"{sub}/") for f in files)

    models = [s for s in ("unet", "text_encoder", "text_encoder_2") if listed(s)]
    if full_vae:
        models.append("vae")
    tokenizers = [s for s in _PIPELINE_TOKENIZERS if listed(s)]
    return models, tokenizers


def required_patterns(ref: ModelRef, files: set[str], prefer_fp16: bool,
                      model_index: dict[str, Any] | None = None) -> tuple[list[str], list[str]]:
    """(allow_patterns for a download, problems) for ``ref`` given the repo's file list."""
    problems: list[str] = []
    patterns: list[str] = []

    def model_dir(sub: str, extra: Sequence[str] = ()) -> None:
        prefix = f"{sub}/" if sub else ""
        names = _in_sub(files, sub)
        if "config.json" not in names:
            problems.append(f"{prefix}config.json")
        for e in extra:
            if e not in names:
                problems.append(f"{prefix}{e}")
        _variant, weights = choose_weights(names, prefer_fp16)
        if not weights:
            problems.append(f"{prefix}*.safetensors")
        patterns.extend([f"{prefix}config.json", *(f"{prefix}{e}" for e in extra),
                         *(f"{prefix}{w}" for w in weights)])

    if ref.kind == "pipeline":
        patterns.append("model_index.json")
        models, tokenizers = _pipeline_parts(files, model_index, ref.full_vae)
        if "unet" not in models:
            problems.append("unet/")
        if not ({"text_encoder", "text_encoder_2"} & set(models)):
            problems.append("text_encoder/")
        for sub in models:
            model_dir(sub)
        for sub in tokenizers:
            if not _in_sub(files, sub):
                problems.append(f"{sub}/")
            patterns.append(f"{sub}/*")
        if "scheduler/scheduler_config.json" not in files:
            problems.append("scheduler/scheduler_config.json")
        patterns.append("scheduler/scheduler_config.json")
    elif ref.kind == "transformers":
        model_dir("", extra=("preprocessor_config.json",))
    else:
        model_dir("")
    return patterns, problems


# --- locating -------------------------------------------------------------------------------------
def _check_folder(ref: ModelRef, folder: Path, prefer_fp16: bool) -> list[str]:
    files = _listing(folder)
    index = folder / "model_index.json"
    model_index = _read_json(index) if ref.kind == "pipeline" and index.is_file() else None
    return required_patterns(ref, files, prefer_fp16, model_index)[1]


def _cached_folder(ref: ModelRef) -> Path | None:
    """The cached snapshot folder of ``ref`` (at its revision), or None; no network.

    Found through one small file of the model with ``try_to_load_from_cache`` rather than
    ``snapshot_download(local_files_only=True)``, which calls a snapshot incomplete when only
    the files craftpix needs (not the whole repository) were downloaded.
    """
    from huggingface_hub import try_to_load_from_cache

    probes = ["model_index.json", "unet/config.json"] if ref.kind == "pipeline" else ["config.json"]
    for probe in probes:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                hit = try_to_load_from_cache(ref.name, probe, cache_dir=hub_cache(),
                                             revision=ref.revision)
        except Exception:  # malformed id or revision
            return None
        if isinstance(hit, str):
            folder = Path(hit).parent
            return folder.parent if "/" in probe else folder
    return None


def _how_to_get(refs: Sequence[ModelRef]) -> str:
    """`craftpix models pull ...` for the defaults among ``refs``, `hf download` for each."""
    flags = sorted({f for r in refs for f in r.pull_flags.split()}, key=_flag_order)
    hints = [f"`craftpix models pull {' '.join(flags)}`"] if flags else []
    for r in refs:
        rev = f" --revision {r.revision}" if r.revision else ""
        hints.append(f"`hf download {r.name}{rev}`")
    return " or ".join(hints)


def _flag_order(flag: str) -> int:
    order = ["--sdxl", "--sd15", "--full-vae", "--no-controlnet", "--depth"]
    return order.index(flag) if flag in order else len(order)


def locate(refs: Sequence[ModelRef], *, prefer_fp16: bool = False,
           allow_download: bool | None = None) -> list[ModelRef]:
    """Find every model of ``refs`` on disk, downloading what is missing when allowed.

    Sets ``ref.folder``. Raises one :class:`ModelNotAvailable` naming every missing model,
    or :class:`InputError` for a local folder that is not a usable model.
    """
    allow = (not hub_offline()) if allow_download is None else allow_download
    missing: list[ModelRef] = []
    for ref in refs:
        if ref.local:
            folder = Path(ref.name).expanduser()
            if not folder.is_dir():
                raise InputError(f"{ref.role} folder {ref.name} does not exist")
            problems = _check_folder(ref, folder, prefer_fp16)
            if problems:
                raise InputError(
                    f"{ref.name} is not a usable {ref.role} in diffusers format "
                    f"(missing {', '.join(problems[:3])})")
            ref.folder = folder
            continue
        folder = _cached_folder(ref)
        if folder is not None and not _check_folder(ref, folder, prefer_fp16):
            ref.folder = folder
        else:
            missing.append(ref)
    if missing and allow:
        for ref in missing:
            ref.folder = download(ref, prefer_fp16=prefer_fp16)
        missing = []
    if missing:
        names = ", ".join(f"{r.name} ({r.role})" for r in missing)
        subject = f"model {names} is" if len(missing) == 1 else f"models {names} are"
        raise ModelNotAvailable(
            f"{subject} not in the Hugging Face cache ({hub_cache()}) and downloads are off"
            f"{' (HF_HUB_OFFLINE)' if hub_offline() else ''}; fetch with {_how_to_get(missing)}")
    return list(refs)


def download(ref: ModelRef, *, prefer_fp16: bool = True) -> Path:
    """Fetch exactly the files ``ref`` needs (configs + one set of safetensors weights)."""
    from huggingface_hub import HfApi, hf_hub_download, snapshot_download

    if hub_offline():
        raise ModelNotAvailable(
            f"cannot download {ref.name} ({ref.role}): HF_HUB_OFFLINE is set; "
            f"unset it or copy the model into {hub_cache()}")
    with _downloading(f"{ref.name} ({ref.role})", _how_to_get([ref])):
        files = set(HfApi().list_repo_files(ref.name, revision=ref.revision))
        model_index = None
        if ref.kind == "pipeline" and "model_index.json" in files:
            model_index = _read_json(Path(hf_hub_download(
                ref.name, "model_index.json", revision=ref.revision, cache_dir=hub_cache())))
        patterns, problems = required_patterns(ref, files, prefer_fp16, model_index)
        if problems:
            raise InputError(
                f"{ref.name} cannot be used as {ref.role}: the repository has no "
                f"{', '.join(problems[:3])} (craftpix loads diffusers-format safetensors only)")
        return Path(snapshot_download(ref.name, revision=ref.revision, cache_dir=hub_cache(),
                                      allow_patterns=patterns))


def _first_line(exc: Exception) -> str:
    """The first line of an exception's message, or its type when it has none."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@contextlib.contextmanager
def _downloading(what: str, how: str) -> Iterator[None]:
    """Around Hub requests: quiet the client and turn its errors into one line.

    The hub client logs every retry of a failed request; the user gets one
    :class:`ModelNotAvailable` line instead, naming ``what`` and ``how`` to fetch it.
    """
    from huggingface_hub.utils import logging as hub_logging

    verbosity = hub_logging.get_verbosity()
    hub_logging.set_verbosity_error()
    try:
        yield
    except CraftpixError:
        raise
    except Exception as exc:
        raise ModelNotAvailable(
            f"cannot download {what}: {_first_line(exc)[:200]}; check the name and your "
            f"connection, or fetch it with {how}") from None
    finally:
        hub_logging.set_verbosity(verbosity)


# --- what a run needs ------------------------------------------------------------------------------
def _family_of(name: str, folder: Path | None) -> str:
    """From the UNet config in ``folder`` when there is one, else from the name."""
    if folder is not None and (folder / "unet" / "config.json").is_file():
        return family_from_unet_config(_read_json(folder / "unet" / "config.json"))
    return guess_family(name)


def _pull_flags(family: str) -> str:
    return {"sdxl": "--sdxl", "sd15": "--sd15"}.get(family, "")


def base_ref(model: str | None, full_vae: bool = False) -> ModelRef:
    name = canonical_model(model)
    flags = _pull_flags(guess_family(name)) if name in (SDXL_BASE, SD15) else ""
    if flags and full_vae:
        flags += " --full-vae"
    return ModelRef(name, "diffusion model", "pipeline", full_vae=full_vae, pull_flags=flags)


def dependent_refs(
    settings: SDSSettings, family: str, controls: Sequence[str]
) -> tuple[ModelRef | None, dict[str, ModelRef], ModelRef | None, list[str]]:
    """(vae ref or None for the pipeline's own, ControlNet refs, depth ref, notes)."""
    defaults = FAMILY_DEFAULTS[family]
    flags = _pull_flags(family)
    notes: list[str] = []
    vae_ref = None
    if settings.vae == "tiny":
        vae_ref = ModelRef(str(defaults["tiny_vae"]), "tiny VAE", "diffusers", pull_flags=flags)
    elif settings.vae != "full":
        vae_ref = ModelRef(settings.vae, "VAE", "diffusers")
    cn: dict[str, ModelRef] = {}
    for name in controls:
        given = settings.controlnet_canny if name == "canny" else settings.controlnet_depth
        chosen = given or defaults[name]
        if chosen is None:
            notes.append(f"no default {name} ControlNet for this model; "
                         f"pass --controlnet-{name} to use one")
            continue
        cn[name] = ModelRef(chosen, f"{name} ControlNet", "diffusers",
                            pull_flags=flags if not given else "")
    depth_ref = None
    if "depth" in cn:
        depth = settings.depth_model or DEPTH_DEFAULT
        depth_ref = ModelRef(depth, "depth estimator", "transformers",
                             revision=KNOWN_REVISIONS.get(depth),
                             pull_flags=f"{flags} --depth" if depth == DEPTH_DEFAULT else "")
    return vae_ref, cn, depth_ref, notes


# --- loaded components ---------------------------------------------------------------------------
@dataclass
class SDSComponents:
    """The frozen networks of one SDS run (diffusers/transformers objects or stand-ins)."""

    family: str  # "sdxl" | "sd15" | "sd2"
    unet: Any
    vae: Any
    scheduler: Any
    text_encoders: list[Any]
    tokenizers: list[Any]
    controlnets: dict[str, Any] = field(default_factory=dict)
    depth_estimator: Any = None
    depth_processor: Any = None
    zero_empty_negative: bool = False
    names: dict[str, str] = field(default_factory=dict)  # role → id or folder
    notes: list[str] = field(default_factory=list)

    @property
    def sdxl(self) -> bool:
        return self.family == "sdxl"

    @property
    def vae_scale(self) -> int:
        cfg = getattr(self.vae, "config", None)
        blocks = getattr(cfg, "encoder_block_out_channels", None) or getattr(
            cfg, "block_out_channels", None)
        return 2 ** (len(blocks) - 1) if blocks else 8

    @property
    def native_resolution(self) -> int:
        return int(self.unet.config.sample_size) * self.vae_scale

    @property
    def size_multiple(self) -> int:
        """Pixel sizes must be multiples of this (VAE and UNet downsampling)."""
        return self.vae_scale * 2 ** (len(self.unet.config.block_out_channels) - 1)

    @property
    def alphas_cumprod(self) -> torch.Tensor:
        return self.scheduler.alphas_cumprod

    @property
    def prediction_type(self) -> str:
        return str(getattr(self.scheduler.config, "prediction_type", "epsilon"))


def resolve_device(name: str = "auto") -> torch.device:
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda: no CUDA GPU is available to torch on this machine")
    return torch.device(name)


def resolve_dtype(name: str, device: torch.device) -> torch.dtype:
    import torch

    if name == "auto":
        return torch.float16 if device.type == "cuda" else torch.float32
    dtype = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}[name]
    if dtype == torch.float16 and device.type == "cpu":
        raise InputError("--dtype fp16 needs a GPU; on the CPU use fp32 (or bf16)")
    return dtype


def encoder_dtype(vae: Any, dtype: torch.dtype) -> torch.dtype:
    """The image encoder's precision: float32 instead of fp16 when its config asks for it
    (``force_upcast``: the SDXL VAE overflows in fp16)."""
    import torch

    if getattr(getattr(vae, "config", None), "force_upcast", False) and dtype == torch.float16:
        return torch.float32
    return dtype


def _tf_dtype_kw() -> str:
    import transformers

    major, minor = (int(x) for x in re.findall(r"\d+", transformers.__version__)[:2])
    return "dtype" if (major, minor) >= (4, 56) else "torch_dtype"


def _variant(folder: Path, sub: str, prefer_fp16: bool) -> str | None:
    base = folder / sub if sub else folder
    return choose_weights(os.listdir(base), prefer_fp16)[0]


def _quiet_libraries() -> None:
    """Loading logs of diffusers/transformers are noise for a CLI; keep errors only."""
    try:
        from diffusers.utils import logging as dlog

        dlog.set_verbosity_error()
        dlog.disable_progress_bar()
    except Exception:  # pragma: no cover
        pass
    try:
        from transformers.utils import logging as tlog

        tlog.set_verbosity_error()
        tlog.disable_progress_bar()
    except Exception:  # pragma: no cover
        pass


def _load_error(ref: ModelRef, exc: Exception) -> CraftpixError:
    return InputError(f"cannot load {ref.role} {ref.name}: {_first_line(exc)[:300]}")


def load_components(
    settings: SDSSettings,
    *,
    controls: Sequence[str] | None = None,
    dtype: torch.dtype | None = None,
) -> SDSComponents:
    """Locate (and, if allowed, download) then load everything a run needs, on the CPU.

    ``controls`` are the ControlNets wanted (``"canny"``, ``"depth"``); ``None`` means those
    with a positive weight in ``settings`` (callers pass ``()`` when there is no reference
    image: no ControlNet at all then). ``dtype`` is the precision of the frozen networks
    (default: from ``settings.dtype`` and ``settings.device``). Every model is located before
    the first weight is read, so a missing one stops the run with one message, early.
    """
    import torch

    if controls is None:
        controls = settings.controls
    if dtype is None:
        dtype = resolve_dtype(settings.dtype, resolve_device(settings.device))
    prefer_fp16 = dtype != torch.float32
    _quiet_libraries()
    lora_file = None
    if settings.lora:  # found first: a mistyped --lora stops the run before any download
        _require_peft()
        lora_file = locate_lora(settings.lora)

    base = base_ref(settings.model, full_vae=settings.vae == "full")
    cached = None if base.local else _cached_folder(base)
    base_first = base.local or (cached is None and base.name not in (SDXL_BASE, SD15))
    if base_first:
        # The family (hence which VAE and ControlNets fit) is unknown until the model is here.
        locate([base], prefer_fp16=prefer_fp16)
        family = _family_of(base.name, base.folder)
    else:
        # Everything is checked in the cache at once, so one message names all that is missing.
        family = _family_of(base.name, cached)
    vae_ref, cn_refs, depth_ref, notes = dependent_refs(settings, family, controls)
    others = [r for r in (vae_ref, *cn_refs.values(), depth_ref) if r is not None]
    locate(others if base_first else [base, *others], prefer_fp16=prefer_fp16)
    assert base.folder is not None
    _check_compatible(base, family, vae_ref, cn_refs)
    return _load(settings, base, family, vae_ref, cn_refs, depth_ref, notes, dtype, prefer_fp16,
                 lora_file=lora_file)


def _check_compatible(base: ModelRef, family: str, vae_ref: ModelRef | None,
                      cn_refs: dict[str, ModelRef]) -> None:
    """Config-level checks (before weights): ControlNets and VAE must fit the UNet."""
    assert base.folder is not None
    index = base.folder / "model_index.json"
    if index.is_file():
        cls = str(_read_json(index).get("_class_name", ""))
        if cls and not cls.startswith("StableDiffusion"):
            raise InputError(f"{base.name} is a {cls}; craftpix supports Stable Diffusion "
                             "1.x/2.x and SDXL models")
    unet_cfg = _read_json(base.folder / "unet" / "config.json")
    if unet_cfg.get("in_channels", 4) != unet_cfg.get("out_channels", 4):
        raise InputError(f"{base.name} is an inpainting/conditioning variant; use a "
                         "text-to-image model")
    if family == "sdxl" and not ((base.folder / "text_encoder").is_dir()
                                 and (base.folder / "text_encoder_2").is_dir()):
        raise InputError(f"{base.name} lacks one of SDXL's two text encoders "
                         "(refiner models are not supported; use an SDXL base model)")
    for name, ref in cn_refs.items():
        assert ref.folder is not None
        cfg = _read_json(ref.folder / "config.json")
        if (cfg.get("cross_attention_dim") != unet_cfg.get("cross_attention_dim")
                or cfg.get("addition_embed_type") != unet_cfg.get("addition_embed_type")):
            raise InputError(f"the {name} ControlNet {ref.name} was made for another model "
                             f"family than {base.name}")
    if vae_ref is not None:
        assert vae_ref.folder is not None
        cfg = _read_json(vae_ref.folder / "config.json")
        if cfg.get("_class_name") not in ("AutoencoderTiny", "AutoencoderKL"):
            raise InputError(f"{vae_ref.name} is not an AutoencoderTiny or AutoencoderKL")
        if cfg.get("latent_channels", 4) != unet_cfg.get("in_channels", 4):
            raise InputError(f"the VAE {vae_ref.name} does not fit {base.name} "
                             "(different latent channels)")


def _load(settings: SDSSettings, base: ModelRef, family: str, vae_ref: ModelRef | None,
          cn_refs: dict[str, ModelRef], depth_ref: ModelRef | None, notes: list[str],
          dtype: torch.dtype, prefer_fp16: bool, lora_file: Path | None = None) -> SDSComponents:
    import torch
    import transformers
    from diffusers import (
        AutoencoderKL,
        AutoencoderTiny,
        ControlNetModel,
        DDPMScheduler,
        UNet2DConditionModel,
    )

    folder = base.folder
    assert folder is not None
    tfkw = _tf_dtype_kw()
    index = _read_json(folder / "model_index.json") if (folder / "model_index.json").is_file() else {}
    names: dict[str, str] = {"model": base.name}
    try:
        unet = UNet2DConditionModel.from_pretrained(
            folder, subfolder="unet", torch_dtype=dtype, use_safetensors=True,
            variant=_variant(folder, "unet", prefer_fp16))
        config = DDPMScheduler.load_config(folder, subfolder="scheduler")
        scheduler = DDPMScheduler.from_config(config)
        encoders, tokenizers = [], []
        for te, tok in (("text_encoder", "tokenizer"), ("text_encoder_2", "tokenizer_2")):
            listed = index.get(te, [None, None])
            if not (folder / te).is_dir() or (index and listed[0] is None):
                continue
            cls_name = listed[1] or (
                "CLIPTextModelWithProjection" if te.endswith("_2") else "CLIPTextModel")
            if cls_name not in _TEXT_ENCODER_CLASSES:
                raise InputError(f"{base.name}: unsupported text encoder {cls_name}")
            cls = getattr(transformers, cls_name)
            encoders.append(cls.from_pretrained(
                folder / te, use_safetensors=True, variant=_variant(folder, te, prefer_fp16),
                trust_remote_code=False, **{tfkw: dtype}))
            tokenizers.append(transformers.CLIPTokenizer.from_pretrained(
                folder / tok, trust_remote_code=False))
        if vae_ref is None:
            vae = AutoencoderKL.from_pretrained(folder, subfolder="vae", use_safetensors=True,
                                                torch_dtype=dtype,
                                                variant=_variant(folder, "vae", prefer_fp16))
            names["vae"] = f"{base.name}/vae"
        else:
            assert vae_ref.folder is not None
            cls_name = _read_json(vae_ref.folder / "config.json").get("_class_name")
            vae_cls = AutoencoderTiny if cls_name == "AutoencoderTiny" else AutoencoderKL
            vae = vae_cls.from_pretrained(vae_ref.folder, use_safetensors=True, torch_dtype=dtype,
                                          variant=_variant(vae_ref.folder, "", prefer_fp16))
            names["vae"] = vae_ref.name
        vae = vae.to(encoder_dtype(vae, dtype))
    except CraftpixError:
        raise
    except Exception as exc:
        raise _load_error(base, exc) from None
    controlnets: dict[str, Any] = {}
    for name, ref in cn_refs.items():
        assert ref.folder is not None
        try:
            controlnets[name] = ControlNetModel.from_pretrained(
                ref.folder, torch_dtype=dtype, use_safetensors=True,
                variant=_variant(ref.folder, "", prefer_fp16))
        except Exception as exc:
            raise _load_error(ref, exc) from None
        names[f"controlnet_{name}"] = ref.name
    depth_estimator = depth_processor = None
    if depth_ref is not None:
        assert depth_ref.folder is not None
        try:
            # Explicit: a folder naming custom code must never get to ask (or run it).
            depth_estimator = transformers.AutoModelForDepthEstimation.from_pretrained(
                depth_ref.folder, use_safetensors=True, trust_remote_code=False,
                **{tfkw: torch.float32})
            depth_processor = transformers.AutoImageProcessor.from_pretrained(
                depth_ref.folder, trust_remote_code=False)
        except Exception as exc:
            raise _load_error(depth_ref, exc) from None
        names["depth_model"] = depth_ref.name
    for module in (unet, vae, *encoders, *controlnets.values(), depth_estimator):
        if module is not None:
            module.requires_grad_(False)
            module.eval()
    comps = SDSComponents(
        family=family, unet=unet, vae=vae, scheduler=scheduler, text_encoders=encoders,
        tokenizers=tokenizers, controlnets=controlnets, depth_estimator=depth_estimator,
        depth_processor=depth_processor,
        zero_empty_negative=bool(index.get("force_zeros_for_empty_prompt", False)),
        names=names, notes=notes)
    if lora_file is not None:
        apply_lora(comps, lora_file, settings.lora_scale, name=settings.lora)
        names["lora"] = str(settings.lora)
    return comps


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

    with _downloading(f"LoRA {repo}", f"`hf download {repo}`"):
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


# --- `craftpix models` ------------------------------------------------------------------------------
def default_refs(family: str = "sdxl", *, controlnet: bool = True, depth: bool = False,
                 full_vae: bool = False) -> list[ModelRef]:
    """What ``craftpix models pull`` fetches for one configuration."""
    from craftpix.guidance.options import SDSSettings

    base = base_ref(SDXL_BASE if family == "sdxl" else SD15, full_vae=full_vae)
    settings = SDSSettings(model=base.name, vae="full" if full_vae else "tiny",
                           depth_model=DEPTH_DEFAULT if depth else None)
    controls = ("canny", "depth") if controlnet else ()
    vae_ref, cn, depth_ref, _ = dependent_refs(settings, family, controls)
    refs = [base, *(r for r in (vae_ref, *cn.values()) if r is not None)]
    if depth and depth_ref is not None:
        refs.append(depth_ref)
    elif depth and not controlnet:
        refs.append(ModelRef(DEPTH_DEFAULT, "depth estimator", "transformers",
                             revision=KNOWN_REVISIONS.get(DEPTH_DEFAULT)))
    return refs


def _known_roles() -> dict[str, str]:
    roles = {SDXL_BASE: "SDXL base (default)", SD15: "Stable Diffusion 1.5",
             DEPTH_DEFAULT: "depth estimator (default)", DPT_HYBRID: "depth estimator"}
    for family, d in FAMILY_DEFAULTS.items():
        for role, name in d.items():
            if name:
                roles.setdefault(name, f"{family} {role.replace('_', ' ')}")
    return roles


@click.group("models")
def models_group() -> None:
    """Download and list the diffusion models the prompt engine uses."""


@models_group.command("pull")
@click.option("--sdxl", "family", flag_value="sdxl", default=True,
              help="Stable Diffusion XL (the default engine model, ~10 GB in fp16).")
@click.option("--sd15", "family", flag_value="sd15",
              help="Stable Diffusion 1.5 (lighter, ~3 GB in fp16).")
@click.option("--no-controlnet", is_flag=True,
              help="Skip the canny/depth ControlNets (prompt-only runs do not use them).")
@click.option("--depth", is_flag=True,
              help="Also the depth estimator that runs with --image and the depth ControlNet.")
@click.option("--full-vae", is_flag=True, help="Also the model's full VAE (for --vae full).")
def pull_command(family: str, no_controlnet: bool, depth: bool, full_vae: bool) -> None:
    """Download what one configuration needs (safetensors and configs only)."""
    refs = default_refs(family, controlnet=not no_controlnet, depth=depth, full_vae=full_vae)
    if hub_offline():
        raise ModelNotAvailable("cannot download: HF_HUB_OFFLINE is set; unset it to pull models")
    for ref in refs:
        click.echo(f"fetching {ref.name} ({ref.role})", err=True)
        folder = download(ref, prefer_fp16=True)
        click.echo(f"  ok  {ref.name}  →  {folder}")


def _size(n: int) -> str:
    if n < 1000:
        return f"{n} B"
    value = n / 1000
    for unit in ("KB", "MB"):
        if value < 1000:
            return f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"


@models_group.command("list")
def list_command() -> None:
    """Show the models in the Hugging Face cache, with their sizes."""
    from huggingface_hub import scan_cache_dir

    cache = hub_cache()
    try:
        repos = sorted((r for r in scan_cache_dir(cache).repos if r.repo_type == "model"),
                       key=lambda r: r.repo_id)
    except Exception:  # CacheNotFound, unreadable folder
        repos = []
    if not repos:
        click.echo(f"no models cached yet (cache: {cache}); see `craftpix models pull --help`")
        return
    roles = _known_roles()
    width = max(len(r.repo_id) for r in repos)
    for r in repos:
        role = roles.get(r.repo_id, "")
        click.echo(f"{r.repo_id:<{width}}  {_size(r.size_on_disk):>9}  {role}".rstrip())
    total = sum(r.size_on_disk for r in repos)
    click.echo(f"{len(repos)} model(s), {_size(total)} in {cache}")
    missing = [n for n in (SDXL_BASE, TAESDXL) if n not in {r.repo_id for r in repos}]
    if missing:
        click.echo(f"not cached: {', '.join(missing)} (`craftpix models pull --sdxl`)")
