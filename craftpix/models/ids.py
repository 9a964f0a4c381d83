"""Which models craftpix uses: ids, aliases, roles, revisions and per-family defaults.

No I/O and no heavy imports: what a run *needs* (:func:`base_ref`, :func:`dependent_refs`) is
decided here from settings and names alone; :mod:`craftpix.models.hub` finds it on disk.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from craftpix.engines.sds.settings import SDSSettings


# --- the models ----------------------------------------------------------------------------------
SDXL_BASE = "stabilityai/stable-diffusion-xl-base-1.0"
SD15 = "stable-diffusion-v1-5/stable-diffusion-v1-5"
TAESDXL = "madebyollin/taesdxl"
TAESD = "madebyollin/taesd"
DPT_HYBRID = "Intel/dpt-hybrid-midas"  # the estimator of the SD-πXL code; choose it with --depth-model
DEPTH_ANYTHING_SMALL = "depth-anything/Depth-Anything-V2-Small-hf"
# Depth Anything V2 Small: Apache-2.0, ~25 M parameters, safetensors on its main branch.
DEPTH_DEFAULT = DEPTH_ANYTHING_SMALL

# Few-step LoRAs for the reference candidates (``--reference-lora fast``): LCM-LoRA
# (Luo et al. 2023, arXiv 2311.05556), licence CreativeML Open RAIL++-M (the base models'
# own), one pytorch_lora_weights.safetensors each (SDXL 394 MB, SD 1.5 135 MB).
LCM_LORA_SDXL = "latent-consistency/lcm-lora-sdxl"
LCM_LORA_SD15 = "latent-consistency/lcm-lora-sdv1-5"
FAST_LORA = {"sdxl": LCM_LORA_SDXL, "sd15": LCM_LORA_SD15}
#: A few-step LoRA's scheduler: LCM-LoRAs sample with the LCM scheduler, without CFG.
FAST_LORA_SCHEDULER = "LCMScheduler"

ALIASES = {"sdxl": SDXL_BASE, "sd15": SD15, "sd1.5": SD15, "sd-1.5": SD15}

#: Per family: the tiny encoder and the default ControlNets (None: no default exists).
FAMILY_DEFAULTS: dict[str, dict[str, str | None]] = {
    # The SDXL depth ControlNets were trained on DPT-hybrid (MiDaS) depth maps: their default
    # estimator is that one (Depth Anything stays selectable with --depth-model).
    "sdxl": {"tiny_vae": TAESDXL, "canny": "diffusers/controlnet-canny-sdxl-1.0-mid",
             "depth": "diffusers/controlnet-depth-sdxl-1.0-mid", "depth_model": DPT_HYBRID},
    "sd15": {"tiny_vae": TAESD, "canny": "lllyasviel/control_v11p_sd15_canny",
             "depth": "lllyasviel/control_v11f1p_sd15_depth", "depth_model": DEPTH_DEFAULT},
    "sd2": {"tiny_vae": TAESD, "canny": None, "depth": None, "depth_model": DEPTH_DEFAULT},
}

#: Repos whose main branch holds pickles only; the safetensors conversion lives elsewhere.
KNOWN_REVISIONS = {DPT_HYBRID: "refs/pr/5"}

_TEXT_ENCODER_CLASSES = ("CLIPTextModel", "CLIPTextModelWithProjection")
_PIPELINE_TOKENIZERS = ("tokenizer", "tokenizer_2")

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



def _flag_order(flag: str) -> int:
    order = ["--sdxl", "--sd15", "--full-vae", "--no-controlnet", "--depth"]
    return order.index(flag) if flag in order else len(order)



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
        family_depth = str(defaults["depth_model"])
        depth = settings.depth_model or family_depth
        depth_ref = ModelRef(depth, "depth estimator", "transformers",
                             revision=KNOWN_REVISIONS.get(depth),
                             pull_flags=f"{flags} --depth" if depth == family_depth else "")
    return vae_ref, cn, depth_ref, notes


