"""Change a finished design's size without losing it (``craftpix resize``, ``--sizes``).

Three ways, by what the pattern came from and what is at hand:

* **photo patterns with the photo** (``image``): the photo engine's labelling is solved again
  at the new size over the pattern's own colors (no new color is introduced), with one extra
  data term, the *consistency* term, that ties each new cell to the resampled original:

      E(f) = Σ_p [ΔE00(x_p, c_{f_p}) + λ · Σ_j s_pj · ΔE00(c_j, c_{f_p})] + Σ_{p~q} w_pq [f_p ≠ f_q]

  ``s_pj`` is the share of new cell p's footprint that original color j covered (an exact
  box filter of the old grid onto the new one), so the term is the expected ΔE00 between the
  new cell's color and the original colors under it: 0 where the original was one flat color,
  and it never pulls towards a color the original did not have. ``x_p`` is the photo at the
  new size; the Potts term (contrast-sensitive, from the photo) and the blob clean-up are
  the photo engine's (:func:`craftpix.engines.photo.label_fixed_colors`).
* **without the photo**: the same energy without the photo's data term: the pattern's grid
  is resampled (consistency term alone) and the Potts contrast comes from the resampled
  pattern itself, so boundaries stay where the design had them.
* **SDS patterns** (a prompt, the diffusion engine) whose folder holds the run's checkpoint:
  the saved logits (and Adam moments) are resampled to the new grid (bilinear, antialiased
  when shrinking), the palette is restricted to the pattern's colors, and the run continues
  for a short schedule (:data:`SDS_RESIZE_STEPS`) through :func:`run_sds`'s own resume
  mechanism: the resampled checkpoint and a matching run file are written to a new folder,
  which is then resumed. The design stays; the detail adapts to the new grid.

Consistency between sizes is measured by :func:`size_consistency`: the larger pattern is
reduced to the smaller grid by majority per block (:func:`majority_downsample`) and compared
cell by cell (agreement, mean ΔE00). See ``bench/resize_bench.py``.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from craftpix.color import (
    linear_to_srgb,
    pairwise_delta_e_2000,
    pairwise_match_cost,
    rgb_to_lab,
    srgb_to_linear,
)
from craftpix.errors import InputError
from craftpix.pattern import Pattern

if TYPE_CHECKING:
    from craftpix.engines.sds.settings import SDSSettings

__all__ = [
    "CONSISTENCY",
    "EMPTY_SHARE",
    "SDS_RESIZE_STEPS",
    "area_matrix",
    "keep_final_checkpoint",
    "majority_downsample",
    "resample_shares",
    "resize_pattern",
    "size_consistency",
    "target_size",
]

#: λ, the weight of the consistency term against the photo's ΔE00 (both in ΔE00 units);
#: chosen with bench/resize_bench.py (docs/BENCHMARKS.md, "Size change").
CONSISTENCY = 0.5
#: A new cell is empty when more than this share of its footprint was empty (the photo
#: engine's 50 % coverage rule).
EMPTY_SHARE = 0.5
#: Optimization steps an SDS pattern continues for at its new size.
SDS_RESIZE_STEPS = 300
MIN_SIDE, MAX_SIDE = 2, 500  # as craftpix.api
CHECKPOINT_NAME = "checkpoint.pt"  # as craftpix.engines.sds.optimize
RUN_FILE = "sds-run.json"  # as the SDS engine's run file


# --- geometry -----------------------------------------------------------------------------------
def target_size(current: tuple[int, int], size: int | tuple[int, int]) -> tuple[int, int]:
    """The new ``(width, height)`` in cells.

    ``size`` is ``(width, height)``, or one number: the new longer side, the other side keeping
    the pattern's proportions (rounded). Each side must be 2..500 cells; raises
    :class:`InputError` otherwise.
    """
    w, h = current
    if isinstance(size, tuple | list):
        try:
            w2, h2 = (int(v) for v in size)
        except (TypeError, ValueError):
            raise InputError(f"size must be N or (width, height) in cells, got {size!r}") from None
    else:
        n = int(size)
        if w >= h:
            w2, h2 = n, max(1, round(n * h / w))
        else:
            w2, h2 = max(1, round(n * w / h)), n
    for side in (w2, h2):
        if not MIN_SIDE <= side <= MAX_SIDE:
            raise InputError(f"size {w2}x{h2} is out of range: each side must be "
                             f"{MIN_SIDE} to {MAX_SIDE} cells")
    return w2, h2


def area_matrix(n_old: int, n_new: int) -> np.ndarray:
    """Box-filter weights (n_new, n_old) from ``n_old`` cells onto ``n_new`` over one length.

    Row i is the share of new cell i's interval ``[i, i+1)·n_old/n_new`` that each old cell
    ``[j, j+1)`` covers; rows sum to 1. Exact area resampling, separable in x and y.
    """
    edges = np.arange(n_new + 1) * (n_old / n_new)
    lo, hi = edges[:-1, None], edges[1:, None]
    j = np.arange(n_old)[None, :]
    overlap = np.clip(np.minimum(hi, j + 1) - np.maximum(lo, j), 0.0, None)
    return overlap / overlap.sum(axis=1, keepdims=True)


def resample_shares(cells: np.ndarray, n_labels: int, size: tuple[int, int]) -> np.ndarray:
    """Share of each new cell's footprint covered by each label, (H2, W2, n_labels + 1).

    ``cells`` (H, W) int labels 0..n_labels-1, -1 = empty; the last channel is the empty
    share. ``size`` is the new ``(width, height)``. Each cell's shares sum to 1.
    """
    g = np.asarray(cells, dtype=np.int64)
    h, w = g.shape
    w2, h2 = size
    onehot = np.zeros((h, w, n_labels + 1))
    lab = np.where(g >= 0, g, n_labels)
    onehot[np.arange(h)[:, None], np.arange(w)[None, :], lab] = 1.0
    ay, ax = area_matrix(h, h2), area_matrix(w, w2)
    return np.einsum("ij,jkl,mk->iml", ay, onehot, ax)


def majority_downsample(cells: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``cells`` (H, W) int (-1 = empty) reduced to ``size`` = (width, height) by majority.

    Each new cell takes the label covering most of its footprint (area-weighted, so blocks
    need not be whole cells); ties go to the lower label, empty counts as a label. (H2, W2).
    """
    g = np.asarray(cells, dtype=np.int64)
    k = int(g.max()) + 1 if (g >= 0).any() else 0
    shares = resample_shares(g, k, size)
    best = np.argmax(shares, axis=2)
    return np.where(best == k, -1, best)


