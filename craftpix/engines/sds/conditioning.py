"""What the diffusion model is conditioned on: text embeddings and ControlNet images.

* Text: the prompt and negative prompt through the model's CLIP text encoder(s), as diffusers'
  Stable Diffusion (last hidden state) and SDXL (penultimate hidden states of both encoders,
  concatenated, plus the pooled projection and the size ``time_ids``) pipelines do.
* Canny edges of the reference image: PIL Gaussian blur (radius 1), then Canny with thresholds
  100/200 — a small numpy port of OpenCV's algorithm (3×3 Sobel, L1 magnitude, non-maximum
  suppression, double threshold, hysteresis), because OpenCV is not a dependency.
* Depth of the reference image from a transformers depth estimator (DPT / Depth Anything),
  min-max normalized, on whatever device the caller picks.

Control images are computed once per run at the model's working resolution, as ``(1, 3, H, W)``
float tensors in [0, 1] (white edges on black; near = bright).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageFilter

log = logging.getLogger(__name__)

# --- text ---------------------------------------------------------------------------------------


@dataclass
class TextConditioning:
    """Batched conditioning for the [negative, positive] pair, in that order.

    ``hidden`` is ``(2, L, D)``; SDXL adds ``pooled`` ``(2, P)`` and ``time_ids`` ``(2, 6)``.
    """

    hidden: torch.Tensor
    pooled: torch.Tensor | None = None
    time_ids: torch.Tensor | None = None

    def to(self, device: torch.device | str, dtype: torch.dtype) -> TextConditioning:
        def mv(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t.to(device=device, dtype=dtype)

        return TextConditioning(mv(self.hidden), mv(self.pooled), mv(self.time_ids))

    @property
    def added_cond_kwargs(self) -> dict[str, torch.Tensor] | None:
        if self.pooled is None:
            return None
        assert self.time_ids is not None
        return {"text_embeds": self.pooled, "time_ids": self.time_ids}


def module_device(module: Any) -> torch.device:
    """Where a module's weights are (the CPU for one without parameters)."""
    try:
        return next(module.parameters()).device
    except (AttributeError, StopIteration):
        return torch.device("cpu")


def _tokenize(tokenizer: Any, texts: Sequence[str], warned: list[bool]) -> torch.Tensor:
    max_len = int(tokenizer.model_max_length)
    ids = tokenizer(list(texts), padding="max_length", max_length=max_len, truncation=True,
                    return_tensors="pt").input_ids
    full = tokenizer(list(texts), padding="longest", return_tensors="pt").input_ids
    if full.shape[-1] > ids.shape[-1] and not warned:
        log.warning("the prompt is longer than %d tokens; the end is cut off", max_len)
        warned.append(True)
    return ids


@torch.no_grad()
def encode_text(
    tokenizers: Sequence[Any],
    text_encoders: Sequence[torch.nn.Module],
    prompt: str,
    negative: str,
    *,
    sdxl: bool,
    zero_empty_negative: bool = False,
) -> TextConditioning:
    """Embed ``[negative, prompt]`` with the model's text encoder(s).

    Stable Diffusion 1.x/2.x: one encoder, its last hidden state. SDXL: both encoders'
    penultimate hidden states concatenated, the pooled projection of the second one; an empty
    negative prompt becomes all zeros when the model asks for it (SDXL's
    ``force_zeros_for_empty_prompt``). ``time_ids`` are added by :func:`sdxl_time_ids`.
    """
    texts = [negative, prompt]
    warned: list[bool] = []
    if not sdxl:
        (tok,), (enc,) = tokenizers, text_encoders
        ids = _tokenize(tok, texts, warned).to(module_device(enc))
        return TextConditioning(hidden=enc(ids)[0].float())
    hidden, pooled = [], None
    for tok, enc in zip(tokenizers, text_encoders, strict=True):
        ids = _tokenize(tok, texts, warned).to(module_device(enc))
        out = enc(ids, output_hidden_states=True)
        hidden.append(out.hidden_states[-2].float())
        first = out[0]
        if first.ndim == 2:  # CLIPTextModelWithProjection: text_embeds
            pooled = first.float()
    if pooled is None:
        raise ValueError("SDXL needs a text encoder with projection (text_encoder_2)")
    cond = TextConditioning(hidden=torch.cat(hidden, dim=-1), pooled=pooled)
    if zero_empty_negative and not negative:
        cond.hidden[0].zero_()
        cond.pooled[0].zero_()
    return cond


