"""--quality presets and reference first, end to end on tiny random-weight models (CPU)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from craftpix.engines.sds.settings import QUALITY, SDSConfig, SDSSettings
from craftpix.engines.sds.stages import StageProgress, format_eta, stage_weights
from craftpix.errors import InputError, ModelNotAvailable

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

try:
    from tiny_models import (  # noqa: F401  (fixture)
        PALETTE,
        save_tiny_lora,
        tiny_paths,
        tiny_settings,
        write_palette_csv,
    )
except ImportError:  # tests/ imported as a package
    from tests.tiny_models import (  # noqa: F401
        PALETTE,
        save_tiny_lora,
        tiny_paths,
        tiny_settings,
        write_palette_csv,
    )


def _settings(paths, family: str = "sdxl", **kw) -> SDSSettings:
    """Tiny models, reference first, 2 candidates of 2 denoising steps."""
    values = dict(quality="fine", reference="auto", candidates=2, reference_steps=2)
    values.update(kw)
    return tiny_settings(paths, family, **values)


def _run(settings: SDSSettings, out: Path, *, steps: int | None = None, **kw):
    from craftpix.engines.sds.run import run_sds

    args = dict(prompt="a red rose", image=None, reference_rgb=None, palette_rgb=PALETTE,
                height=8, width=8, colors=4, medium="beads", steps=steps, seed=0,
                smooth=20.0, out_dir=out, quiet=True)
    args.update(kw)
    return run_sds(settings, **args)


class KnownScorer:
    """Prefers the candidate at ``best`` (0-based, generation order); records what it saw."""

    name = "known"

    def __init__(self, best: int) -> None:
        self.best, self.seen = best, []

    def __call__(self, images, prompt):
        self.seen = [im.copy() for im in images]
        return [10.0 if i == self.best else float(-i) for i in range(len(images))]


# --- presets --------------------------------------------------------------------------------------
def test_presets_table_and_steps_override() -> None:
    assert QUALITY["draft"].steps == 0
    assert 0 < QUALITY["fine"].steps < QUALITY["paper"].steps == 6000
    paper = SDSSettings(quality="paper")
    d = SDSConfig()  # the paper preset is today's full schedule, unchanged
    assert (paper.objective_for().t_max_start, paper.objective_for().t_max_end) == (
        d.t_max_start, d.t_max_end)
    assert paper.optim_for() == {"warmup": 250}
    fine = SDSSettings(quality="fine")
    assert fine.objective_for().t_max_start < d.t_max_start
    assert fine.steps_for(None) == QUALITY["fine"].steps and fine.steps_for(7) == 7
    assert SDSSettings(quality="draft").steps_for(None) == 0
    custom = SDSSettings(quality="fine", objective=SDSConfig(t_max_start=0.9))
    assert custom.objective_for().t_max_start == 0.9  # code's own schedule is kept
    with pytest.raises(ValueError, match="draft, fine, paper"):
        SDSSettings(quality="best").steps_for(None)


def test_cli_options_parse_to_settings() -> None:
    import click

    from craftpix.engines.sds.cli_options import sds_options, sds_settings

    seen = {}

    @click.command()
    @sds_options
    def cmd(**kw):
        seen["s"] = sds_settings(kw)

    runner = CliRunner()
    assert runner.invoke(cmd, []).exit_code == 0
    s = seen["s"]
    assert (s.quality, s.reference, s.candidates, s.reference_lora, s.low_memory) == (
        "fine", "auto", None, None, False)
    args = ["--quality", "draft", "--reference", "none", "--candidates", "3",
            "--reference-steps", "5", "--reference-lora", "fast", "--reference-scorer",
            "openai/clip-vit-base-patch32", "--low-memory"]
    assert runner.invoke(cmd, args).exit_code == 0
    s = seen["s"]
    assert (s.quality, s.reference, s.candidates, s.reference_steps, s.reference_lora,
            s.reference_scorer, s.low_memory) == (
        "draft", "none", 3, 5, "fast", "openai/clip-vit-base-patch32", True)
    assert runner.invoke(cmd, ["--quality", "best"]).exit_code == 2


# --- progress -------------------------------------------------------------------------------------
def test_stage_progress_reports_time_left() -> None:
    now = [0.0]
    got = []
    p = StageProgress(lambda label, f: got.append((label, f)),
                      stage_weights(candidates=4, candidate_steps=20, steps=100),
                      clock=lambda: now[0])
    p.start("models")
    p.finish()
    p.start("candidates", 4)
    for k in range(1, 5):
        now[0] += 3.0
        p.advance(k)
    p.finish()
    labels = [label for label, _ in got]
    assert "reference candidates 1/4, about 0:09 left" in labels  # 3 s each, 3 to go
    assert "reference candidates 3/4, about 0:03 left" in labels
    fractions = [f for _, f in got]
    assert fractions == sorted(fractions) and 0 <= fractions[0] and fractions[-1] <= 1
    assert format_eta(3725) == "1:02:05" and format_eta(None) == ""


# --- ranking --------------------------------------------------------------------------------------
def test_rank_puts_the_known_best_first() -> None:
    from craftpix.engines.sds.reference import Candidate, rank

    cands = [Candidate(Image.new("RGB", (4, 4), (i * 40, 0, 0)), seed=i) for i in range(4)]
    ranked = rank(cands, KnownScorer(best=2), "rose")
    assert [c.seed for c in ranked] == [2, 0, 1, 3]
    assert ranked[0].score == 10.0

    class Bad:
        name = "bad"

        def __call__(self, images, prompt):
            return [float("nan")] * len(images)

    with pytest.raises(InputError, match="non-finite"):
        rank(cands, Bad(), "rose")


def test_run_starts_from_the_candidate_the_scorer_prefers(tiny_paths, tmp_path,
                                                          monkeypatch) -> None:
    """draft: the reference is the scorer's choice, and the pattern is its photo-engine
    pattern; no SDS step runs."""
    from craftpix.engines.sds import optimize, reference
    from craftpix.engines.sds.run import photo_pattern

    scorer = KnownScorer(best=1)
    monkeypatch.setattr(reference, "DiffusionScorer", lambda *a, **k: scorer)

    def no_sds(*a, **k):
        raise AssertionError("draft must not run a score-distillation step")

    monkeypatch.setattr(optimize, "optimize", no_sds)
    monkeypatch.setattr("craftpix.engines.sds.objective.SDSObjective.loss", no_sds)
    result = _run(_settings(tiny_paths, quality="draft", candidates=3), tmp_path)
    assert result.steps == 0 and result.history == []
    assert len(scorer.seen) == 3
    assert np.array_equal(np.asarray(result.reference), np.asarray(scorer.seen[1]))
    assert result.reference_meta["seed"] == 1 and result.reference_meta["candidates"] == 3
    expected = photo_pattern(result.reference, PALETTE, 8, 8, colors=4, smooth=1.0, seed=0,
                             medium="beads")
    assert np.array_equal(result.indices, expected)
    assert len(np.unique(result.indices)) <= 4


def test_diffusion_score_is_deterministic_and_finite(tiny_paths) -> None:
    from craftpix.engines.sds.conditioning import Canvas
    from craftpix.engines.sds.networks import encode_prompt_pair
    from craftpix.engines.sds.reference import DiffusionScorer
    from craftpix.models.loading import load_components

    comps = load_components(tiny_settings(tiny_paths, "sd15"), controls=())
    canvas = Canvas.full(32, 32)
    cond = encode_prompt_pair(comps, "a red rose", "", torch.device("cpu"), canvas.size)
    scorer = DiffusionScorer(comps, cond, canvas, torch.device("cpu"), torch.float32)
    images = [Image.new("RGB", (32, 32), c) for c in ((200, 30, 30), (20, 20, 200))]
    a, b = scorer(images, "a red rose"), scorer(images, "a red rose")
    assert a == b and np.isfinite(a).all() and a[0] != a[1]


# --- fine: ControlNets on the reference -----------------------------------------------------------
def test_prompt_only_fine_conditions_controlnets_on_the_reference(tiny_paths, tmp_path,
                                                                 monkeypatch) -> None:
    from diffusers import ControlNetModel

    from craftpix.engines.sds import networks
    from craftpix.engines.sds.conditioning import canny_image

    seen = {}

    real = networks.control_inputs

    def spy(comps, image, canvas, settings, device):
        seen["image"], seen["canvas"] = image.copy(), canvas
        seen["out"] = real(comps, image, canvas, settings, device)
        return seen["out"]

    monkeypatch.setattr(networks, "control_inputs", spy)
    calls = []
    forward = ControlNetModel.forward
    monkeypatch.setattr(ControlNetModel, "forward",
                        lambda m, *a, **k: calls.append(1) or forward(m, *a, **k))
    result = _run(_settings(tiny_paths), tmp_path, steps=2)
    assert result.steps == 2 and result.reference is not None
    # the control image derives from the chosen reference: the same pixels went in ...
    assert np.array_equal(np.asarray(seen["image"]), np.asarray(result.reference))
    # ... and the canny control tensor is the reference's edges on the canvas
    canny = next(c for c in seen["out"] if c.name == "canny")
    assert torch.equal(canny.image, canny_image(result.reference, seen["canvas"]))
    assert len(calls) == 2 * 2  # canny + depth, every step
    assert (tmp_path / "sds-run.json").is_file()
    run = json.loads((tmp_path / "sds-run.json").read_text())
    assert run["reference_first"]["candidates"] == 2 and run["steps"] == 2


def test_random_start_keeps_no_controlnet(tiny_paths, tmp_path, monkeypatch) -> None:
    from diffusers import ControlNetModel

    calls = []
    forward = ControlNetModel.forward
    monkeypatch.setattr(ControlNetModel, "forward",
                        lambda m, *a, **k: calls.append(1) or forward(m, *a, **k))
    result = _run(_settings(tiny_paths, reference="none"), tmp_path, steps=2)
    assert result.reference is None and calls == []
    with pytest.raises(InputError, match="--reference none"):
        _run(_settings(tiny_paths, reference="none", quality="draft"), tmp_path)


# --- the few-step LoRA ----------------------------------------------------------------------------
def test_reference_lora_loads_through_diffusers_and_leaves_the_base_model(
        tiny_paths, tmp_path, monkeypatch) -> None:
    from peft.tuners.tuners_utils import BaseTunerLayer

    from craftpix.engines.sds import reference
    from craftpix.models.loading import load_components

    lora = save_tiny_lora(tmp_path / "lora", sdxl=True)
    settings = _settings(tiny_paths, quality="draft", reference_lora=str(lora))
    comps = load_components(settings, controls=())
    before = {k: v.clone() for k, v in comps.unet.state_dict().items()}
    layers = []
    real = reference.generate_candidates

    def spy(comps_, *a, **k):
        layers.append(sum(isinstance(m, BaseTunerLayer) for m in comps_.unet.modules()))
        assert k["fast"] and k["steps"] == 2
        return real(comps_, *a, **k)

    monkeypatch.setattr(reference, "generate_candidates", spy)
    result = _run(settings, tmp_path / "out", components=comps)
    assert layers and layers[0] > 0  # the LoRA was in the UNet while the candidates ran
    assert not any(isinstance(m, BaseTunerLayer) for m in comps.unet.modules())
    after = comps.unet.state_dict()
    assert set(after) == set(before)
    assert all(torch.equal(before[k], after[k]) for k in before)  # base weights, unchanged
    assert result.reference_meta["lora"] == str(lora)

    bad = _settings(tiny_paths, quality="draft",
                    reference_lora=str(tiny_paths["sdxl"] / "unet"
                                       / "diffusion_pytorch_model.safetensors"))
    with pytest.raises(InputError, match="not a LoRA|no layers") as err:
        _run(bad, tmp_path / "bad", components=comps)
    assert "\n" not in str(err.value)


# --- low memory -----------------------------------------------------------------------------------
def test_low_memory_plan_from_model_sizes(tiny_paths) -> None:
    from craftpix.engines.sds.networks import (
        low_memory_settings,
        needs_sequential,
        param_bytes,
    )
    from craftpix.models.loading import load_components

    comps = load_components(tiny_settings(tiny_paths, "sd15"), controls=())
    unet = param_bytes(comps.unet, torch.float16)
    assert unet == 2 * sum(p.numel() for p in comps.unet.parameters()) + 2 * sum(
        b.numel() for b in comps.unet.buffers())
    gib = 2**30
    assert not needs_sequential(comps, 3 * gib, torch.float16)  # 2 GiB workspace + weights
    assert needs_sequential(comps, gib, torch.float16)
    s = tiny_settings(tiny_paths, "sd15", low_memory=True)
    assert low_memory_settings(s, comps, torch.device("cpu")) is s  # nothing to do on a CPU


# --- missing models, stage by stage: one line, exit 2 ---------------------------------------------
def _offline(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HUGGINGFACE_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def test_missing_models_per_stage_are_one_line(tiny_paths, tmp_path, monkeypatch) -> None:
    _offline(monkeypatch, tmp_path)
    # models (fine, reference first): the ControlNets and depth estimator are needed too
    with pytest.raises(ModelNotAvailable) as err:
        _run(SDSSettings(device="cpu"), tmp_path / "a", steps=2)
    msg = str(err.value)
    assert "\n" not in msg and "controlnet-canny-sdxl" in msg and "dpt-hybrid" in msg
    # draft: no ControlNet at all
    with pytest.raises(ModelNotAvailable) as err:
        _run(SDSSettings(device="cpu", quality="draft"), tmp_path / "b")
    assert "controlnet" not in str(err.value).lower()
    # the few-step LoRA
    with pytest.raises(ModelNotAvailable) as err:
        _run(_settings(tiny_paths, reference_lora="fast"), tmp_path / "c", steps=2)
    msg = str(err.value)
    assert "\n" not in msg and "latent-consistency/lcm-lora-sdxl" in msg
    assert "craftpix models pull --sdxl --fast-reference" in msg
    # the CLIP scorer
    with pytest.raises(ModelNotAvailable) as err:
        _run(_settings(tiny_paths, reference_scorer="openai/clip-vit-base-patch32"),
             tmp_path / "d", steps=2)
    assert "\n" not in str(err.value) and "openai/clip-vit-base-patch32" in str(err.value)


# --- the README's prompt command, each preset -----------------------------------------------------
def _cli_args(paths, palette: Path, out: Path, *extra: str) -> list[str]:
    return ["beads", "--prompt", "rose", "--size", "12", "--model", str(paths["sdxl"]),
            "--vae", str(paths["taesd"]),
            "--controlnet-canny", str(paths["controlnet_canny_sdxl"]),
            "--controlnet-depth", str(paths["controlnet_depth_sdxl"]),
            "--depth-model", str(paths["depth"]), "--device", "cpu", "--dtype", "fp32",
            "--palette", str(palette), "--candidates", "2", "--reference-steps", "2",
            "--no-pdf", "--out", str(out), *extra]


@pytest.mark.parametrize("quality, steps", [("draft", 0), ("fine", 2), ("paper", 2)])
def test_readme_prompt_command_in_each_preset(tiny_paths, tmp_path, quality, steps) -> None:
    from craftpix.cli import main
    from craftpix.pattern import Pattern

    palette = write_palette_csv(tmp_path / "pal.csv")
    out = tmp_path / quality
    extra = ["--quality", quality] + (["--steps", str(steps)] if quality != "draft" else [])
    res = CliRunner().invoke(main, _cli_args(tiny_paths, palette, out, *extra),
                             catch_exceptions=False)
    assert res.exit_code == 0, (res.output, res.exception)
    pattern = Pattern.load(out / "pattern.json")
    assert pattern.meta["quality"] == quality and pattern.meta["steps"] == steps
    assert pattern.meta["reference"]["candidates"] == 2
    with Image.open(out / "reference.png") as im:  # published with the pattern
        assert im.mode == "RGB" and im.size[0] == im.size[1]
    assert "reference candidates 2/2" in res.output  # progress, stage by stage
    manifest = json.loads((out / ".craftpix-manifest.json").read_text())
    assert "reference.png" in manifest["files"]  # one unit with the pattern's files
    assert (out / "sds-run.json").is_file() == bool(steps)  # draft: no SDS run at all


def test_api_progress_names_every_stage(tiny_paths, tmp_path) -> None:
    from craftpix.api import PatternRequest, make_pattern

    palette = write_palette_csv(tmp_path / "pal.csv")
    got = []
    make_pattern(PatternRequest(medium="beads", prompt="rose", size=(8, 8), palette=palette,
                                steps=2, sds=_settings(tiny_paths), out=tmp_path / "o"),
                 on_progress=lambda s, f: got.append((s, f)))
    labels = [s for s, _ in got]
    for stage in ("checking models", "reference candidates 1/2", "ranking candidates",
                  "score distillation 2/2"):
        assert any(label.startswith(stage) for label in labels), labels
    assert any("left" in label for label in labels)
    fractions = [f for _, f in got]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


def test_missing_fast_lora_on_the_command_line_is_one_line(tiny_paths, tmp_path,
                                                           monkeypatch) -> None:
    from craftpix.cli import main

    _offline(monkeypatch, tmp_path)
    palette = write_palette_csv(tmp_path / "pal.csv")
    res = CliRunner().invoke(main, _cli_args(tiny_paths, palette, tmp_path / "o",
                                             "--reference-lora", "fast", "--quiet"))
    assert res.exit_code == 2
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "--fast-reference" in lines[0], res.output


# --- the CLIP scorer and `models pull --fast-reference` -------------------------------------------
def _tiny_clip(folder: Path) -> Path:
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor

    try:
        from tiny_models import tiny_tokenizer
    except ImportError:  # tests/ imported as a package
        from tests.tiny_models import tiny_tokenizer
    text = dict(vocab_size=520, hidden_size=32, intermediate_size=37, num_attention_heads=4,
                num_hidden_layers=2, max_position_embeddings=77, bos_token_id=0,
                eos_token_id=1, pad_token_id=1)
    vision = dict(image_size=32, patch_size=8, hidden_size=32, intermediate_size=37,
                  num_attention_heads=4, num_hidden_layers=2)
    torch.manual_seed(7)
    CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=16)).eval() \
        .save_pretrained(folder, safe_serialization=True)
    processor = CLIPProcessor(
        image_processor=CLIPImageProcessor(size={"shortest_edge": 32},
                                           crop_size={"height": 32, "width": 32}),
        tokenizer=tiny_tokenizer())
    processor.save_pretrained(folder)
    processor.image_processor.save_pretrained(folder)  # preprocessor_config.json, as on the Hub
    return folder


def test_clip_scorer_is_100_times_the_cosine(tiny_paths, tmp_path) -> None:
    from transformers import CLIPModel, CLIPProcessor

    from craftpix.engines.sds.reference import ClipScorer

    folder = _tiny_clip(tmp_path / "clip")
    images = [Image.new("RGB", (32, 32), c) for c in ((220, 20, 20), (20, 20, 220))]
    scores = ClipScorer(folder, torch.device("cpu"))(images, "a red rose")
    model, proc = CLIPModel.from_pretrained(folder), CLIPProcessor.from_pretrained(folder)
    with torch.no_grad():
        img = model.get_image_features(**proc(images=images, return_tensors="pt"))
        txt = model.get_text_features(**proc(text=["a red rose"], return_tensors="pt",
                                             padding="max_length"))
    if not isinstance(img, torch.Tensor):  # newer transformers return an output object
        img, txt = img.pooler_output, txt.pooler_output
    want = 100 * torch.nn.functional.cosine_similarity(img, txt.expand_as(img))
    assert np.allclose(scores, want.numpy(), atol=1e-4)
    # and a run ranks with it, loaded from the folder it was given
    result = _run(_settings(tiny_paths, quality="draft", reference_scorer=str(folder)),
                  tmp_path / "run")
    assert result.reference_meta["scorer"] == "clip"


def test_models_pull_fetches_the_fast_lora(tmp_path, monkeypatch) -> None:
    import huggingface_hub
    from huggingface_hub import HfApi

    from craftpix.models import cli as models_cli

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr("craftpix.models.hub.hub_unreachable", lambda: None)  # no network here
    monkeypatch.setattr("craftpix.models.cli.hub_offline", lambda: False)
    monkeypatch.setattr("craftpix.models.lora.hub_offline", lambda: False)
    fetched = []
    monkeypatch.setattr(models_cli, "download",
                        lambda ref, **k: fetched.append(ref.name) or tmp_path)
    monkeypatch.setattr(HfApi, "list_repo_files",
                        lambda self, repo, **k: ["README.md", "pytorch_lora_weights.safetensors"])
    weights = tmp_path / "pytorch_lora_weights.safetensors"
    weights.write_bytes(b"")

    def hf_download(repo, name, **kw):
        fetched.append(f"{repo}/{name}")
        return str(weights)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", hf_download)
    res = CliRunner().invoke(models_cli.models_group,
                             ["pull", "--sd15", "--no-controlnet", "--fast-reference"])
    assert res.exit_code == 0, (res.output, res.exception)
    assert "latent-consistency/lcm-lora-sdv1-5/pytorch_lora_weights.safetensors" in fetched
    assert "stable-diffusion-v1-5/stable-diffusion-v1-5" in fetched


def test_one_candidate_is_not_ranked(tiny_paths, tmp_path, monkeypatch) -> None:
    from craftpix.engines.sds import reference

    def no_scorer(*a, **k):
        raise AssertionError("one candidate needs no ranking")

    monkeypatch.setattr(reference, "DiffusionScorer", no_scorer)
    result = _run(_settings(tiny_paths, quality="draft", candidates=1), tmp_path)
    assert result.reference_meta["scorer"] is None and result.reference_meta["seed"] == 0


def test_draft_with_a_photo_is_the_photo_engine_without_any_model(tmp_path) -> None:
    from craftpix.engines.sds.run import photo_pattern, run_sds

    rng = np.random.default_rng(0)
    arr = np.zeros((48, 48, 3), dtype=np.uint8)
    arr[8:40, 12:36] = (200, 40, 40)
    arr += rng.integers(0, 20, arr.shape, dtype=np.uint8)
    image = Image.fromarray(arr)
    ref = np.asarray(image.resize((8, 8), Image.Resampling.BOX), dtype=np.float64) / 255
    settings = SDSSettings(model=str(tmp_path / "no-such-model"), quality="draft")
    result = run_sds(settings, prompt="a red rose", image=image, reference_rgb=ref,
                     palette_rgb=PALETTE, height=8, width=8, colors=None, medium="beads",
                     steps=None, seed=0, smooth=20.0, out_dir=tmp_path / "o", quiet=True)
    assert result.steps == 0 and result.reference is None
    want = photo_pattern(image, PALETTE, 8, 8, colors=None, smooth=1.0, seed=0,
                         medium="beads")
    assert np.array_equal(result.indices, want)
    assert not (tmp_path / "o").exists()  # no run folder, no model looked for