# --- helpers on patterns ----------------------------------------------------------------------
def _pattern_rgb(pattern: Pattern) -> np.ndarray:
    return np.array([c.rgb8 for c in pattern.palette], dtype=np.float64) / 255.0


def size_consistency(small: Pattern, large: Pattern) -> tuple[float, float]:
    """How well ``large`` keeps the design of ``small``: (cell agreement, mean ΔE00).

    ``large`` is majority-downsampled to ``small``'s grid; agreement is the share of cells
    with the same color (compared by color value, so the two palettes may differ; empty
    matches empty), ΔE00 the mean CIEDE2000 between the two colors over the cells filled in
    both (0.0 if none).
    """
    reduced = majority_downsample(large.cells, (small.width, small.height))
    rgb_l, rgb_s = _pattern_rgb(large), _pattern_rgb(small)
    a = small.cells
    both = (a >= 0) & (reduced >= 0)
    same = np.zeros(a.shape, dtype=bool)
    same[both] = np.all(np.rint(rgb_s[a[both]] * 255) == np.rint(rgb_l[reduced[both]] * 255), axis=1)
    same |= (a < 0) & (reduced < 0)
    de = 0.0
    if both.any():
        from craftpix.color import delta_e_2000

        de = float(delta_e_2000(rgb_to_lab(rgb_s[a[both]]), rgb_to_lab(rgb_l[reduced[both]])).mean())
    return float(same.mean()), de


