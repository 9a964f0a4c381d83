"""The engine's CLI options and the settings they produce."""

from __future__ import annotations

from pathlib import Path

import click
from click.testing import CliRunner

from craftpix.engines.sds.cli_options import OPTION_KEYS, sds_options, sds_settings
from craftpix.engines.sds.settings import SDSSettings
from craftpix.models.ids import SDXL_BASE


def _command(seen: dict):
    @click.command()
    @click.option("--size")
    @sds_options
    def cmd(**kwargs):
        settings = sds_settings(kwargs)
        seen["settings"], seen["rest"] = settings, kwargs

    return cmd


def test_defaults_are_the_papers() -> None:
    seen: dict = {}
    result = CliRunner().invoke(_command(seen), ["--size", "8"])
    assert result.exit_code == 0, result.output
    s = seen["settings"]
    assert s == SDSSettings()
    assert s.model == SDXL_BASE and s.vae == "tiny" and s.guidance_scale == 40.0
    assert s.canny_weight == 0.15 and s.depth_weight == 0.15
    assert seen["rest"] == {"size": "8"}  # only the engine's keys were popped


def test_every_option_parsed(tmp_path) -> None:
    seen: dict = {}
    args = ["--model", "sd15", "--vae", "full", "--controlnet-canny", "a/b",
            "--controlnet-depth", "c/d", "--depth-model", "e/f", "--canny-weight", "0",
            "--depth-weight", "0.3", "--negative-prompt", "blurry", "--guidance-scale", "7.5",
            "--lora", "g/h", "--lora-scale", "0.8", "--template", str(tmp_path / "t.toml"),
            "--raw-prompt", "--device", "cpu", "--dtype", "bf16", "--offload",
            "--attention-slicing", "--preview-every", "50", "--checkpoint-every", "100",
            "--resume", str(tmp_path)]
    result = CliRunner().invoke(_command(seen), args)
    assert result.exit_code == 0, result.output
    s = seen["settings"]
    assert (s.model, s.vae, s.controlnet_canny, s.controlnet_depth, s.depth_model) == (
        "sd15", "full", "a/b", "c/d", "e/f")
    assert (s.canny_weight, s.depth_weight, s.guidance_scale) == (0.0, 0.3, 7.5)
    assert (s.negative_prompt, s.lora, s.lora_scale) == ("blurry", "g/h", 0.8)
    assert s.template == tmp_path / "t.toml" and s.resume == Path(tmp_path)
    assert s.raw_prompt and s.offload and s.attention_slicing
    assert (s.device, s.dtype, s.preview_every, s.checkpoint_every) == ("cpu", "bf16", 50, 100)
    assert seen["rest"] == {"size": None}


def test_keyword_form_and_option_names() -> None:
    s = sds_settings(model="x/y", guidance_scale=None, unrelated=1)
    assert s.model == "x/y" and s.guidance_scale == 40.0
    cmd = _command({})
    names = {p.name for p in cmd.params} - {"size"}
    assert names == set(OPTION_KEYS)


def test_bad_values_are_usage_errors() -> None:
    runner = CliRunner()
    assert runner.invoke(_command({}), ["--canny-weight", "-1"]).exit_code == 2
    assert runner.invoke(_command({}), ["--dtype", "fp8"]).exit_code == 2
    assert runner.invoke(_command({}), ["--device", "tpu"]).exit_code == 2
