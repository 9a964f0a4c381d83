"""Settings of the score-distillation engine as plain dataclasses (no click, no torch).

:class:`SDSSettings` is what an entry point (the CLI's options, the library API, a batch run)
hands to :func:`craftpix.engines.sds.run.run_sds`; :class:`SDSConfig` and
:class:`AugmentConfig` are the objective's knobs, with SD-πXL's values as defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from craftpix.models.ids import SDXL_BASE

DEFAULT_CONTROL_WEIGHT = 0.15
DEFAULT_GUIDANCE_SCALE = 40.0


@dataclass(frozen=True)
class AugmentConfig:
    """Probabilities and strength of the augmentations (SD-πXL defaults)."""

    p_grayscale: float = 0.2
    p_perspective: float = 0.5
    distortion: float = 0.3
    p_flip: float = 0.5

    @classmethod
    def off(cls) -> AugmentConfig:
        return cls(p_grayscale=0.0, p_perspective=0.0, distortion=0.0, p_flip=0.0)


@dataclass(frozen=True)
class SDSConfig:
    """Knobs of the objective; defaults are the paper's."""

    guidance_scale: float = DEFAULT_GUIDANCE_SCALE
    t_min: float = 0.02
    t_max_start: float = 0.98
    t_max_end: float = 0.8
    anneal_fraction: float = 0.5  # t_max reaches t_max_end after this fraction of the steps
    weighting: str = "1-alpha"  # w(t) = 1 − ᾱ_t; "1" for no weighting
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    control_start: float = 0.0  # ControlNets act for steps in [start, end) × total
    control_end: float = 1.0


@dataclass
class SDSSettings:
    """Everything the SDS engine needs besides the pattern itself (size, palette, prompt...).

    The first block mirrors the CLI options one to one. ``resolution`` (the side of the
    square whose area the model-side canvas is fitted to, see
    :func:`~craftpix.engines.sds.conditioning.working_canvas`; ``None`` = the model's native
    size), ``objective`` (t schedule,
    augmentation, ControlNet active range) and ``optim`` (overrides of
    :class:`craftpix.engines.sds.optimize.OptimConfig`, e.g. ``{"warmup": 50}``) are for code
    and tests.
    """

    model: str = SDXL_BASE
    vae: str = "tiny"
    controlnet_canny: str | None = None  # None: the family's default ControlNet
    controlnet_depth: str | None = None
    depth_model: str | None = None  # None: the family's default depth estimator
    canny_weight: float = DEFAULT_CONTROL_WEIGHT
    depth_weight: float = DEFAULT_CONTROL_WEIGHT
    negative_prompt: str | None = None  # None: the template's negative prompt
    guidance_scale: float = DEFAULT_GUIDANCE_SCALE
    lora: str | None = None
    lora_scale: float = 1.0
    template: Path | None = None
    raw_prompt: bool = False
    device: str = "auto"
    dtype: str = "auto"
    offload: bool = False
    attention_slicing: bool = False
    compile: bool = False  # torch.compile the UNet and ControlNets (CUDA; minutes of warm-up)
    preview_every: int = 0
    checkpoint_every: int = 0
    resume: Path | None = None
    # --- not on the command line ---
    resolution: int | None = None
    #: Initial logits from the reference: "rgb-l1" (SD-πXL's distance and logit scale) or
    #: "de2000" (CIEDE2000/100: the perceptually nearest color wins, but logits ≈3× weaker).
    init_metric: str = "rgb-l1"
    # --- speed (CUDA only unless speed_on_cpu; see craftpix.engines.sds.networks.speed_up) ---
    #: With ``compile``, replay each network as a CUDA graph (``mode="reduce-overhead"``).
    #: None: for models of native size ≤ 512² only, whose steps are short enough for kernel
    #: launches to matter (SD 1.5); SDXL's long kernels gain little and its graphs cost memory.
    cuda_graphs: bool | None = None
    channels_last: bool = True
    fuse_qkv: bool = True
    cudnn_benchmark: bool = True
    tf32: bool = True
    speed_on_cpu: bool = False  # apply fuse_qkv/channels_last/compile on the CPU too (tests)
    objective: SDSConfig = field(default_factory=SDSConfig)
    optim: dict[str, Any] = field(default_factory=dict)

    @property
    def controls(self) -> list[str]:
        """The ControlNets switched on (positive weight), for runs with a reference image."""
        return [name for name, weight in (("canny", self.canny_weight),
                                          ("depth", self.depth_weight)) if weight > 0]
