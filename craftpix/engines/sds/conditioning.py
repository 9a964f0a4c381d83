"""What the diffusion model is conditioned on: text embeddings and ControlNet images.

* Text: the prompt and negative prompt through the model's CLIP text encoder(s), as diffusers'
  Stable Diffusion (last hidden state) and SDXL (penultimate hidden states of both encoders,
  concatenated, plus the pooled projection and the size ``time_ids``) pipelines do.
* Canny edges of the reference image: OpenCV's Canny with thresholds 100/200 on the RGB
  image, as the canny ControlNets saw them in training (SD-πXL's code blurred first; see
  :func:`canny_image`).
* Depth of the reference image from a transformers depth estimator (DPT / Depth Anything),
  min-max normalized, on whatever device the caller picks.
* The model-side :class:`Canvas`: the pattern's pixel box (a whole number of pixels per cell)
  inside an image of the model's size multiple and at most its trained aspect ratio.

Control images are computed once per run for the pattern's box and placed on the canvas, as
``(1, 3, H, W)`` float tensors in [0, 1] (white edges on black; near = bright; the padding 0).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageFilter

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


def _tokenize(tokenizer: Any, texts: Sequence[str]) -> torch.Tensor:
    """Token ids ``(len(texts), max_len)``, padded and cut to the encoder's length (the run
    tells the user beforehand what is cut)."""
    max_len = int(tokenizer.model_max_length)
    return tokenizer(list(texts), padding="max_length", max_length=max_len, truncation=True,
                     return_tensors="pt").input_ids


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
    if not sdxl:
        (tok,), (enc,) = tokenizers, text_encoders
        ids = _tokenize(tok, texts).to(module_device(enc))
        return TextConditioning(hidden=enc(ids)[0].float())
    hidden, pooled = [], None
    for tok, enc in zip(tokenizers, text_encoders, strict=True):
        ids = _tokenize(tok, texts).to(module_device(enc))
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

@dataclass(frozen=True)
class Canvas:
    """Where the pattern sits in the model-side image.

    The model sees a ``height``×``width`` pixel image (multiples of the model's size multiple);
    the pattern fills the box :attr:`content` at (``top``, ``left``) with exactly ``cell_px``
    pixels per cell on both axes (no stretch); the rest is padding whose latents get no SDS
    gradient (:meth:`mask`). ``cells`` is the pattern size (rows, columns).
    """

    height: int
    width: int
    cells: tuple[int, int]
    cell_px: int
    top: int = 0
    left: int = 0

    @classmethod
    def full(cls, height: int, width: int) -> Canvas:
        """A canvas the render fills entirely, whatever its number of cells (tests, benches):
        the objective upsamples any render to :attr:`content`."""
        return cls(height, width, (height, width), 1)

    @classmethod
    def of(cls, size: tuple[int, int] | Canvas) -> Canvas:
        """``size`` itself, or :meth:`full` for a pixel size (h, w)."""
        return size if isinstance(size, Canvas) else cls.full(*size)

    @property
    def size(self) -> tuple[int, int]:
        return self.height, self.width

    @property
    def content(self) -> tuple[int, int]:
        """(h, w) in pixels of the pattern's box."""
        return self.cells[0] * self.cell_px, self.cells[1] * self.cell_px

    @property
    def padded(self) -> bool:
        return self.content != self.size

    def place(self, images: torch.Tensor, fill: float) -> torch.Tensor:
        """Put content-sized ``images`` ``(B, C, h, w)`` on the canvas, ``fill`` around them;
        differentiable. Raises ``ValueError`` if ``images`` is not content-sized."""
        h, w = self.content
        if tuple(images.shape[-2:]) != (h, w):
            raise ValueError(f"expected {h}×{w} images, got {tuple(images.shape[-2:])}")
        if not self.padded:
            return images
        bottom, right = self.height - self.top - h, self.width - self.left - w
        return F.pad(images, (self.left, right, self.top, bottom), value=fill)

    def mask(self, device: torch.device | str = "cpu",
             dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """``(1, 1, H, W)``: 1 on the pattern's box, 0 on the padding."""
        m = torch.ones((1, 1, *self.content), device=device, dtype=dtype)
        return self.place(m, 0.0)


def _ceil_to(x: float, multiple: int) -> int:
    return max(multiple, math.ceil(x / multiple) * multiple)


def working_canvas(
    height: int, width: int, resolution: int, multiple: int = 64, max_aspect: float = 4.0,
) -> Canvas:
    """The model-side canvas for a ``height``×``width``-cell pattern.

    Each cell gets the same whole number of pixels on both axes (never stretched); the canvas
    is the smallest multiple of ``multiple`` around the pattern's box, widened where needed to
    keep within ``max_aspect`` (:attr:`SDSComponents.max_aspect
    <craftpix.models.loading.SDSComponents.max_aspect>`: a wider pattern is letterboxed), with
    the pattern centred. Of the pixel counts per cell around the exact fit to a
    ``resolution``² area, the one whose canvas area is nearest (in ratio) to ``resolution``²
    wins — the area the model was trained at —, then the one with less padding. A pattern with
    more cells than ``resolution`` gets 1 or 2 pixels per cell. Raises ``ValueError`` for sizes
    below 1 or ``max_aspect`` below 1.
    """
    if min(height, width, resolution, multiple) < 1 or max_aspect < 1:
        raise ValueError("working_canvas needs positive sizes and max_aspect >= 1")
    aspect = min(max(height / width, 1 / max_aspect), max_aspect)
    target_h, target_w = resolution * aspect**0.5, resolution / aspect**0.5
    scale = min(target_h / height, target_w / width)  # pixels per cell that would fit exactly

    def canvas(k: int) -> Canvas:
        h, w = height * k, width * k
        canvas_h, canvas_w = _ceil_to(h, multiple), _ceil_to(w, multiple)
        canvas_h = max(canvas_h, _ceil_to(canvas_w / max_aspect, multiple))
        canvas_w = max(canvas_w, _ceil_to(canvas_h / max_aspect, multiple))
        return Canvas(canvas_h, canvas_w, (height, width), k,
                      top=(canvas_h - h) // 2, left=(canvas_w - w) // 2)

    def badness(c: Canvas) -> tuple[float, float]:
        area = c.height * c.width
        return (round(abs(math.log(area / resolution**2)), 9),
                1 - c.content[0] * c.content[1] / area)

    candidates = {max(1, math.floor(scale) - 1), max(1, math.floor(scale)), math.ceil(scale)}
    return min((canvas(k) for k in sorted(candidates)), key=badness)


def _resized(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    h, w = size
    img = image.convert("RGB")
    return img if img.size == (w, h) else img.resize((w, h), Image.Resampling.BICUBIC)


# --- canny --------------------------------------------------------------------------------------

def canny(image: np.ndarray, low: float = 100.0, high: float = 200.0) -> np.ndarray:
    """Canny edges of an 8-bit-range image, grayscale ``(H, W)`` or RGB ``(H, W, 3)``;
    boolean ``(H, W)``.

    OpenCV's ``cv2.Canny(img, low, high)`` (aperture 3, L1 gradient; on RGB the strongest
    channel's gradient per pixel) — what the canny ControlNets' annotators run
    (opencv-python-headless, in the diffusion extra). Values are rounded and clipped to 0..255
    first. Raises ``ValueError`` for any other shape.
    """
    import cv2

    g = np.asarray(image)
    if not (g.ndim == 2 or (g.ndim == 3 and g.shape[2] == 3)):
        raise ValueError("canny needs a (H, W) grayscale or (H, W, 3) RGB image")
    g8 = np.ascontiguousarray(np.clip(np.rint(g), 0, 255).astype(np.uint8))
    return cv2.Canny(g8, low, high) > 0


def canny_image(
    image: Image.Image, size: tuple[int, int] | Canvas, low: float = 100.0, high: float = 200.0,
    blur_radius: float = 0.0,
) -> torch.Tensor:
    """Control image for a canny ControlNet: ``(1, 3, H, W)`` in {0, 1}.

    The edges of ``image`` resized to the canvas's pattern box (or to ``size`` (h, w)), no
    edges on the padding. As the ControlNets saw them in training: ``cv2.Canny(rgb, 100, 200)``
    on the resized RGB image, no blur — lllyasviel's annotator for the SD 1.5 ControlNets and
    the training script linked from diffusers' ``controlnet-canny-sdxl-1.0-small`` card (the
    -mid and full SDXL cards give no details; same team, assumed the same). SD-πXL's own code
    blurs first (PIL Gaussian, radius 1) and drops about half the edges
    (docs/BENCHMARKS.md); ``blur_radius=1`` with a grayscale input reproduces that.
    """
    canvas = Canvas.of(size)
    img = _resized(image, canvas.content)
    if blur_radius > 0:
        img = img.filter(ImageFilter.GaussianBlur(blur_radius))
    edges = canny(np.asarray(img), low, high)
    t = torch.from_numpy(edges.astype(np.float32))
    return canvas.place(t.expand(1, 3, *t.shape), 0.0).contiguous()


# --- depth --------------------------------------------------------------------------------------


@torch.no_grad()
def depth_image(
    image: Image.Image,
    size: tuple[int, int] | Canvas,
    estimator: torch.nn.Module,
    processor: Any,
) -> torch.Tensor:
    """Control image for a depth ControlNet: ``(1, 3, H, W)`` in [0, 1].

    Runs ``estimator`` (a transformers depth-estimation model) where its weights are, resizes
    its relative depth bicubically to the canvas's pattern box (or to ``size`` (h, w)) and
    normalizes it to [0, 1] (min-max), near = bright; the padding is 0 (far).
    """
    canvas = Canvas.of(size)
    size = canvas.content
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
    return canvas.place(depth.expand(1, 3, *size), 0.0).contiguous().cpu()
