"""Before any weight or heavy library: the diffusion stack, the models and their schedule."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from craftpix.engines.sds import INSTALL_HINT, DiffusionNotInstalled, require_diffusion
from craftpix.errors import CraftpixError, InputError
from craftpix.models.loading import check_noise_schedule, locate_components

try:
    from tiny_models import tiny_paths, tiny_settings  # noqa: F401  (fixture)
except ImportError:  # tests/ imported as a package
    from tests.tiny_models import tiny_paths, tiny_settings  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent


def _hide(monkeypatch, *names: str) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a, **k: None if name in names else real(name, *a, **k))


def test_require_diffusion_names_the_extra(monkeypatch) -> None:
    require_diffusion()  # the test environment has the extra
    _hide(monkeypatch, "diffusers", "torch")
    with pytest.raises(DiffusionNotInstalled) as err:
        require_diffusion()
    assert isinstance(err.value, CraftpixError)
    msg = str(err.value)
    assert "\n" not in msg and msg.endswith(INSTALL_HINT) and "torch" in msg and "diffusers" in msg
    assert INSTALL_HINT == 'pip install ".[diffusion]"'


def test_prompt_run_without_the_extra_is_one_line(tmp_path, monkeypatch) -> None:
    from craftpix.cli import main

    _hide(monkeypatch, "diffusers")
    res = CliRunner().invoke(main, ["beads", "--prompt", "rose", "--size", "8",
                                    "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].endswith(INSTALL_HINT), res.output


def test_missing_model_is_reported_before_torch_is_imported(tmp_path) -> None:
    """Offline without weights: one line, exit 2, and torch/diffusers were never imported."""
    code = (
        "import sys\n"
        "from craftpix.cli import main\n"
        "try:\n"
        "    main(['beads', '--prompt', 'rose', '--size', '8', '--out', sys.argv[1]])\n"
        "except SystemExit as e:\n"
        "    code = e.code\n"
        "print('HEAVY=' + ','.join(m for m in ('torch', 'diffusers', 'transformers')"
        " if m in sys.modules))\n"
        "print('EXIT=' + str(code))\n")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"),
           "PYTHONPATH": str(ROOT)}
    env.pop("HF_HUB_CACHE", None)
    env.pop("HUGGINGFACE_HUB_CACHE", None)
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "o")], env=env,
                          capture_output=True, text=True, timeout=120)
    out = proc.stdout.splitlines()
    assert "HEAVY=" in out and "EXIT=2" in out, proc.stdout + proc.stderr
    err = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(err) == 1 and "stabilityai/stable-diffusion-xl-base-1.0" in err[0], proc.stderr
    assert "craftpix models pull --sdxl" in err[0]


@pytest.mark.parametrize("config, match", [
    ({"_class_name": "EDMDPMSolverMultistepScheduler", "sigma_data": 0.5}, "EDMDPMSolver"),
    ({"_class_name": "FlowMatchEulerDiscreteScheduler"}, "FlowMatch"),
    ({"_class_name": "EulerDiscreteScheduler", "prediction_type": "sample"}, "'sample'"),
    ({"_class_name": "DDPMScheduler", "beta_schedule": "sigmoid"}, "beta schedule"),
    ({"_class_name": "EulerDiscreteScheduler", "timestep_type": "continuous"}, "continuous"),
])
def test_schedules_sds_cannot_use_are_refused(config, match) -> None:
    with pytest.raises(InputError, match=match) as err:
        check_noise_schedule(config, "someone/model")
    assert "someone/model" in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("config", [
    {"_class_name": "EulerDiscreteScheduler", "beta_schedule": "scaled_linear",
     "prediction_type": "epsilon"},
    {"_class_name": "DDIMScheduler", "prediction_type": "v_prediction"},
    {"_class_name": "PNDMScheduler"},
    {"_class_name": "DDPMScheduler", "beta_schedule": "custom", "trained_betas": [0.1, 0.2]},
])
def test_ddpm_family_schedules_pass(config) -> None:
    check_noise_schedule(config, "someone/model")


def test_an_edm_model_folder_is_refused_before_loading(tiny_paths, tmp_path) -> None:
    folder = tmp_path / "edm"
    shutil.copytree(tiny_paths["sdxl"], folder)
    cfg_path = folder / "scheduler" / "scheduler_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg.update(_class_name="EDMEulerScheduler", sigma_data=0.5)
    cfg_path.write_text(json.dumps(cfg))
    settings = tiny_settings(tiny_paths, "sdxl", model=str(folder))
    with pytest.raises(InputError, match=f"{folder}.*EDMEulerScheduler"):
        locate_components(settings, controls=())


def test_locating_imports_no_heavy_library(tiny_paths) -> None:
    """locate_components on the tiny models, in a fresh interpreter: no torch afterwards."""
    settings_code = (
        "import sys, json\n"
        "from craftpix.engines.sds.settings import SDSSettings\n"
        "from craftpix.models.loading import locate_components\n"
        "p = json.loads(sys.argv[1])\n"
        "loc = locate_components(SDSSettings(model=p['sd15'], vae=p['taesd'],"
        " controlnet_canny=p['controlnet_canny_sd15'], controlnet_depth=p['controlnet_depth_sd15'],"
        " depth_model=p['depth'], device='cpu', dtype='fp32'))\n"
        "print(loc.family, sorted(loc.controlnets), loc.depth is not None)\n"
        "print(sorted(m for m in ('torch', 'diffusers', 'transformers') if m in sys.modules))\n")
    paths = json.dumps({k: str(v) for k, v in tiny_paths.items()})
    proc = subprocess.run([sys.executable, "-c", settings_code, paths],
                          env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["sd15 ['canny', 'depth'] True", "[]"]
