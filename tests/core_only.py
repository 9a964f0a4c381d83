"""The light core on its own: run a photo → pattern job and list heavy modules it imported.

Run by ``make check-core`` in a fresh virtual environment that has only the core installed
(``requirements/core.txt``), and by ``tests/test_install.py`` in the full one::

    python tests/core_only.py IMAGE

Exits 1 (naming the modules) if torch, diffusers, transformers, peft or kornia were imported, or if
the run failed; prints ``core ok`` otherwise.
"""

from __future__ import annotations

import sys
import tempfile

HEAVY = ("torch", "diffusers", "transformers", "peft", "accelerate", "kornia")


def main(image: str) -> int:
    from craftpix.cli import main as cli

    with tempfile.TemporaryDirectory() as out:
        try:
            cli(["beads", "--image", image, "--size", "24", "--colors", "6", "--out", out,
                 "--quiet"], standalone_mode=False)
        except SystemExit as exc:
            if exc.code not in (0, None):
                print(f"craftpix exited with {exc.code}", file=sys.stderr)
                return 1
    heavy = sorted(m for m in HEAVY if m in sys.modules)
    if heavy:
        print(f"the photo path imported {', '.join(heavy)}", file=sys.stderr)
        return 1
    print("core ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
