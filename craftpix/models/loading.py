"""Loading the located models into the frozen networks of one SDS run.

Loading uses the libraries' own ``from_pretrained`` from the located folder,
``use_safetensors=True``, never ``trust_remote_code``. torch, diffusers and transformers are
imported inside the functions that need them, so importing this module stays light.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from craftpix.errors import CraftpixError, InputError
from craftpix.models.hub import (
    _cached_folder,
    _first_line,
    _read_json,
    choose_weights,
    locate,
)
from craftpix.models.ids import (
    SD15,
    SDXL_BASE,
    ModelRef,
    base_ref,
    dependent_refs,
    family_from_unet_config,
    guess_family,
)
from craftpix.models.lora import _require_peft, apply_lora, locate_lora

if TYPE_CHECKING:
    import torch

    from craftpix.engines.sds.settings import SDSSettings

_TEXT_ENCODER_CLASSES = ("CLIPTextModel", "CLIPTextModelWithProjection")


# --- what a run needs ------------------------------------------------------------------------------
def _family_of(name: str, folder: Path | None) -> str:
    """From the UNet config in ``folder`` when there is one, else from the name."""
    if folder is not None and (folder / "unet" / "config.json").is_file():
        return family_from_unet_config(_read_json(folder / "unet" / "config.json"))
    return guess_family(name)



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
    def max_aspect(self) -> float:
        """Widest model-side aspect ratio (long side / short side) this family was trained on:
        SDXL's buckets run from 512×2048 to 2048×512 (Podell et al. 2023, SDXL, appendix);
        Stable Diffusion 1.x/2.x were trained on square crops and repeat their subject beyond
        about 2:1. A wider pattern is letterboxed (see ``working_canvas``)."""
        return 4.0 if self.sdxl else 2.0

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


def encoder_dtype(vae: Any, dtype: torch.dtype, *, bf16_ok: bool = False) -> torch.dtype:
    """The image encoder's precision for networks running in ``dtype``: never fp16.

    SDS back-propagates through the encoder with gradients scaled by w(t) = 1 − ᾱ_t (≈0.017
    at small t), near fp16's smallest normal numbers, and no loss scaling; SDXL's VAE also
    overflows in fp16 (``force_upcast``). So fp16 becomes bf16 where the device supports it
    (``bf16_ok``; fp32's exponent range) and fp32 otherwise; fp32 and bf16 stay as they are.
    The tiny encoder's forward and backward cost a few ms per step either way.
    """
    import torch

    if dtype == torch.float16:
        return torch.bfloat16 if bf16_ok else torch.float32
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


@dataclass
class LocatedModels:
    """Every model one run needs, found on disk (``ref.folder`` set), before any weight is read.

    Made by :func:`locate_components` without importing torch or the diffusion libraries.
    """

    base: ModelRef
    family: str  # "sdxl" | "sd15" | "sd2"
    vae: ModelRef | None  # None: the pipeline's own VAE (``--vae full``)
    controlnets: dict[str, ModelRef]
    depth: ModelRef | None
    notes: list[str]
    lora_file: Path | None = None
    controls: tuple[str, ...] = ()
    #: Reference first: the few-step LoRA file of the candidates (None: the base sampler) and
    #: the CLIP model that ranks them (None: the diffusion score of the loaded models).
    reference_lora_file: Path | None = None
    scorer: ModelRef | None = None


def prefers_fp16(settings: SDSSettings) -> bool:
    """Whether a run with ``settings`` wants the fp16 weight variant, decided without torch:
    ``--dtype fp16/bf16``, or ``auto`` on anything but ``--device cpu`` (fp16 on CUDA)."""
    if settings.dtype == "auto":
        return settings.device != "cpu"
    return settings.dtype != "fp32"


def locate_components(
    settings: SDSSettings,
    *,
    controls: Sequence[str] | None = None,
    prefer_fp16: bool | None = None,
    reference: bool = False,
) -> LocatedModels:
    """Find (and, if downloads are allowed, fetch) every model a run needs; load nothing.

    ``controls`` are the ControlNets wanted (``"canny"``, ``"depth"``); ``None`` means those
    with a positive weight in ``settings`` (callers pass ``()`` without a reference image).
    ``reference`` (a prompt-only run that generates its reference first) also locates
    ``settings.reference_lora`` and a CLIP ``settings.reference_scorer``
    (:func:`locate_reference_extras`).
    Imports only ``huggingface_hub``, so a missing model is reported in about a second, before
    torch and diffusers are imported. Raises :class:`~craftpix.errors.ModelNotAvailable` naming
    every missing model at once, or :class:`~craftpix.errors.InputError` for a local folder,
    VAE, ControlNet or noise schedule that does not fit.
    """
    if controls is None:
        controls = settings.controls
    if prefer_fp16 is None:
        prefer_fp16 = prefers_fp16(settings)
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
    scorer = scorer_ref(settings) if reference else None
    ref_lora = None
    if reference and settings.reference_lora:  # before the big downloads: a typo stops early
        ref_lora = locate_reference_lora(settings, family)
    others = [r for r in (vae_ref, *cn_refs.values(), depth_ref, scorer) if r is not None]
    locate(others if base_first else [base, *others], prefer_fp16=prefer_fp16)
    assert base.folder is not None
    _check_compatible(base, family, vae_ref, cn_refs)
    return LocatedModels(base, family, vae_ref, cn_refs, depth_ref, notes, lora_file,
                         tuple(controls), ref_lora, scorer)


def scorer_ref(settings: SDSSettings) -> ModelRef | None:
    """The CLIP model that ranks reference candidates (``--reference-scorer ID_OR_PATH``), or
    None for ``"diffusion"`` (the loaded models' own score)."""
    name = settings.reference_scorer
    if not name or name == "diffusion":
        return None
    return ModelRef(name, "CLIP scorer", "transformers")


def locate_reference_lora(settings: SDSSettings, family: str) -> Path:
    """The few-step LoRA file of ``--reference-lora``: ``fast`` is the family's LCM-LoRA
    (:data:`craftpix.models.ids.FAST_LORA`, fetched by ``craftpix models pull
    --fast-reference``), anything else what ``--lora`` takes. Raises
    :class:`~craftpix.errors.ModelNotAvailable` (one line, saying how to fetch it) or
    :class:`InputError`."""
    from craftpix.errors import ModelNotAvailable
    from craftpix.models.ids import FAST_LORA

    _require_peft()
    name = str(settings.reference_lora)
    if name == "fast":
        if family not in FAST_LORA:
            raise InputError(f"no few-step LoRA is known for this {family} model; give "
                             "--reference-lora ID_OR_PATH")
        repo = FAST_LORA[family]
        try:
            return locate_lora(repo)
        except ModelNotAvailable as exc:
            flag = {"sdxl": "--sdxl", "sd15": "--sd15"}[family]
            raise ModelNotAvailable(f"{_first_line(exc)}, or with `craftpix models pull "
                                    f"{flag} --fast-reference`") from None
    return locate_lora(name)


def load_components(
    settings: SDSSettings,
    *,
    controls: Sequence[str] | None = None,
    dtype: torch.dtype | None = None,
    located: LocatedModels | None = None,
) -> SDSComponents:
    """Locate (and, if allowed, download) then load everything a run needs, on the CPU.

    ``controls`` are the ControlNets wanted (``"canny"``, ``"depth"``); ``None`` means those
    with a positive weight in ``settings`` (callers pass ``()`` when there is no reference
    image: no ControlNet at all then). ``dtype`` is the precision of the frozen networks
    (default: from ``settings.dtype`` and ``settings.device``). ``located`` reuses what
    :func:`locate_components` found. Every model is located before the first weight is read,
    so a missing one stops the run with one message, early.
    """
    import torch

    if dtype is None:
        dtype = resolve_dtype(settings.dtype, resolve_device(settings.device))
    prefer_fp16 = dtype != torch.float32
    if located is None:
        located = locate_components(settings, controls=controls, prefer_fp16=prefer_fp16)
    _quiet_libraries()
    return _load(settings, located.base, located.family, located.vae, located.controlnets,
                 located.depth, list(located.notes), dtype, prefer_fp16,
                 lora_file=located.lora_file)


#: Scheduler classes whose config describes a DDPM-family discrete schedule (betas over
#: ``num_train_timesteps``): what SDS's ᾱ_t, ε- and v-prediction formulas assume.
DDPM_FAMILY_SCHEDULERS = frozenset({
    "DDPMScheduler", "DDIMScheduler", "PNDMScheduler", "LMSDiscreteScheduler",
    "EulerDiscreteScheduler", "EulerAncestralDiscreteScheduler", "HeunDiscreteScheduler",
    "DPMSolverMultistepScheduler", "DPMSolverSinglestepScheduler", "KDPM2DiscreteScheduler",
    "KDPM2AncestralDiscreteScheduler", "UniPCMultistepScheduler", "DEISMultistepScheduler",
    "DDIMParallelScheduler", "DDPMParallelScheduler",
})
_BETA_SCHEDULES = ("linear", "scaled_linear", "squaredcos_cap_v2")


def check_noise_schedule(config: dict[str, Any], model: str) -> None:
    """Refuse a noise schedule the SDS formulas do not hold for, in one line naming ``model``.

    Accepted: a DDPM-family scheduler (:data:`DDPM_FAMILY_SCHEDULERS`) with a linear,
    scaled-linear or cosine beta schedule (or explicit ``trained_betas``) and an ``epsilon`` or
    ``v_prediction`` output. Refused: EDM/flow-matching schedules (their σ or t are not
    DDPM's ᾱ_t: loading their config into DDPM would silently use default betas), ``sample``
    prediction, continuous timesteps. Raises :class:`~craftpix.errors.InputError`.
    """
    cls = str(config.get("_class_name", "DDPMScheduler"))
    if cls not in DDPM_FAMILY_SCHEDULERS:
        raise InputError(f"{model} uses a {cls} noise schedule; craftpix's score distillation "
                         "needs a DDPM-family (ε or v) model such as SDXL or SD 1.5")
    prediction = str(config.get("prediction_type", "epsilon"))
    if prediction not in ("epsilon", "v_prediction"):
        raise InputError(f"{model} predicts {prediction!r}; craftpix's score distillation needs "
                         "an ε- or v-prediction model")
    schedule = str(config.get("beta_schedule", "linear"))
    if config.get("trained_betas") is None and schedule not in _BETA_SCHEDULES:
        raise InputError(f"{model} has an unsupported beta schedule {schedule!r}")
    if config.get("timestep_type", "discrete") != "discrete":
        raise InputError(f"{model} uses continuous timesteps; craftpix's score distillation "
                         "needs a discrete DDPM schedule")


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
    check_noise_schedule(_read_json(base.folder / "scheduler" / "scheduler_config.json"),
                         base.name)
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