def sdxl_time_ids(height: int, width: int) -> torch.Tensor:
    """SDXL micro-conditioning for a ``height``×``width`` image: original size, crop (0, 0),
    target size — repeated for the negative and positive halves of the batch."""
    ids = torch.tensor([height, width, 0, 0, height, width], dtype=torch.float32)
    return ids.unsqueeze(0).repeat(2, 1)


# --- working resolution --------------------------------------------------------------------------


def working_size(height: int, width: int, resolution: int, multiple: int = 64) -> tuple[int, int]:
    """Pixel size (h, w) the pattern is upsampled to: the pattern's aspect ratio at about the
    area of a ``resolution``² image (SDXL is trained on such buckets), multiples of
    ``multiple``."""
    aspect = height / width
    h = resolution * aspect**0.5
    w = resolution / aspect**0.5
    return (max(multiple, round(h / multiple) * multiple),
            max(multiple, round(w / multiple) * multiple))


def _resized(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    h, w = size
    img = image.convert("RGB")
    return img if img.size == (w, h) else img.resize((w, h), Image.Resampling.BICUBIC)


# --- canny --------------------------------------------------------------------------------------

def canny(gray: np.ndarray, low: float = 100.0, high: float = 200.0) -> np.ndarray:
    """Canny edges of an 8-bit-range grayscale image ``(H, W)``; boolean ``(H, W)``.

    OpenCV's ``cv2.Canny(img, low, high)`` (aperture 3, L1 gradient): the edge maps the SDXL
    canny ControlNets were trained on (opencv-python-headless, in the diffusion extra). Values
    are rounded and clipped to 0..255 first. Raises ``ValueError`` for a non-2-D array.
    """
    import cv2

    g = np.asarray(gray)
    if g.ndim != 2:
        raise ValueError("canny needs a 2-D grayscale image")
    g8 = np.clip(np.rint(g), 0, 255).astype(np.uint8)
    return cv2.Canny(g8, low, high) > 0


def canny_image(
    image: Image.Image, size: tuple[int, int], low: float = 100.0, high: float = 200.0,
    blur_radius: float = 1.0,
) -> torch.Tensor:
    """Control image for a canny ControlNet: ``(1, 3, H, W)`` in {0, 1} at ``size`` (h, w)."""
    img = _resized(image, size)
    if blur_radius > 0:
        img = img.filter(ImageFilter.GaussianBlur(blur_radius))
    edges = canny(np.asarray(img.convert("L")), low, high)
    t = torch.from_numpy(edges.astype(np.float32))
    return t.expand(1, 3, *t.shape).contiguous()


# --- depth --------------------------------------------------------------------------------------


@torch.no_grad()
def depth_image(
    image: Image.Image,
    size: tuple[int, int],
    estimator: torch.nn.Module,
    processor: Any,
) -> torch.Tensor:
    """Control image for a depth ControlNet: ``(1, 3, H, W)`` in [0, 1] at ``size`` (h, w).

    Runs ``estimator`` (a transformers depth-estimation model) where its weights are, resizes
    its relative depth bicubically and normalizes it to [0, 1] (min-max), near = bright.
    """
    device = module_device(estimator)
    dtype = next(estimator.parameters()).dtype
    inputs = processor(images=image.convert("RGB"), return_tensors="pt")
    pred = estimator(pixel_values=inputs["pixel_values"].to(device=device, dtype=dtype))
    depth = pred.predicted_depth.float()
    if depth.ndim == 2:
        depth = depth.unsqueeze(0)
    depth = F.interpolate(depth.unsqueeze(1), size=size, mode="bicubic", align_corners=False)
    lo, hi = depth.amin(), depth.amax()
    depth = ((depth - lo) / (hi - lo).clamp_min(1e-8)).clamp(0, 1)
    return depth.expand(1, 3, *size).contiguous().cpu()
