#!/usr/bin/env bash
# The prepared GPU report (issue 12): run on a lent H100/H200 from the repository root.
#   bash scripts/gpu_report.sh [OUT_DIR] [extra args for scripts/gpu_report.py, e.g. --smoke]
# Writes OUT_DIR/gpu_report.json, OUT_DIR/gpu_report.md and one log per section (default OUT_DIR: ${OUT:-.}/gpu_report).
# Sections have their own limits inside a 570 s budget; the outer `timeout` is only a last resort.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT_DIR="${1:-${OUT:-.}/gpu_report}"
shift || true
PYTHON="${PYTHON:-python}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
exec timeout --signal=TERM --kill-after=10 595 "$PYTHON" scripts/gpu_report.py --out-dir "$OUT_DIR" "$@"
