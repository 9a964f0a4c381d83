"""Tiny random-weight stand-ins of every network the SDS engine loads, built from configs.

Same classes and layouts as the real models (diffusers' own test-suite does the same with
``get_dummy_components``), small enough for a CPU: an SDXL-like and an SD1.5-like pipeline
folder (UNet, CLIP text encoder(s), tokenizer(s), scheduler, VAE), TAESD (AutoencoderTiny),
ControlNets for both families and a DPT depth estimator. :func:`save_tiny_models` writes them
with ``save_pretrained`` so tests exercise the real ``from_pretrained`` loading path. The
tokenizer is built offline from a character-level vocabulary (no merges).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

NATIVE = 64  # UNet sample_size 8 × VAE factor 8
TEXT_DIM = 32
MAX_TOKENS = 77
#: A small catalog for the end-to-end runs on the tiny models.
PALETTE = np.array([[0, 0, 0], [1, 1, 1], [0.9, 0.1, 0.1], [0.1, 0.7, 0.2], [0.1, 0.2, 0.9],
                    [0.95, 0.85, 0.1], [0.5, 0.3, 0.1], [0.6, 0.6, 0.6]], dtype=np.float64)


def write_palette_csv(path: Path, palette: np.ndarray = PALETTE) -> Path:
    """``palette`` as a code,name,hex CSV for ``--palette``."""
    path.write_text("code,name,hex\n" + "".join(
        f"C{i},color {i},#{''.join(f'{round(v * 255):02x}' for v in c)}\n"
        for i, c in enumerate(palette)))
    return path


def _byte_chars() -> list[str]:
    """GPT-2/CLIP byte→unicode table: the characters a byte-level BPE vocab is made of."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(
        range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for c in cs]


def tiny_tokenizer():
    from transformers import CLIPTokenizer

    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for ch in _byte_chars():
        vocab.setdefault(ch, len(vocab))
        vocab.setdefault(ch + "</w>", len(vocab))
    tok = CLIPTokenizer(vocab=vocab, merges=[])
    tok.model_max_length = MAX_TOKENS
    return tok


def tiny_text_encoder(projection: bool = False, vocab_size: int = 520):
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    torch.manual_seed(0 if not projection else 1)
    config = CLIPTextConfig(
        bos_token_id=0, eos_token_id=1, pad_token_id=1, hidden_size=TEXT_DIM,
        intermediate_size=37, layer_norm_eps=1e-5, num_attention_heads=4, num_hidden_layers=2,
        vocab_size=vocab_size, max_position_embeddings=MAX_TOKENS, projection_dim=TEXT_DIM,
        hidden_act="gelu")
    cls = CLIPTextModelWithProjection if projection else CLIPTextModel
    return cls(config).eval()


def tiny_unet(sdxl: bool):
    from diffusers import UNet2DConditionModel

    torch.manual_seed(2)
    extra = {}
    if sdxl:
        extra = dict(addition_embed_type="text_time", addition_time_embed_dim=8,
                     projection_class_embeddings_input_dim=6 * 8 + TEXT_DIM)
    return UNet2DConditionModel(
        block_out_channels=(16, 32), layers_per_block=1, sample_size=NATIVE // 8,
        in_channels=4, out_channels=4, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), attention_head_dim=(2, 4),
        use_linear_projection=sdxl, norm_num_groups=8,
        cross_attention_dim=2 * TEXT_DIM if sdxl else TEXT_DIM, **extra).eval()


def tiny_controlnet(unet):
    from diffusers import ControlNetModel

    torch.manual_seed(3)
    net = ControlNetModel.from_unet(unet, conditioning_embedding_out_channels=(4, 8, 8, 16),
                                    load_weights_from_unet=True)
    # Zero convolutions start at zero: give them weights so the control images matter.
    with torch.no_grad():
        for block in [*net.controlnet_down_blocks, net.controlnet_mid_block]:
            block.weight.normal_(0, 0.05)
    return net.eval()


def tiny_taesd():
    from diffusers import AutoencoderTiny

    torch.manual_seed(4)
    return AutoencoderTiny(
        in_channels=3, out_channels=3, encoder_block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8, 8), num_encoder_blocks=(1, 1, 1, 1),
        num_decoder_blocks=(1, 1, 1, 1), latent_channels=4).eval()


def tiny_vae_kl():
    from diffusers import AutoencoderKL

    torch.manual_seed(5)
    return AutoencoderKL(
        block_out_channels=(8, 8, 8, 8), in_channels=3, out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
        latent_channels=4, norm_num_groups=4, layers_per_block=1, sample_size=NATIVE).eval()


def tiny_scheduler():
    from diffusers import EulerDiscreteScheduler

    return EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012,
                                  beta_schedule="scaled_linear", steps_offset=1,
                                  timestep_spacing="leading")


def tiny_depth():
    from transformers import DPTConfig, DPTForDepthEstimation, DPTImageProcessor

    torch.manual_seed(6)
    config = DPTConfig(
        image_size=32, patch_size=8, num_channels=3, hidden_size=16, num_hidden_layers=4,
        backbone_out_indices=[0, 1, 2, 3], num_attention_heads=2, intermediate_size=32,
        neck_hidden_sizes=[8, 8, 16, 16], fusion_hidden_size=16, head_in_index=-1,
        is_hybrid=False)
    processor = DPTImageProcessor(size={"height": 32, "width": 32}, keep_aspect_ratio=False)
    return DPTForDepthEstimation(config).eval(), processor


