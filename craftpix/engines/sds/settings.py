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
#: The FFT weight that the user's ``smooth`` 1 stands for (SD-πXL's weight 20): the engine's
#: ``smooth`` is this times the clean-up strength the photo engine takes.
FFT_WEIGHT_PER_SMOOTH = 20.0


@dataclass(frozen=True)
class QualityPreset:
    """One ``--quality`` preset: how long the score distillation runs, and on what.

    ``steps`` are SDS steps (0: none, the reference's photo-engine pattern is the result);
    ``warmup`` the learning-rate warm-up steps; ``t_max_start`` → ``t_max_end`` over the first
    ``anneal_fraction`` of the steps is the noise level schedule; ``resolution`` the side of the
    model-side canvas (None: the model's native size). ``candidates`` reference images are
    generated for a prompt alone, each with ``candidate_steps`` denoising steps
    (``fast_candidate_steps`` with a few-step LoRA) at ``candidate_guidance``.
    """

    name: str
    steps: int
    warmup: int
    t_max_start: float
    t_max_end: float
    anneal_fraction: float
    resolution: int | None
    candidates: int = 4
    candidate_steps: int = 20
    fast_candidate_steps: int = 4
    candidate_guidance: float = 5.0
    summary: str = ""


#: The presets of ``--quality``. ``paper`` is SD-πXL's schedule (6000 steps, 250 warm-up,
#: t_max 0.98 → 0.8 over the first half). ``fine`` refines a reference for 500 steps from a
#: lower noise level (0.7 → 0.4: the reference's layout is kept, details are distilled), sized
#: to about a minute on one H100-class GPU: ≈ 85 ms per SDS step (SDXL + 2 ControlNets at
#: 1024² fp16, estimated in docs/BENCHMARKS.md, unmeasured) × 500 ≈ 43 s, plus 4 candidates ×
#: 20 denoising steps × ≈ 70 ms (one UNet call of batch 2) ≈ 6 s, ranking and loading ≈ 5 s.
#: ``draft`` makes no SDS step: reference → photo engine.
QUALITY: dict[str, QualityPreset] = {
    "draft": QualityPreset("draft", steps=0, warmup=0, t_max_start=0.98, t_max_end=0.8,
                           anneal_fraction=0.5, resolution=None,
                           summary="reference image → photo engine, no score distillation"),
    "fine": QualityPreset("fine", steps=500, warmup=50, t_max_start=0.7, t_max_end=0.4,
                          anneal_fraction=0.5, resolution=None,
                          summary="draft + 500 steps of score distillation (≈1 min, H100)"),
    "paper": QualityPreset("paper", steps=6000, warmup=250, t_max_start=0.98, t_max_end=0.8,
                           anneal_fraction=0.5, resolution=None,
                           summary="SD-πXL's full schedule, 6000 steps"),
}
DEFAULT_QUALITY = "fine"
#: ``reference``: "auto" generates a reference for a prompt alone, "none" starts from random
#: logits (SD-πXL without an image).
REFERENCES = ("auto", "none")


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
    quality: str = DEFAULT_QUALITY  # a key of QUALITY
    reference: str = "auto"  # "auto" | "none" (see REFERENCES)
    candidates: int | None = None  # reference candidates (None: the preset's)
    reference_steps: int | None = None  # denoising steps per candidate (None: the preset's)
    reference_lora: str | None = None  # few-step LoRA for the candidates; "fast": the family's
    reference_scorer: str = "diffusion"  # "diffusion" or a CLIP model id/folder
    low_memory: bool = False  # offload after use, slicing; sequential offload as last resort
    # --- not on the command line ---
    #: Layer-by-layer offload (accelerate's cpu_offload), set by ``low_memory`` when even one
    #: network at a time does not fit the free GPU memory.
    sequential_offload: bool = False
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
    def preset(self) -> QualityPreset:
        """The :class:`QualityPreset` of ``quality``; raises ``ValueError`` for an unknown one."""
        try:
            return QUALITY[self.quality]
        except KeyError:
            raise ValueError(f"unknown quality {self.quality!r}; choose one of "
                             f"{', '.join(QUALITY)}") from None

    def steps_for(self, steps: int | None) -> int:
        """The SDS steps of a run: ``steps`` when given (``--steps``), else the preset's."""
        return self.preset.steps if steps is None else int(steps)

    def objective_for(self) -> SDSConfig:
        """The objective with the preset's noise schedule, unless code set its own schedule."""
        p, o, d = self.preset, self.objective, SDSConfig()
        if (o.t_max_start, o.t_max_end, o.anneal_fraction) != (
                d.t_max_start, d.t_max_end, d.anneal_fraction):
            return o
        from dataclasses import replace

        return replace(o, t_max_start=p.t_max_start, t_max_end=p.t_max_end,
                       anneal_fraction=p.anneal_fraction)

    def optim_for(self) -> dict[str, Any]:
        """``optim`` with the preset's warm-up unless code set one (draft, when ``--steps``
        asks for SDS steps anyway, warms up as fine does)."""
        if "warmup" in self.optim:
            return dict(self.optim)
        warmup = self.preset.warmup if self.preset.steps else QUALITY["fine"].warmup
        return {**self.optim, "warmup": warmup}

    @property
    def controls(self) -> list[str]:
        """The ControlNets switched on (positive weight), for runs with a reference image."""
        return [name for name, weight in (("canny", self.canny_weight),
                                          ("depth", self.depth_weight)) if weight > 0]
