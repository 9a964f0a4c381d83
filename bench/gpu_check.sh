#!/usr/bin/env bash
# One-shot GPU check of the SDS engine (< 8 min on one H100/H200): writes one JSON file.
# Usage: bench/gpu_check.sh [OUT.json]   (default: gpu_check.json)
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
[ -x "$PY" ] || PY=python3
exec timeout 470 "$PY" bench/gpu_check.py --out "${1:-gpu_check.json}"