def tiny_pipeline_parts(sdxl: bool) -> dict:
    parts = {
        "unet": tiny_unet(sdxl), "vae": tiny_vae_kl(), "scheduler": tiny_scheduler(),
        "text_encoder": tiny_text_encoder(False), "tokenizer": tiny_tokenizer(),
    }
    if sdxl:
        parts["text_encoder_2"] = tiny_text_encoder(True)
        parts["tokenizer_2"] = tiny_tokenizer()
    return parts


def save_pipeline(folder: Path, sdxl: bool) -> Path:
    from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline

    parts = tiny_pipeline_parts(sdxl)
    if sdxl:
        pipe = StableDiffusionXLPipeline(**parts)
    else:
        pipe = StableDiffusionPipeline(**parts, safety_checker=None, feature_extractor=None,
                                       requires_safety_checker=False)
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder


def save_tiny_models(root: Path) -> dict[str, Path]:
    """Write every tiny model under ``root``; returns name → folder."""
    root = Path(root)
    paths = {
        "sdxl": save_pipeline(root / "tiny-sdxl", sdxl=True),
        "sd15": save_pipeline(root / "tiny-sd15", sdxl=False),
    }
    tiny_taesd().save_pretrained(root / "tiny-taesd", safe_serialization=True)
    paths["taesd"] = root / "tiny-taesd"
    for family, sdxl in (("sdxl", True), ("sd15", False)):
        unet = tiny_unet(sdxl)
        for kind in ("canny", "depth"):
            path = root / f"tiny-controlnet-{kind}-{family}"
            tiny_controlnet(unet).save_pretrained(path, safe_serialization=True)
            paths[f"controlnet_{kind}_{family}"] = path
    model, processor = tiny_depth()
    model.save_pretrained(root / "tiny-dpt", safe_serialization=True)
    processor.save_pretrained(root / "tiny-dpt")
    paths["depth"] = root / "tiny-dpt"
    return paths


def tiny_settings(paths: dict[str, Path], family: str = "sdxl", **overrides):
    """SDSSettings pointing at the saved tiny models, small enough for a CPU test."""
    from craftpix.engines.sds.settings import SDSSettings

    values = dict(
        model=str(paths[family]), vae=str(paths["taesd"]),
        controlnet_canny=str(paths[f"controlnet_canny_{family}"]),
        controlnet_depth=str(paths[f"controlnet_depth_{family}"]),
        depth_model=str(paths["depth"]), device="cpu", dtype="fp32", resolution=32,
        optim={"warmup": 2},
        # SD-πXL's own start and schedule unless a test asks for a preset or a reference
        quality="paper", reference="none")
    values.update(overrides)
    return SDSSettings(**values)


# --- pytest fixture (import it into a test module to use it) ------------------------------------
_SAVED: dict[str, dict[str, Path]] = {}


def _tiny_paths_fixture():
    import pytest

    @pytest.fixture(scope="session")
    def tiny_paths(tmp_path_factory) -> dict[str, Path]:
        """The tiny models saved once per test session (shared by every module using it)."""
        key = str(tmp_path_factory.getbasetemp())
        if key not in _SAVED:
            _SAVED[key] = save_tiny_models(tmp_path_factory.mktemp("tiny-models"))
        return _SAVED[key]

    return tiny_paths


tiny_paths = _tiny_paths_fixture()


# --- LoRA (peft) ----------------------------------------------------------------------------------
LORA_UNET_TARGETS = ("to_q", "to_k", "to_v", "to_out.0")
LORA_TEXT_TARGETS = ("q_proj", "k_proj", "v_proj", "out_proj")


def _lora_layers(model, targets, seed: int, rank: int = 4) -> dict:
    """Add a random LoRA adapter to ``model`` (in place) and return its diffusers-format weights."""
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft import LoraConfig, get_peft_model_state_dict

    model.add_adapter(LoraConfig(r=rank, lora_alpha=rank, init_lora_weights=False,
                                 target_modules=list(targets)))
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_" in name:  # lora_B starts at zero in peft: give both factors weights
                param.copy_(torch.randn(param.shape, generator=gen) * 0.2)
    return convert_state_dict_to_diffusers(get_peft_model_state_dict(model))


def save_tiny_lora(folder: Path, sdxl: bool, *, text_encoders: bool = False,
                   weight_name: str | None = None) -> Path:
    """A random LoRA for the tiny UNet of one family (and its text encoders), in diffusers format.

    Written with the pipeline class's ``save_lora_weights`` (safetensors) into ``folder``;
    returns the weight file's path (``pytorch_lora_weights.safetensors`` unless ``weight_name``).
    """
    from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline

    layers = {"unet_lora_layers": _lora_layers(tiny_unet(sdxl), LORA_UNET_TARGETS, seed=11)}
    if text_encoders:
        layers["text_encoder_lora_layers"] = _lora_layers(
            tiny_text_encoder(False), LORA_TEXT_TARGETS, seed=12)
        if sdxl:
            layers["text_encoder_2_lora_layers"] = _lora_layers(
                tiny_text_encoder(True), LORA_TEXT_TARGETS, seed=13)
    cls = StableDiffusionXLPipeline if sdxl else StableDiffusionPipeline
    name = weight_name or "pytorch_lora_weights.safetensors"
    cls.save_lora_weights(folder, weight_name=name, safe_serialization=True, **layers)
    return Path(folder) / name