def _resized_pattern(pattern: Pattern, cells: np.ndarray, method: str, extra: dict[str, Any],
                     reference_rgb: np.ndarray | None = None) -> Pattern:
    from craftpix.metrics import isolated_cell_rate, mean_delta_e

    meta = {k: v for k, v in pattern.meta.items() if k not in ("delta_e00_mean", "isolated_cells")}
    meta["resized"] = {"from": f"{pattern.width}x{pattern.height}", "method": method, **extra}
    if reference_rgb is not None:
        meta["delta_e00_mean"] = round(mean_delta_e(cells, _pattern_rgb(pattern), reference_rgb), 3)
    meta["isolated_cells"] = round(isolated_cell_rate(cells), 4)
    # the export settings stay (fabric count, strands, formats, mirror, merge, drill, ...): the
    # new size is exported as the pattern was, as --sizes does at creation
    return Pattern(cells, list(pattern.palette), pattern.medium, pattern.brand, meta,
                   dict(pattern.settings)).compact()


# --- photo patterns and the grid --------------------------------------------------------------
def resize_photo(
    pattern: Pattern, size: tuple[int, int], image: str | os.PathLike[str] | None = None, *,
    fit: str = "crop", smooth: float = 1.0, consistency: float = CONSISTENCY,
) -> Pattern:
    """Re-solve ``pattern`` at ``size`` = (width, height) cells over its own colors.

    With ``image`` (the photo, fitted with ``fit`` as in the photo engine) the data term is
    ΔE00 to the photo plus ``consistency`` × the consistency term (module docstring); without
    it the consistency term alone on the resampled grid. ``smooth`` scales the Potts term and
    the blob clean-up (0 = per-cell minimum). Raises :class:`InputError` for an unreadable
    image. The result's meta records ``resized`` (from, method).
    """
    from craftpix.engines.photo import label_fixed_colors

    w2, h2 = size
    k = len(pattern.palette)
    pal_lab = rgb_to_lab(_pattern_rgb(pattern))
    shares = resample_shares(pattern.cells, k, size)
    covered = shares[..., k] <= EMPTY_SHARE
    color_shares = shares[..., :k] / np.maximum(shares[..., :k].sum(axis=2, keepdims=True), 1e-12)
    d = pairwise_delta_e_2000(pal_lab, pal_lab)  # (K, K)
    term = color_shares @ d  # (H2, W2, K): expected ΔE00 to the original colors underneath
    if image is not None:
        from craftpix.imageio import reference_grid

        ref = reference_grid(image, w2, h2, fit)
        lab = rgb_to_lab(np.asarray(ref.rgb, dtype=np.float64))
        cells = label_fixed_colors(lab, covered, pal_lab, consistency * term, 1.0, smooth)
        return _resized_pattern(pattern, cells, "photo", {"consistency": consistency}, ref.rgb)
    else:
        # The resampled pattern as an image (colors mixed in linear light) gives the contrast.
        mixed = linear_to_srgb(color_shares @ srgb_to_linear(_pattern_rgb(pattern)))
        lab = rgb_to_lab(np.clip(mixed, 0.0, 1.0))
        cells = label_fixed_colors(lab, covered, pal_lab, term, 0.0, smooth)
    return _resized_pattern(pattern, cells, "grid", {})


# --- SDS patterns ---------------------------------------------------------------------------------
def keep_final_checkpoint(settings: SDSSettings, steps: int) -> SDSSettings:
    """``settings`` that make an SDS run leave a checkpoint of its last step (for resizing).

    Runs that checkpoint already (``checkpoint_every`` > 0) are left as they are; their last
    checkpoint is what a resize continues from.
    """
    if settings.checkpoint_every or steps <= 0:
        return settings
    return replace(settings, checkpoint_every=steps)


def has_checkpoint(folder: str | os.PathLike[str] | None) -> bool:
    """Whether ``folder`` holds an SDS run's checkpoint and run file."""
    return folder is not None and (Path(folder) / CHECKPOINT_NAME).is_file() and (
        Path(folder) / RUN_FILE).is_file()


def _resample_logits(t: Any, h2: int, w2: int) -> Any:
    """(H, W, n) tensor → (H2, W2, n): bilinear, antialiased when shrinking."""
    import torch.nn.functional as F

    x = t.detach().float().permute(2, 0, 1).unsqueeze(0)
    y = F.interpolate(x, size=(h2, w2), mode="bilinear", align_corners=False, antialias=True)
    return y[0].permute(1, 2, 0).contiguous()


