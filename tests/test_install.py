"""The photo path stays light even where the diffusion extra is installed.

``tests/core_only.py`` makes a bead pattern from a photo and fails if torch, diffusers,
transformers, peft or accelerate were imported. ``make check-core`` runs it in a venv with the
core alone; here it runs in a fresh interpreter of the full environment, where those packages
are importable, so an import that slipped onto the photo path shows up.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_photo_path_imports_no_diffusion_stack(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "core_only.py"), str(ROOT / "examples" / "astronaut.jpg")],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "core ok" in proc.stdout
