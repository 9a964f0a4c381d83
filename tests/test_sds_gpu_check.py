"""The CPU-runnable parts of bench/gpu_check.py, on the tiny models (the GPU run is separate)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load():
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "bench" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("gpu_check", module)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_gpu_check_sections_run_on_the_cpu_and_write_one_json(tmp_path) -> None:
    out = tmp_path / "check.json"
    code = _load().main(["--tiny", "--device", "cpu", "--steps", "2",
                         "--sections", "end_to_end,precision", "--out", str(out)])
    report = json.loads(out.read_text())
    assert code == 0, report
    assert report["end_to_end"]["ok"] and report["end_to_end"]["steps"] == 2
    assert report["precision"]["bf16"]["cosine_min"] > 0.9
    assert set(report["section_seconds"]) == {"end_to_end", "precision"}


def test_gpu_check_without_cuda_says_how_to_test_it(tmp_path, capsys) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    assert _load().main(["--out", str(tmp_path / "x.json")]) == 2
    assert "--tiny --device cpu" in capsys.readouterr().err


@pytest.mark.slow
def test_gpu_check_times_every_preset_on_the_cpu(tmp_path) -> None:
    out = tmp_path / "presets.json"
    code = _load().main(["--tiny", "--device", "cpu", "--sections", "presets",
                         "--out", str(out)])
    report = json.loads(out.read_text())
    assert code == 0, report
    presets = report["presets"]
    assert presets["draft"]["steps"] == 0 and presets["draft_4_steps"]["reference_steps"] == 4
    assert presets["fine"]["steps"] == 3 and presets["paper"]["steps"] == 2
    for name in ("draft", "fine", "paper"):
        assert {"models", "candidates", "ranking"} <= set(presets[name]["stage_seconds"])
    assert presets["fine"]["stage_seconds"]["sds"] > 0
    assert presets["paper_estimate"]["steps"] == 6000 and presets["paper_estimate"]["seconds"] > 0