def resize_sds(
    pattern: Pattern, size: tuple[int, int], run_dir: str | os.PathLike[str], *,
    image: str | os.PathLike[str] | None = None, fit: str = "crop",
    steps: int = SDS_RESIZE_STEPS, settings: SDSSettings | None = None,
    out_dir: str | os.PathLike[str] | None = None, quiet: bool = True, components: Any = None,
) -> Pattern:
    """Continue the SDS run in ``run_dir`` at ``size`` = (width, height) for ``steps`` steps.

    ``run_dir`` holds the run's ``checkpoint.pt`` and ``sds-run.json``. The logits and Adam
    moments are resampled to the new grid, colors not in ``pattern`` are switched off, and
    :func:`run_sds` resumes from that checkpoint (written with its run file to ``out_dir``,
    else a temporary folder), so the annealed schedule goes on from the saved step. ``image``
    (optional) drives the ControlNets again. ``settings`` overrides the model settings (device,
    components for tests); by default they are read back from the run file (objective
    defaults). Raises :class:`InputError` for a missing or foreign checkpoint.
    """
    import torch

    from craftpix.engines.sds.settings import SDSSettings

    run_dir = Path(run_dir)
    if not has_checkpoint(run_dir):
        raise InputError(f"{run_dir} holds no SDS checkpoint ({CHECKPOINT_NAME}, {RUN_FILE})")
    try:
        fp = json.loads((run_dir / RUN_FILE).read_text(encoding="utf-8"))
        state = torch.load(run_dir / CHECKPOINT_NAME, map_location="cpu", weights_only=True)
        gen_state = state["generator"]
        palette = gen_state["palette"].double().numpy()
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise InputError(f"cannot read the SDS run in {run_dir}: {exc}") from None
    w2, h2 = size
    start = int(state["step"])
    total = start + int(steps)

    # The resampled state: logits, Adam moments; only the pattern's colors stay switched on.
    wanted = {c.hex.upper() for c in pattern.palette}
    rows = ["#" + "".join(f"{round(v * 255):02X}" for v in row) for row in palette]
    keep = torch.tensor([r in wanted for r in rows]) & gen_state["active"].bool()
    gen_state["logits"] = _resample_logits(gen_state["logits"], h2, w2)
    if keep.any():
        gen_state["active"] = keep
    for moments in state["optimizer"]["state"].values():
        for key in ("exp_avg", "exp_avg_sq"):
            if key in moments:
                moments[key] = _resample_logits(moments[key], h2, w2).clamp_min(0) if key == (
                    "exp_avg_sq") else _resample_logits(moments[key], h2, w2)
    state["config"]["steps"] = total

    base = SDSSettings(model=fp["model"], vae=fp.get("vae") or "tiny", lora=fp.get("lora"),
                       lora_scale=fp.get("lora_scale") or 1.0,
                       guidance_scale=fp["guidance_scale"], resolution=fp.get("resolution"),
                       optim=dict(fp.get("optim") or {}))
    controls = fp.get("controls") or {}
    for name in ("canny", "depth"):
        if name in controls:
            model = controls[name]["model"]
            base = replace(base, **{f"controlnet_{name}": None if model == "default" else model,
                                    f"{name}_weight": controls[name]["weight"]})
        else:
            base = replace(base, **{f"{name}_weight": 0.0})
    chosen = settings if settings is not None else base
    with contextlib.ExitStack() as stack:
        work = Path(out_dir) if out_dir is not None else Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix="craftpix-resize-")))
        indices = _continue_run(state, fp, replace(chosen, resume=work), palette, (w2, h2),
                                total, work, image, fit, quiet, components)
    # Palette rows → the pattern's colors (the nearest one for a row it does not hold).
    pal_lab = rgb_to_lab(_pattern_rgb(pattern))
    to_pattern = np.argmin(pairwise_match_cost(rgb_to_lab(palette), pal_lab), axis=1)
    cells = to_pattern[np.asarray(indices, dtype=np.int64)]
    return _resized_pattern(pattern, cells, "sds", {"steps": int(steps), "from_step": start})


