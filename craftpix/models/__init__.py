"""Pretrained models for the prompt engine: which ones, where they are, loading them.

craftpix uses diffusers-format models from the Hugging Face Hub or local folders:

* a Stable Diffusion model — SDXL base by default, SD 1.5/2.x as lighter options — of which
  only the UNet, the text encoder(s), tokenizer(s) and the noise schedule are needed;
* an image encoder: TAESDXL/TAESD (``AutoencoderTiny``) by default, or the full VAE;
* with a reference image: a canny and a depth ControlNet and a depth estimator (transformers).

The package is split by idea: :mod:`~craftpix.models.ids` (ids, roles, aliases, revisions),
:mod:`~craftpix.models.hub` (the cache, offline mode, downloads),
:mod:`~craftpix.models.loading` (components, device, dtype), :mod:`~craftpix.models.lora` and
:mod:`~craftpix.models.cli` (the ``craftpix models`` command, :data:`models_group`). Importing
it imports neither torch nor the diffusion libraries.
"""

from craftpix.models.cli import models_group
from craftpix.models.hub import hub_cache, hub_offline, locate
from craftpix.models.ids import (
    DEPTH_DEFAULT,
    DPT_HYBRID,
    SD15,
    SDXL_BASE,
    TAESD,
    TAESDXL,
    ModelRef,
    canonical_model,
)
from craftpix.models.loading import SDSComponents, load_components

__all__ = [
    "DEPTH_DEFAULT", "DPT_HYBRID", "SD15", "SDXL_BASE", "TAESD", "TAESDXL", "ModelRef",
    "SDSComponents", "canonical_model", "hub_cache", "hub_offline", "load_components", "locate",
    "models_group",
]