def _continue_run(state: dict[str, Any], fp: dict[str, Any], chosen: SDSSettings,
                  palette: np.ndarray, size: tuple[int, int], total: int, work: Path,
                  image: str | os.PathLike[str] | None, fit: str, quiet: bool,
                  components: Any) -> np.ndarray:
    """Write the resampled checkpoint and its run file to ``work`` and resume it there."""
    import torch

    from craftpix.engines.sds.prompts import build_prompts
    from craftpix.engines.sds.run import run_fingerprint, run_sds
    from craftpix.fileio import atomic_path, write_text

    w2, h2 = size
    chosen = replace(chosen, raw_prompt=True, negative_prompt=fp["negative"], template=None,
                     checkpoint_every=total, preview_every=0)

    ref = None
    if image is not None:  # restored as for any SDS run's control images (craftpix.restore)
        from craftpix.restore import restored_reference

        ref = restored_reference(image, w2, h2, fit, "auto", "sds")
    fitted = ref.fitted if ref is not None else None
    reference = ref.rgb if ref is not None else None
    medium, seed, smooth = fp["medium"], int(fp["seed"]), float(fp["smooth"])
    text, negative = build_prompts(fp["prompt"], medium=medium, template=None, raw=True,
                                   negative=fp["negative"])
    controls_on = [] if fitted is None else chosen.controls
    fingerprint = run_fingerprint(
        chosen, prompt=text, negative=negative, controls=controls_on, image=fitted,
        reference_rgb=reference, palette_rgb=palette, height=h2, width=w2, colors=None,
        medium=medium, steps=total, seed=seed, smooth=smooth)
    work.mkdir(parents=True, exist_ok=True)
    with atomic_path(work / CHECKPOINT_NAME) as tmp:
        torch.save(state, tmp)
    write_text(work / RUN_FILE, json.dumps(fingerprint, indent=2) + "\n")
    result = run_sds(chosen, prompt=text, image=fitted, reference_rgb=reference,
                     palette_rgb=palette, height=h2, width=w2, colors=None, medium=medium,
                     steps=total, seed=seed, smooth=smooth, out_dir=work, quiet=quiet,
                     components=components)
    return np.asarray(result.indices, dtype=np.int64)


# --- dispatch -------------------------------------------------------------------------------------
def resize_pattern(
    pattern: Pattern, size: int | tuple[int, int], image: str | os.PathLike[str] | None = None,
    *, run_dir: str | os.PathLike[str] | None = None, fit: str = "crop", smooth: float = 1.0,
    consistency: float = CONSISTENCY, steps: int | None = None,
    settings: SDSSettings | None = None, out_dir: str | os.PathLike[str] | None = None,
    quiet: bool = True, components: Any = None, notes: list[str] | None = None,
) -> Pattern:
    """``pattern`` at a new ``size`` (see :func:`target_size`), keeping its design.

    SDS patterns whose ``run_dir`` holds the run's checkpoint continue the run
    (:func:`resize_sds`, ``steps`` default :data:`SDS_RESIZE_STEPS`, ``out_dir`` keeps the
    new run's checkpoint); others are re-solved over their own colors (:func:`resize_photo`,
    with the photo when ``image`` is given). Why a fallback was taken is appended to ``notes``.
    The result keeps the pattern's stored export settings (``pattern.settings``), so it is
    exported as the pattern was. Raises :class:`InputError` (one line) for a bad size, image
    or checkpoint.
    """
    new = target_size((pattern.width, pattern.height), size)
    pattern = pattern.compact()  # only the colors cells have (not a backstitch-only thread)
    said = notes if notes is not None else []
    if pattern.meta.get("engine") == "sds":
        import importlib.util

        if not has_checkpoint(run_dir):
            said.append("no checkpoint of the diffusion run next to the pattern: the grid was "
                        "resampled instead")
        elif importlib.util.find_spec("torch") is None:
            said.append('continuing a diffusion run needs pip install ".[diffusion]": '
                        "the grid was resampled instead")
        else:
            assert run_dir is not None
            return resize_sds(pattern, new, run_dir, image=image, fit=fit,
                              steps=SDS_RESIZE_STEPS if steps is None else steps,
                              settings=settings, out_dir=out_dir, quiet=quiet,
                              components=components)
    return resize_photo(pattern, new, image, fit=fit, smooth=smooth, consistency=consistency)
